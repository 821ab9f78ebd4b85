"""Rate budgets: pacing every request to an account (a QBO realm, a HubSpot portal) before it
is sent, so the API's limits are planned for instead of discovered by 429.

A budget is a set of sliding windows (QBO: 500 requests per minute with every /batch item
counted, /batch calls per minute, optionally 10 per second for sandbox companies; HubSpot: the
10-second burst of the app's tier, search 5 per second, the daily cap) plus a concurrency limit.
The windows are sliding logs rather than refilling buckets because that is how the APIs count: a
bucket of 500 that refills at 500/min lets 1,000 requests into one minute.

Two lanes share one budget. Live changes (webhooks, polls, "sync now") are the default lane;
backfills and reconciles run in the bulk lane (`bulk_lane()`), which never takes the last
`reserve` share of a window and never goes ahead of a live request that is waiting. So a user who
finishes an invoice during a long backfill is served within a request or two.

Each request's entries are restamped when its answer arrives: the API counts a /batch's items
when it has run them, later than we sent it, and a budget that forgot this would send the next
batch a little early and earn a 429 at exactly full speed.

`LocalBudget` serves one process; `RedisBudget` (budget_redis.py) shares one account's budget
between workers. Both follow the `Budget` protocol.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal, Protocol

Lane = Literal["live", "bulk"]
Kind = Literal["call", "batch", "search"]

_LANE: contextvars.ContextVar[Lane] = contextvars.ContextVar("ledgerbridge_lane", default="live")


def current_lane() -> Lane:
    return _LANE.get()


@contextmanager
def bulk_lane() -> Iterator[None]:
    """Requests made inside (and in tasks started inside) go in the bulk lane."""
    token = _LANE.set("bulk")
    try:
        yield
    finally:
        _LANE.reset(token)


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: float
    items: bool = True  # a /batch costs its item count (True) or one call (False)
    kinds: frozenset[str] | None = None  # None: every request

    def cost(self, kind: str, items: int) -> int:
        if self.kinds is not None and kind not in self.kinds:
            return 0
        return items if self.items else 1


@dataclass(frozen=True)
class Limits:
    windows: tuple[Window, ...]
    concurrency: int = 10
    reserve: float = 0.06  # share of each window the bulk lane leaves to live changes
    # Wait this long after a Retry-After-less 429 (doubled on each one in a row, capped at the
    # longest window): the API did not say, and some other client may be spending the quota.
    penalty_seconds: float = 5.0

    def bulk_cap(self, window: Window) -> int:
        return max(1, window.limit - math.ceil(window.limit * self.reserve))

    def eta(self, metered: int, calls: int, batches: int = 0) -> float:
        """Seconds the bulk lane's share needs for `calls` HTTP calls, `batches` of them /batch,
        metering `metered` requests (each batch item counts): what a run takes at best."""
        worst = 0.0
        for w in self.windows:
            if w.kinds == frozenset({"batch"}):
                need = batches
            elif w.kinds is not None:
                continue
            else:
                need = metered if w.items else calls
            if need > 0:
                worst = max(worst, need / self.bulk_cap(w) * w.seconds)
        return worst


def qbo_limits(
    *,
    batch_per_minute: int = 120,
    sandbox_per_second: bool = False,
    time_scale: float = 1.0,
    per_minute: int = 500,
    concurrency: int = 10,
) -> Limits:
    """QuickBooks Online, per realm and app (Intuit, "API rate limits and throttles")."""
    minute = 60.0 / time_scale
    windows = [
        Window("requests", per_minute, minute),
        Window("batch", batch_per_minute, minute, items=False, kinds=frozenset({"batch"})),
    ]
    if sandbox_per_second:
        windows.append(Window("sandbox", 10, 1.0 / time_scale, items=False))
    return Limits(tuple(windows), concurrency=concurrency, penalty_seconds=5.0 / time_scale)


def hubspot_limits(
    *, burst: int = 190, search_per_second: int = 5, daily: int = 1_000_000, time_scale: float = 1.0
) -> Limits:
    """HubSpot, per app and account: the tier's burst per 10 s (100 free/starter, 190
    professional/enterprise), search 5 per second, and the daily cap."""
    return Limits(
        (
            Window("burst", burst, 10.0 / time_scale, items=False),
            Window("search", search_per_second, 1.0 / time_scale, False, frozenset({"search"})),
            Window("daily", daily, 86400.0 / time_scale, items=False),
        ),
        concurrency=10,
        penalty_seconds=1.0 / time_scale,
    )


@dataclass
class BudgetStats:
    admitted: int = 0  # HTTP calls
    metered: int = 0  # what the API meters: a /batch counts its items
    batches: int = 0
    waited_seconds: float = 0.0
    throttled: int = 0  # 429s the API still sent


@dataclass
class Ticket:
    """One admitted request: its entries in each window, restamped on release."""

    entries: list[list[float]] = field(default_factory=list)  # [time, cost, window index]
    token: str = ""


class Budget(Protocol):
    limits: Limits
    stats: BudgetStats

    async def acquire(self, kind: Kind, items: int = 1, lane: Lane | None = None) -> Ticket: ...
    async def release(self, ticket: Ticket) -> None: ...
    async def throttled(self, retry_after: float | None) -> float: ...
    async def succeeded(self) -> None: ...


@asynccontextmanager
async def spend(budget: Budget | None, kind: Kind, items: int = 1) -> AsyncIterator[None]:
    """Hold a place in the budget while one request is in flight."""
    if budget is None:
        yield
        return
    ticket = await budget.acquire(kind, items)
    try:
        yield
    finally:
        await budget.release(ticket)


Clock = Callable[[], float]


class LocalBudget:
    """One account's budget inside one process."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limits = limits
        self.stats = BudgetStats()
        self.clock = clock
        # Per window: entries [time, cost, window] oldest first, and their total cost. Kept as
        # deques trimmed from the left, so a day-long window costs nothing per request.
        self._logs: list[deque[list[float]]] = [deque() for _ in limits.windows]
        self._used: list[int] = [0 for _ in limits.windows]
        self._in_flight = 0
        self._live_waiting = 0
        self._paused_until = 0.0
        self._strikes = 0
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def _changed(self) -> asyncio.Event:
        # One event per event loop: a budget may outlive the loop it was first used in.
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop
        return self._event

    def _margin(self, window: Window) -> float:
        return window.seconds * 0.01

    def wait_for(self, kind: str, items: int, lane: Lane) -> float:
        """0 when a request may go now, else seconds until it might."""
        now = self.clock()
        if now < self._paused_until:
            return self._paused_until - now
        if lane == "bulk" and self._live_waiting:
            return -1.0  # behind a live request: wait for a change, not a time
        if self._in_flight >= self.limits.concurrency:
            return -1.0
        wait = 0.0
        for index, window in enumerate(self.limits.windows):
            cost = window.cost(kind, items)
            if cost == 0:
                continue
            span = window.seconds + self._margin(window)
            log = self._logs[index]
            # A restamped entry may sit ahead of older ones: they then count a little longer
            # than they must, which only ever errs on the safe side.
            while log and log[0][0] <= now - span:
                self._used[index] -= int(log.popleft()[1])
            cap = window.limit if lane == "live" else self.limits.bulk_cap(window)
            if self._used[index] + cost <= max(cap, cost):
                continue
            # Over: drop every expired entry (not just those at the head), then wait until
            # enough of the oldest have left.
            log = self._logs[index] = deque(e for e in log if e[0] > now - span)
            used = self._used[index] = sum(int(e[1]) for e in log)
            if used + cost <= max(cap, cost):
                continue
            excess = used + cost - max(cap, cost)
            for stamp, spent, _ in sorted(log):
                excess -= int(spent)
                if excess <= 0:
                    wait = max(wait, stamp + span - now)
                    break
        return wait

    async def acquire(self, kind: Kind, items: int = 1, lane: Lane | None = None) -> Ticket:
        lane = lane or current_lane()
        started = self.clock()
        counted_live = False
        try:
            while (wait := self.wait_for(kind, items, lane)) != 0.0:
                if lane == "live" and not counted_live:
                    counted_live = True
                    self._live_waiting += 1
                self._changed.clear()
                timeout = None if wait < 0 else max(wait, 0.001)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
        finally:
            if counted_live:
                self._live_waiting -= 1
                self._changed.set()
        now = self.clock()
        ticket = Ticket()
        for index, window in enumerate(self.limits.windows):
            cost = window.cost(kind, items)
            if cost:
                entry = [now, float(cost), float(index)]
                self._logs[index].append(entry)
                self._used[index] += cost
                ticket.entries.append(entry)
        self._in_flight += 1
        self.stats.admitted += 1
        self.stats.metered += items
        self.stats.batches += kind == "batch"
        self.stats.waited_seconds += now - started
        return ticket

    async def release(self, ticket: Ticket) -> None:
        now = self.clock()
        for entry in ticket.entries:
            entry[0] = max(entry[0], now)
        self._in_flight -= 1
        self._changed.set()

    async def throttled(self, retry_after: float | None) -> float:
        self.stats.throttled += 1
        self._strikes += 1
        longest = max(w.seconds for w in self.limits.windows if w.name != "daily")
        pause = (
            retry_after
            if retry_after is not None
            else min(self.limits.penalty_seconds * 2 ** (self._strikes - 1), longest)
        )
        self._paused_until = max(self._paused_until, self.clock() + pause)
        self._changed.set()
        return pause

    async def succeeded(self) -> None:
        self._strikes = 0


class Budgets:
    """The budgets of one process, one per account, so every connector for a realm shares it."""

    def __init__(self) -> None:
        self._by_account: dict[str, Budget] = {}

    def get(self, account: str, make: Callable[[], Budget]) -> Budget:
        found = self._by_account.get(account)
        if found is None:
            found = self._by_account[account] = make()
        return found


PROCESS_BUDGETS = Budgets()
