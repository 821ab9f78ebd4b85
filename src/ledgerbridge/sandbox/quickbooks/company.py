"""One QBO company (realm): its entities, id counters, deletion tombstones, numbering and
`requestid` log, plus the per-request environment the business rules run in.

Entities are stored in wire form (what a GET returns) plus private keys starting with `_`
(never sent): `_updated` is a microsecond UTC timestamp that orders CDC and webhooks, finer than
the seconds QBO shows in `MetaData.LastUpdatedTime`.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.index import Indexes
from ledgerbridge.sandbox.quickbooks.wire import MINOR_UNIT, meta_time

REQUEST_LOG_LIMIT = 20000


@dataclass
class Company:
    realm_id: str
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    tombstones: dict[str, dict[str, str]] = field(default_factory=dict)
    doc_numbers: dict[str, str] = field(default_factory=dict)
    request_log: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    # ids created inside the batch being run: invisible to later items of the same batch
    hidden: set[tuple[str, str]] = field(default_factory=set)
    # DocNumber index per numbering sequence, derived from entities (rebuilt after a load)
    doc_index: dict[str, dict[str, tuple[str, str]]] | None = None
    # (entity, id) written since the query indexes last looked, and since persistence did
    changed: set[tuple[str, str]] = field(default_factory=set)
    dirty: set[tuple[str, str]] = field(default_factory=set)
    _indexes: Indexes | None = None
    new_requests: list[str] = field(default_factory=list)  # logged since the last save

    def note(self, entity: str, entity_id: str) -> None:
        """A record was created, changed or removed (indexes and the journal follow)."""
        self.changed.add((entity, entity_id))
        self.dirty.add((entity, entity_id))

    def indexes(self) -> Indexes:
        if self._indexes is None:
            self._indexes = Indexes(self)
        return self._indexes

    # ---- entity store --------------------------------------------------------------------
    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        if (entity, entity_id) in self.hidden:
            return None
        return self.entities.get(entity, {}).get(entity_id)

    def all(self, entity: str) -> list[dict[str, Any]]:
        return [
            e for i, e in self.entities.get(entity, {}).items() if (entity, i) not in self.hidden
        ]

    def iter_all(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, table in self.entities.items():
            for record in table.values():
                yield name, record

    def put(self, entity: str, record: dict[str, Any]) -> None:
        self.entities.setdefault(entity, {})[record["Id"]] = record
        self.note(entity, record["Id"])

    def remove(self, entity: str, entity_id: str, when: dt.datetime) -> None:
        self.entities.get(entity, {}).pop(entity_id, None)
        self.tombstones.setdefault(entity, {})[entity_id] = when.isoformat()
        self.note(entity, entity_id)

    def new_id(self, entity: str) -> str:
        nxt = self.next_ids.get(entity, 1)
        self.next_ids[entity] = nxt + 1
        return str(nxt)

    def reserve_id(self, entity: str, entity_id: str) -> None:
        """Make sure a forced id (seeding, import) is never handed out again."""
        if entity_id.isdigit():
            self.next_ids[entity] = max(self.next_ids.get(entity, 1), int(entity_id) + 1)

    # ---- configuration shortcuts ---------------------------------------------------------
    @property
    def preferences(self) -> dict[str, Any]:
        return self.entities["Preferences"]["1"]

    @property
    def info(self) -> dict[str, Any]:
        return self.entities["CompanyInfo"]["1"]

    @property
    def home_currency(self) -> str:
        return str(self.preferences["CurrencyPrefs"]["HomeCurrency"]["value"])

    @property
    def multicurrency(self) -> bool:
        return bool(self.preferences["CurrencyPrefs"].get("MultiCurrencyEnabled"))

    def custom_field_defs(self) -> list[tuple[str, str]]:
        """Enabled legacy sales-form custom fields as (DefinitionId, Name)."""
        groups = self.preferences.get("SalesFormsPrefs", {}).get("CustomField", [])
        enabled: dict[str, bool] = {}
        names: dict[str, str] = {}
        for group in groups:
            for item in group.get("CustomField", []):
                name = item.get("Name", "")
                if name.startswith("SalesFormsPrefs.UseSalesCustom"):
                    enabled[name[-1]] = bool(item.get("BooleanValue"))
                elif name.startswith("SalesFormsPrefs.SalesCustomName"):
                    names[name[-1]] = str(item.get("StringValue", ""))
        return [(slot, names[slot]) for slot in sorted(names) if enabled.get(slot, True)]

    def find_account(self, sub_type: str) -> dict[str, Any] | None:
        for account in self.all("Account"):
            if account.get("AccountSubType") == sub_type and account.get("Active", True):
                return account
        return None

    # ---- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "entities": self.entities,
            "next_ids": self.next_ids,
            "tombstones": self.tombstones,
            "doc_numbers": self.doc_numbers,
            "request_log": list(self.request_log.items()),
            "outbox": self.outbox,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Company:
        return cls(
            realm_id=data["realm_id"],
            entities=data["entities"],
            next_ids=data["next_ids"],
            tombstones=data["tombstones"],
            doc_numbers=data["doc_numbers"],
            request_log=OrderedDict((k, v) for k, v in data.get("request_log", [])),
            outbox=data.get("outbox", []),
        )

    def remember_request(self, request_id: str, entry: dict[str, Any]) -> None:
        self.request_log[request_id] = entry
        self.new_requests.append(request_id)
        while len(self.request_log) > REQUEST_LOG_LIMIT:
            self.request_log.popitem(last=False)


Emit = Callable[[str, str, str, dt.datetime], None]


@dataclass
class Env:
    """What one request's business rules need: the company, the time, and where events go."""

    company: Company
    now: dt.datetime
    tz: dt.tzinfo
    emit: Emit
    include: frozenset[str] = frozenset()
    # How QBO rounds the amounts it computes itself (Qty x UnitPrice, percent discounts, tax):
    # decimal.ROUND_HALF_UP by default; unconfirmed, so it is a knob (see docs/sandboxes.md).
    rounding: str = ROUND_HALF_UP

    def money(self, value: Decimal | int) -> Decimal:
        """Round an amount this company computes, at the minor unit of the transaction's
        currency (the cent for most), with its rounding mode."""
        return Decimal(value).quantize(MINOR_UNIT.get(), rounding=self.rounding)

    @property
    def meta_now(self) -> str:
        return meta_time(self.now, self.tz)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.tz).date()

    def touch(self, entity: str, record: dict[str, Any], *, bump: bool, op: str = "Update") -> None:
        """Record a change made as a side effect (balances): new LastUpdatedTime, optionally a
        new SyncToken, and a webhook event."""
        if bump:
            record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)
        record.setdefault("MetaData", {})["LastUpdatedTime"] = self.meta_now
        record["_updated"] = self.now.isoformat()
        self.company.note(entity, record["Id"])
        self.emit(entity, record["Id"], op, self.now)


def display_name(entity: str, record: dict[str, Any]) -> str:
    if entity in ("Customer", "Vendor", "Employee"):
        return str(record.get("DisplayName", ""))
    if entity == "Account":
        return str(record.get("FullyQualifiedName") or record.get("Name", ""))
    return str(record.get("Name", ""))


def resolve_ref(
    env: Env,
    entity: str,
    ref: Any,
    element: str,
    *,
    allow_inactive: bool = False,
) -> dict[str, Any] | None:
    """Look a reference up: absent → None, unknown → 2500, inactive → 610 (QBO's wording for
    'something you're trying to use has been made inactive')."""
    if not isinstance(ref, dict) or not str(ref.get("value", "")).strip():
        return None
    record = env.company.get(entity, str(ref["value"]).strip())
    if record is None:
        raise errors.invalid_reference(element)
    if not allow_inactive and record.get("Active") is False:
        raise errors.not_found()
    return record


def ref_to(entity: str, record: dict[str, Any], with_name: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"value": record["Id"]}
    if with_name:
        out["name"] = display_name(entity, record)
    return out
