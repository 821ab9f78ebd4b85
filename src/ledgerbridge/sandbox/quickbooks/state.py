"""The sandbox's state: companies, OAuth tokens, webhook and throttle machinery, persistence.

`SandboxState` is what `app.state.sandbox` holds; its methods are the Python API tests and
seeding use (no HTTP needed): `default_realm_id`, `add_company()`, `create_entity()`,
`get_entity()`, `update_entity()`, `query()`, `set_webhook()`, `flush_webhooks()`,
`set_preferences()`, `update_raw()`, `reset()`, `save()`.

With a `state_dir`, the whole state is written as one JSON snapshot (atomically, at most every
`autosave_interval` seconds while the app runs, immediately when no app loop is running, and at
shutdown) and loaded at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import time
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP
from pathlib import Path
from typing import Any

from ledgerbridge.private_files import private_dir
from ledgerbridge.sandbox.journal import Journal
from ledgerbridge.sandbox.quickbooks import operations, persist, query
from ledgerbridge.sandbox.quickbooks import seed as seeding
from ledgerbridge.sandbox.quickbooks.company import Company, Env
from ledgerbridge.sandbox.quickbooks.oauth import OAuthStore
from ledgerbridge.sandbox.quickbooks.throttle import Throttle
from ledgerbridge.sandbox.quickbooks.webhooks import WebhookDispatcher
from ledgerbridge.sandbox.quickbooks.wire import company_tz, dumps, loads

REALM_BASE = 9130357000000000
SNAPSHOT = "quickbooks-sandbox.json"
# Rounding modes the sandbox can compute amounts with (QBO's own is not documented).
ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SandboxState:
    def __init__(
        self,
        *,
        seed_name: str = "empty",
        state_dir: Path | None = None,
        static_token: str = "qbo-sandbox-token",
        throttle: bool = False,
        time_scale: float = 1.0,
        webhook_url: str | None = None,
        verifier_token: str = "sandbox-verifier-token",
        webhook_format: str = "cloudevents",
        clock: Callable[[], dt.datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        rounding: str = "half_up",
        scale: int = 0,
        scale_seed: int = 1,
    ) -> None:
        if seed_name not in ("empty", "demo"):
            raise ValueError("seed must be 'empty' or 'demo'")
        if rounding not in ROUNDING:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDING)}")
        # How amounts the company computes are rounded; tests may change it later.
        self.rounding = rounding
        self.seed_name = seed_name
        self.scale, self.scale_seed = scale, scale_seed  # `--scale`: invoices added to the demo
        self.state_dir = Path(state_dir) if state_dir else None
        self.static_token = static_token
        self.clock = clock
        self.tz = company_tz()
        self.oauth = OAuthStore(clock=lambda: self.clock())
        self.throttle = Throttle(enabled=throttle, time_scale=time_scale, monotonic=monotonic)
        self.webhooks = WebhookDispatcher(
            url=None,
            verifier_token=verifier_token,
            fmt=webhook_format,
            time_scale=time_scale,
            monotonic=monotonic,
        )
        self.companies: dict[str, Company] = {}
        self.default_realm: str = ""
        self.fault_injector: Any = None  # set by the app's FaultInjector middleware
        self.autosave_interval = 1.0
        self._dirty = False
        self._loop_running = False
        self._journal: Journal | None = None
        self._last_meta: str | None = None
        self._compact_next = False  # after a reset: the journal cannot express one
        self._new_realms: set[str] = set()  # companies added since the last save
        self._outbox_saved: dict[str, int] = {}  # per realm, mail already in the journal
        if not self._load():
            self.add_company(seed=seed_name)
        self.webhooks.configure(webhook_url, verifier_token, webhook_format)

    # ---- companies ---------------------------------------------------------------------------
    @property
    def default_realm_id(self) -> str:
        return self.default_realm

    def company(self, realm_id: str) -> Company | None:
        return self.companies.get(realm_id)

    def env(
        self, realm_id: str, *, include: frozenset[str] = frozenset(), quiet: bool = False
    ) -> Env:
        company = self.companies[realm_id]
        emit = (lambda *a: None) if quiet else self._emitter(realm_id)
        return Env(
            company=company,
            now=self.clock(),
            tz=self.tz,
            emit=emit,
            include=include,
            rounding=ROUNDING[self.rounding],
        )

    def _emitter(self, realm_id: str) -> Callable[[str, str, str, dt.datetime], None]:
        def emit(entity: str, entity_id: str, op: str, when: dt.datetime) -> None:
            self.webhooks.enqueue(realm_id, entity, entity_id, op, when, self.tz)
            self.mark_dirty()

        return emit

    def add_company(self, seed: str = "empty") -> str:
        """Create a new company (realm) holding what a new QBO company holds; `seed="demo"`
        adds the demo data set, `seed="bare"` leaves out the lists (accounts, terms...). Returns its realm id; the first one becomes the default."""
        number = len(self.companies) + 1
        realm_id = str(REALM_BASE + number)
        while realm_id in self.companies:
            number += 1
            realm_id = str(REALM_BASE + number)
        self.companies[realm_id] = Company(realm_id=realm_id)
        self._new_realms.add(realm_id)
        env = self.env(realm_id, quiet=True)
        if seed == "bare":  # CompanyInfo and Preferences only: a base for importer.import_records
            seeding.seed_config(env, number)
        else:
            seeding.seed_empty(env, number)
        if seed == "demo":
            seeding.seed_demo(env, self.scale, self.scale_seed)
        if not self.default_realm:
            self.default_realm = realm_id
        self.mark_dirty()
        return realm_id

    def reset(self, seed_name: str | None = None) -> str:
        """Forget every company and token; start again with one freshly seeded company."""
        self.companies.clear()
        self.default_realm = ""
        self.oauth.codes.clear()
        self.oauth.access.clear()
        self.oauth.refresh.clear()
        self.webhooks.queues.clear()
        self._compact_next = True
        return self.add_company(seed=seed_name or self.seed_name)

    # ---- entity API (Python) -------------------------------------------------------------------
    def create_entity(
        self,
        realm_id: str,
        entity: str,
        body: dict[str, Any],
        *,
        entity_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Create through the same rules as `POST /v3/company/{realm}/{entity}`; `entity_id`
        forces the Id (seeding/import). Raises errors.QboFault like the API would answer."""
        env = self.env(realm_id, quiet=not emit)
        record = operations.create(
            env, entity, copy.deepcopy(body), forced_id=entity_id, admin=True
        )
        self.mark_dirty()
        return operations.public(record)

    def update_entity(self, realm_id: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        record = operations.update(self.env(realm_id), entity, copy.deepcopy(body))
        self.mark_dirty()
        return operations.public(record)

    def get_entity(self, realm_id: str, entity: str, entity_id: str) -> dict[str, Any] | None:
        company = self.companies[realm_id]
        if entity in ("Preferences", "CompanyInfo"):
            return operations.public(company.entities[entity]["1"])
        record = company.get(entity, str(entity_id))
        return operations.public(record) if record is not None else None

    def query(self, realm_id: str, text: str) -> dict[str, Any]:
        company = self.companies[realm_id]
        return query.run(query.parse(text, company), company, self.tz)

    def update_raw(
        self, realm_id: str, entity: str, entity_id: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Edit a stored record directly: no business rules, no SyncToken bump, no event.
        For seeding and for simulating edits made in QBO's UI."""
        record = self.companies[realm_id].entities[entity][entity_id]
        change(record)
        self.companies[realm_id].note(entity, entity_id)
        self.mark_dirty()
        return operations.public(record)

    def set_preferences(self, realm_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Admin change to Preferences (deep merge), e.g. `{"CurrencyPrefs":
        {"MultiCurrencyEnabled": true}}`, which QBO only allows in its UI."""
        company = self.companies[realm_id]
        prefs = company.preferences
        _deep_merge(prefs, patch)
        env = self.env(realm_id, quiet=True)
        prefs["SyncToken"] = str(int(prefs.get("SyncToken", "0")) + 1)
        prefs["MetaData"]["LastUpdatedTime"] = env.meta_now
        prefs["_updated"] = env.now.isoformat()
        company.note("Preferences", "1")
        self.mark_dirty()
        return operations.public(prefs)

    # ---- webhooks ------------------------------------------------------------------------------
    def set_webhook(
        self, url: str | None, verifier_token: str | None = None, fmt: str | None = None
    ) -> None:
        """Where webhooks go (None stops them), the verifier token that signs them, and the
        format: "cloudevents" or "legacy"."""
        self.webhooks.configure(url, verifier_token, fmt)

    async def flush_webhooks(self) -> int:
        """Deliver every pending webhook now (ignoring aggregation and backoff)."""
        return await self.webhooks.flush()

    # ---- persistence ---------------------------------------------------------------------------
    @property
    def snapshot_path(self) -> Path | None:
        return self.state_dir / SNAPSHOT if self.state_dir else None

    def mark_dirty(self) -> None:
        self._dirty = True
        if not self._loop_running:
            self.save()

    def save(self, *, compact: bool = False) -> None:
        """Persist what changed since the last save: one journal line, or a full snapshot when
        none exists yet, after a reset, when the journal has outgrown it, or when `compact`."""
        self._dirty = False
        if self.state_dir is None:
            return
        private_dir(self.state_dir)  # it holds live sandbox tokens
        if self._journal is None:
            self._journal = Journal(self.state_dir, SNAPSHOT.removesuffix(".json"), dumps, loads)
        journal = self._journal
        entry, self._last_meta = persist.changes(self, self._last_meta)
        if compact or self._compact_next or not journal.exists:
            journal.compact(self._snapshot())
            self._compact_next = False
        elif entry:
            journal.append(entry)
            if journal.due():
                journal.compact(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        return {
            "version": 1,
            "default_realm": self.default_realm,
            "companies": [c.to_json() for c in self.companies.values()],
            "oauth": self.oauth.to_json(),
        }

    def _load(self) -> bool:
        if self.state_dir is None:
            return False
        journal = Journal(self.state_dir, SNAPSHOT.removesuffix(".json"), dumps, loads)
        found = journal.load()
        if found is None:
            return False
        data, entries = found
        self.companies = {c["realm_id"]: Company.from_json(c) for c in data["companies"]}
        self.default_realm = data["default_realm"]
        self.oauth.load(data.get("oauth", {}))
        for entry in entries:
            persist.apply(self, entry)
        self._journal = journal
        self._last_meta = persist.changes(self, None)[1]
        return bool(self.companies)

    async def autosave(self, stop: asyncio.Event) -> None:
        self._loop_running = True
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.autosave_interval)
                if self._dirty:
                    self.save()
        finally:
            self._loop_running = False
            self.save(compact=True)


def _deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value
