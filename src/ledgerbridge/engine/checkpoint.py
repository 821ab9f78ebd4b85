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
from ledgerbridge.engine.ports import BatchCrmPort, BatchLedgerPort, FeedSnapshot, StorePort
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


def budget_stats(budget: Budget | None, base: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """What the budget counted since `base` (budget_base at the start of the run)."""
    if budget is None:
        return None
    stats = budget.stats
    return (stats.metered - base[0], stats.admitted - base[1], stats.batches - base[2])


@dataclass
class CostModel:
    """QBO requests per invoice, from the pages done so far (or a fresh run's defaults), and the
    run's measured pace. Customers and items created so far are left out of the per-invoice
    cost: a run creates most of them in its first pages, so counting them per invoice made the
    early ETA about twice too long. Both figures are moving averages over the recent pages."""

    metered: float = 1.05  # a batch item each, plus a share of lookups
    calls: float = 1 / 15
    batches: float = 1 / 30
    rate: float | None = None  # records per second over the recent pages
    _last: tuple[int, int, int, int, int] | None = None
    _last_at: float | None = None

    def observe(
        self,
        stats: tuple[int, int, int] | None,
        done: int,
        dependencies: int,
        now: float,
    ) -> None:
        """`stats`: the budget's (metered, admitted calls, batches) since the run began (None:
        unmetered); `done`: records done in this run; `dependencies`: customers and items
        created in this run; `now`: a monotonic clock."""
        metered, admitted, batches = stats or (0, 0, 0)
        current = (done, metered - dependencies, admitted, batches, dependencies)
        last, self._last = self._last or (0, 0, 0, 0, 0), current
        last_at, self._last_at = self._last_at, now
        records = current[0] - last[0]
        if records <= 0:
            return
        weight = 0.5 if last[0] else 1.0
        if last_at is not None and now > last_at:
            seen_rate = records / (now - last_at)
            self.rate = (
                seen_rate if self.rate is None else self.rate + weight * (seen_rate - self.rate)
            )
        if stats is None or current[1] <= last[1]:
            return
        per = [(current[n] - last[n]) / records for n in (1, 2, 3)]
        self.metered += weight * (max(per[0], 1.0) - self.metered)
        self.calls += weight * (per[1] - self.calls)
        self.batches += weight * (per[2] - self.batches)

    def eta(self, limits: Limits | None, remaining: int) -> float | None:
        """Seconds left: what the remaining records cost under the realm's limits (None:
        unlimited) is the floor (the measured pace runs ahead of it while the budget's first
        window is still full), and the measured pace when it is slower (the run is bound by
        CPU, the network or the other side). None until there is anything to go on."""
        if remaining <= 0:
            return 0.0
        floor = (
            limits.eta(
                math.ceil(self.metered * remaining),
                math.ceil(self.calls * remaining),
                math.ceil(self.batches * remaining),
            )
            if limits is not None
            else None
        )
        paced = remaining / self.rate if self.rate else None
        known = [v for v in (floor, paced) if v is not None]
        return max(known) if known else None


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


async def invoice_snapshot(crm: BatchCrmPort) -> FeedSnapshot:
    """How many HubSpot invoices there are, for the progress bar, and the newest change's marker,
    where the backfill's walk of the feed stops (one search call)."""
    return await crm.invoice_snapshot()
