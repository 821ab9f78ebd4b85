"""`HubSpotSandbox`: the portal state plus everything around it that a running emulator needs:
OAuth tokens, rate limits, webhook delivery, persistence and seeding. This is `app.state.sandbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from ..faults import FaultInjector
from ..journal import Journal
from . import persist
from .associations import AssociationGraph
from .clock import Clock
from .oauth import TokenStore
from .properties import PropertyRegistry
from .ratelimit import RateLimitConfig, RateLimiter
from .state import SandboxState
from .store import ObjectStore
from .webhooks import WebhookDispatcher

SNAPSHOT_NAME = "hubspot.json"
SEEDS = ("empty", "demo")


class HubSpotSandbox(SandboxState):
    def __init__(
        self,
        *,
        seed: str = "empty",
        state_dir: Path | None = None,
        private_app_token: str = "pat-sandbox",
        client_secret: str = "sandbox-client-secret",
        rate_limits: bool = False,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        scale: int = 0,
        scale_seed: int = 1,
    ) -> None:
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; expected one of {SEEDS}")
        super().__init__(clock=clock or Clock(time_scale))
        self.seed = seed
        self.scale, self.scale_seed = scale, scale_seed  # `--scale`: invoices added to the demo
        self.state_dir = Path(state_dir) if state_dir else None
        self.private_app_token = private_app_token
        self.tokens = TokenStore(self.clock, client_secret, self.portal_id)
        self.rate_limiter = RateLimiter(self.clock, RateLimitConfig(enabled=rate_limits))
        self.webhooks = WebhookDispatcher(
            portal_id=self.portal_id, app_id=self.app_id, time_scale=time_scale
        )
        self.webhooks.config.secret = client_secret
        self.on_events.append(self.webhooks.enqueue)
        self.faults: FaultInjector | None = None  # set when the app's middleware is built
        self._saved_version = -1
        self._journal: Journal | None = None
        self._last_meta: str | None = None
        self._compact_next = False  # after a reset: the journal cannot express one
        if not (self.state_dir and self.load()):
            self._apply_seed(seed)
            self.save()

    # --- seeding and reset ------------------------------------------------------------------------
    def _apply_seed(self, seed: str) -> None:
        if seed == "demo":
            from .seed import seed_demo  # imported lazily: only the demo needs the data set

            url = self.webhooks.config.url
            self.webhooks.config.url = None  # seeding is the portal's past, not news
            try:
                seed_demo(self, self.scale, self.scale_seed)
            finally:
                self.webhooks.config.url = url

    def reset(self, seed: str | None = None) -> None:
        """Back to a fresh portal with the given (or original) seed. Webhook settings stay."""
        seed = seed or self.seed
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; expected one of {SEEDS}")
        with self.lock:
            self.store = ObjectStore()
            self.props = PropertyRegistry.defaults(self.now_ms())
            self.graph = AssociationGraph()
            self.rate_limiter.reset()
            self._apply_seed(seed)
            self.version += 1
            self._compact_next = True
        self.save()

    # --- webhooks ---------------------------------------------------------------------------------
    def set_webhook(
        self, url: str | None, secret: str | None = None, events: list[str] | None = None
    ) -> None:
        """Set the subscription target URL (None turns delivery off), the signing secret and the
        subscribed event types ("invoice.creation", "object.propertyChange", ...)."""
        self.webhooks.set(url, secret, events)
        self.version += 1

    async def flush_webhooks(self) -> int:
        """Deliver every queued event now; returns how many batches were accepted."""
        return await self.webhooks.flush()

    # --- persistence ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "format": 1,
                "store": self.store.to_dict(),
                "props": self.props.to_dict(),
                "graph": self.graph.to_dict(),
                "oauth": self.tokens.to_dict(),
                "webhooks": {
                    "url": self.webhooks.config.url,
                    "secret": self.webhooks.config.secret,
                    "subscriptions": self.webhooks.config.subscriptions,
                },
            }

    def save(self, *, compact: bool = False) -> None:
        """Persist what changed since the last save (if there is a state dir): one journal line,
        or a full snapshot when none exists yet, the journal has outgrown it, or `compact`."""
        if self.state_dir is None or (self._saved_version == self.version and not compact):
            return
        if self._journal is None:
            self._journal = Journal(self.state_dir, SNAPSHOT_NAME.removesuffix(".json"))
        journal = self._journal
        with self.lock:
            version = self.version
            entry, self._last_meta = persist.changes(self, self._last_meta)
            if compact or self._compact_next or not journal.exists:
                self.state_dir.mkdir(parents=True, exist_ok=True)
                journal.compact(self.snapshot())
                self._compact_next = False
            elif entry:
                journal.append(entry)
                if journal.due():
                    journal.compact(self.snapshot())
        self._saved_version = version

    def load(self) -> bool:
        if self.state_dir is None:
            return False
        journal = Journal(self.state_dir, SNAPSHOT_NAME.removesuffix(".json"))
        found = journal.load()
        if found is None:
            return False
        data, entries = found
        with self.lock:
            self.store = ObjectStore.from_dict(data["store"])
            self.props = PropertyRegistry.from_dict(data["props"])
            self.graph = AssociationGraph.from_dict(data["graph"])
            self.tokens.load(data.get("oauth", {}))
            wh = data.get("webhooks") or {}
            self.webhooks.set(wh.get("url"), wh.get("secret"), wh.get("subscriptions"))
            for entry in entries:
                persist.apply(self, entry)
            self._journal = journal
            self._last_meta = persist.changes(self, None)[1]
            self._saved_version = self.version
        return True

    async def persist_loop(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Save soon after changes (debounced), and once more on the way out."""
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                await asyncio.to_thread(self.save)
        finally:
            self.save(compact=True)
