"""A backfill's checkpoint, its estimates, and how it waits out a bad minute.

The checkpoint is saved in the store (the `cursors` table, feed "backfill") after every finished
page: the phase, the HubSpot feed cursor after the last page whose records are all done, how many
records are done, and when the backfill started. A backfill killed or stopped at any point
resumes from there: pages before the cursor are never read again, and records that an earlier run
already linked are skipped before they are read (our own write-back moves them to the end of the
modification-ordered feed, where the resumed run meets their ids again).

Estimates come from the QBO realm's rate budget: what the remaining requests cost at the bulk
lane's share of the limits, not a guess from the last few seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from ledgerbridge.connectors.budget import Budget, Limits, bulk_lane, qbo_limits
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import BatchCrmPort, BatchLedgerPort, StorePort
from ledgerbridge.errors import RateLimited, SyncError, Transient

log = logging.getLogger(__name__)
T = TypeVar("T")

FEED = "backfill"
PHASES = ("hubspot invoices", "quickbooks invoices", "payments", "done")


@dataclass
class Checkpoint:
    phase: str = PHASES[0]
    cursor: str | None = None  # HubSpot feed cursor after the last finished page
    done: int = 0
    since: str | None = None
    started_at: str = ""
    finished: bool = False

    @classmethod
    def load(cls, store: StorePort, connection_id: int) -> Checkpoint | None:
        raw = store.get_cursor(connection_id, FEED)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return None  # unreadable: start over (every step is idempotent)

    def save(self, store: StorePort, connection_id: int) -> None:
        store.set_cursor(connection_id, FEED, json.dumps(asdict(self)))

    def resumes(self, since: dt.date | None) -> bool:
        """An unfinished backfill over the same range."""
        return not self.finished and self.since == (since.isoformat() if since else None)


def ledger_budget(ledger: BatchLedgerPort) -> Budget | None:
    budget: Budget | None = ledger.budget
    return budget


def budget_limits(ledger: BatchLedgerPort) -> Limits:
    budget = ledger_budget(ledger)
    return budget.limits if budget is not None else qbo_limits()


@dataclass
class CostModel:
    """QBO requests per record, from the pages done so far (or a fresh run's defaults). A
    moving average: the first pages create most of the customers and items, later ones mostly
    invoices, so the recent pages say more about the rest than the whole run does."""

    metered: float = 1.05  # a batch item each, plus a share of customers, items and lookups
    calls: float = 1 / 15
    batches: float = 1 / 30
    _last: tuple[int, int, int, int] | None = None

    def observe(self, budget: Budget | None, done: int, base: tuple[int, int, int]) -> None:
        if budget is None:
            return
        stats = budget.stats
        now = (done, stats.metered - base[0], stats.admitted - base[1], stats.batches - base[2])
        last, self._last = self._last or (0, 0, 0, 0), now
        records = now[0] - last[0]
        if records <= 0 or now[1] <= last[1]:
            return
        seen = ((now[1] - last[1]) / records, (now[2] - last[2]) / records)
        batches = (now[3] - last[3]) / records
        weight = 0.5 if last[0] else 1.0
        self.metered += weight * (max(seen[0], 1.0) - self.metered)
        self.calls += weight * (seen[1] - self.calls)
        self.batches += weight * (batches - self.batches)

    def eta(self, limits: Limits, remaining: int) -> float:
        if remaining <= 0:
            return 0.0
        return limits.eta(
            math.ceil(self.metered * remaining),
            math.ceil(self.calls * remaining),
            math.ceil(self.batches * remaining),
        )


def dry_run_seconds(
    limits: Limits, invoices: int, updates: int, customers: int, items: int
) -> float:
    """How long the real run takes under the limits: invoices created in /batch calls of 30,
    customers and items one by one, updates one read and one write each."""
    batches = math.ceil(invoices / 30)
    metered = invoices + customers + items + 2 * updates
    calls = batches + customers + items + 2 * updates
    return limits.eta(metered, calls, batches)


async def persist(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `call` until it succeeds on a retryable error: rate limits wait as long as they must
    (the budget paces the retries), other transient errors up to about half an hour."""
    delay = 1.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except SyncError as exc:
            if not isinstance(exc, Transient) or (
                not isinstance(exc, RateLimited) and attempt >= 60
            ):
                raise
            log.warning("backfill: %s failed (%s); retrying in %.0f s", what, exc.message, delay)
            await sleep(delay)
            delay = min(delay * 2, 30.0)


def bulk_context() -> contextvars.Context:
    """A context whose requests go in the budget's bulk lane (for tasks started in it)."""
    with bulk_lane():
        return contextvars.copy_context()


async def in_context(context: contextvars.Context, work: Awaitable[T]) -> T:
    """Await `work` in `context` (the bulk lane) without changing the caller's context."""

    async def run() -> T:
        return await work

    return await asyncio.create_task(run(), context=context)


def budget_base(budget: Budget | None) -> tuple[int, int, int]:
    if budget is None:
        return (0, 0, 0)
    return (budget.stats.metered, budget.stats.admitted, budget.stats.batches)


def unlinked(
    store: StorePort, connection_id: int, object_type: str, side: Side, ids: list[str]
) -> list[str]:
    """The ids that have no link yet (one query)."""
    if not ids:
        return ids
    linked = store.get_links(connection_id, object_type, side, ids)
    return [i for i in ids if not linked.get(i)]


async def count_invoices(crm: BatchCrmPort) -> int | None:
    """How many HubSpot invoices there are (one search call), for the progress bar."""
    return await crm.count_invoices()
