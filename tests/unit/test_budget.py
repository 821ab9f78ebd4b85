"""Rate budgets: sliding windows with batch items counted, concurrency, the live lane ahead of
the bulk lane, a pause after a 429; in process and shared through Redis by two clients."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from ledgerbridge.connectors.budget import (
    Budget,
    Limits,
    LocalBudget,
    Window,
    bulk_lane,
    qbo_limits,
    spend,
)


def _max_in_window(stamps: list[tuple[float, int]], seconds: float) -> int:
    """The most cost any `seconds`-long window saw (stamps: (time, cost))."""
    stamps = sorted(stamps)
    best = 0
    for i, (start, _) in enumerate(stamps):
        best = max(best, sum(c for t, c in stamps[i:] if t < start + seconds))
    return best


async def _drive(budget: Budget, calls: list[tuple[str, int]], log: list[tuple[float, int]]):
    for kind, items in calls:
        async with spend(budget, kind, items):  # type: ignore[arg-type]
            log.append((time.monotonic(), items))
            await asyncio.sleep(0.001)


def test_qbo_limits_count_batch_items_and_batch_calls() -> None:
    limits = qbo_limits(batch_per_minute=40)
    requests, batches = limits.windows
    assert requests.cost("batch", 30) == 30 and requests.cost("call", 1) == 1
    assert batches.cost("batch", 30) == 1 and batches.cost("call", 1) == 0
    assert batches.limit == 40
    assert len(qbo_limits(sandbox_per_second=True).windows) == 3
    # 1,500 metered requests in 50 batches: the 500/min window decides, at the bulk share.
    assert limits.eta(1500, 50, 50) == pytest.approx(1500 / 470 * 60)


async def test_local_budget_never_exceeds_a_window() -> None:
    limits = Limits((Window("requests", 40, 0.5),), concurrency=10, reserve=0.0)
    budget = LocalBudget(limits)
    log: list[tuple[float, int]] = []
    calls = [("batch", 10), ("call", 1), ("call", 1)] * 10
    started = time.monotonic()
    await asyncio.gather(*(_drive(budget, calls, log) for _ in range(3)))
    assert _max_in_window(log, 0.5) <= 40
    total = sum(c for _, c in log)
    assert total == 360
    # Paced, not stalled: 360 units at 40 per 0.5 s take about 4 s.
    assert time.monotonic() - started < 6.5


async def test_concurrency_is_capped() -> None:
    budget = LocalBudget(Limits((Window("requests", 1000, 1.0),), concurrency=3))
    in_flight = peak = 0

    async def one() -> None:
        nonlocal in_flight, peak
        async with spend(budget, "call"):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(one() for _ in range(20)))
    assert peak == 3


async def test_live_requests_go_ahead_of_the_bulk_lane() -> None:
    budget = LocalBudget(Limits((Window("requests", 20, 1.0),), concurrency=10, reserve=0.1))
    done: list[str] = []

    async def bulk() -> None:
        with bulk_lane():
            for _ in range(40):
                async with spend(budget, "call"):
                    done.append("bulk")

    async def live() -> None:
        await asyncio.sleep(0.3)  # the bulk lane has used its share by now
        started = time.monotonic()
        for _ in range(2):
            async with spend(budget, "call"):
                done.append("live")
        assert time.monotonic() - started < 0.1  # the reserved share served it at once

    await asyncio.gather(bulk(), live())
    # The bulk lane stopped at its share (18 of 20) and the live calls went into the reserve.
    assert done[:18] == ["bulk"] * 18 and done[18:20] == ["live", "live"]


async def test_a_429_pauses_the_budget_and_doubles_without_retry_after() -> None:
    budget = LocalBudget(qbo_limits(time_scale=100))  # penalty 0.05 s
    assert await budget.throttled(None) == pytest.approx(0.05)
    assert await budget.throttled(None) == pytest.approx(0.1)
    started = time.monotonic()
    async with spend(budget, "call"):
        pass
    assert time.monotonic() - started >= 0.09
    await budget.succeeded()
    assert await budget.throttled(2.0) == 2.0  # a Retry-After is taken as said
    assert budget.stats.throttled == 3


REDIS_URL = os.environ.get("LEDGERBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_required() -> bool:
    """CI (CI=true, or LEDGERBRIDGE_REQUIRE_PG=1 as for PostgreSQL) runs Redis: no skipping."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("LEDGERBRIDGE_REQUIRE_PG") == "1"
    )


@pytest.fixture
async def redis_client():
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis is reported the same way
        await client.aclose()
        message = f"no Redis at {REDIS_URL} ({exc})"
        if _redis_required():
            pytest.fail(message + "; CI requires it", pytrace=False)
        pytest.skip(message)
    yield client
    await client.aclose()


async def test_two_redis_budgets_share_one_realm(redis_client) -> None:
    from ledgerbridge.connectors.budget_redis import RedisBudget

    realm = f"test-{uuid.uuid4().hex}"
    limits = Limits(
        (Window("requests", 30, 0.5), Window("batch", 4, 0.5, False, frozenset({"batch"}))),
        concurrency=4,
        reserve=0.0,
    )
    # Two workers, two clients, one realm.
    first = RedisBudget(redis_client, realm, limits, poll_seconds=0.005)
    other_client = type(redis_client).from_url(REDIS_URL)
    second = RedisBudget(other_client, realm, limits, poll_seconds=0.005)
    log: list[tuple[float, int]] = []
    batches: list[tuple[float, int]] = []
    in_flight = peak = 0

    async def worker(budget: RedisBudget) -> None:
        nonlocal in_flight, peak
        for n in range(12):
            kind, items = ("batch", 5) if n % 3 == 0 else ("call", 1)
            async with spend(budget, kind, items):  # type: ignore[arg-type]
                in_flight += 1
                peak = max(peak, in_flight)
                log.append((time.monotonic(), items))
                if kind == "batch":
                    batches.append((time.monotonic(), 1))
                await asyncio.sleep(0.01)
                in_flight -= 1

    try:
        await asyncio.gather(*(worker(b) for b in (first, second, first, second)))
    finally:
        await other_client.aclose()
    assert sum(c for _, c in log) == 4 * (4 * 5 + 8)
    # Together they never went over either window (a small allowance for the local clock).
    assert _max_in_window(log, 0.49) <= 30
    assert _max_in_window(batches, 0.49) <= 4
    assert peak <= 4


async def test_redis_window_total_is_kept_not_recounted(redis_client) -> None:
    """A long window (HubSpot's daily one holds a day of requests) keeps its total in a key, so
    taking a place costs the expired entries, not a walk of the window; the total follows what
    is in the window, and over the cap the wait is the oldest entry's expiry."""
    from ledgerbridge.connectors.budget_redis import RedisBudget

    account = f"test-{uuid.uuid4().hex}"
    limits = Limits(
        (Window("daily", 8, 0.4), Window("batch", 100, 0.4, False, frozenset({"batch"}))),
        concurrency=10,
        reserve=0.0,
    )
    budget = RedisBudget(redis_client, account, limits, poll_seconds=0.005)
    key = f"lb:budget:{{{account}}}:w:"
    started = time.monotonic()
    for kind, items in [("call", 1), ("batch", 3), ("call", 1)]:
        async with spend(budget, kind, items):  # type: ignore[arg-type]
            pass
    assert float(await redis_client.get(key + "daily:sum")) == 5  # items metered: 1 + 3 + 1
    assert float(await redis_client.get(key + "batch:sum")) == 1
    async with spend(budget, "batch", 3):
        pass
    assert time.monotonic() - started < 0.3  # 8 of 8: no wait yet
    async with spend(budget, "call", 1):  # over the cap: waits for the first entries to expire
        pass
    assert time.monotonic() - started >= 0.38
    # The expired entries left the total with the window: what remains is counted once.
    members = await redis_client.zcard(key + "daily")
    costs = [int(c) for c in await redis_client.hvals(key + "daily:c")]
    assert len(costs) == members
    assert float(await redis_client.get(key + "daily:sum")) == sum(costs)


async def test_redis_budget_pause_is_shared(redis_client) -> None:
    from ledgerbridge.connectors.budget_redis import RedisBudget

    realm = f"test-{uuid.uuid4().hex}"
    limits = qbo_limits(time_scale=50)  # penalty 0.1 s
    first = RedisBudget(redis_client, realm, limits)
    second = RedisBudget(redis_client, realm, limits)
    await first.throttled(None)
    started = time.monotonic()
    async with spend(second, "call"):
        pass
    assert time.monotonic() - started >= 0.08


def test_settings_build_one_budget_per_realm_and_portal() -> None:
    from ledgerbridge.connectors.budget_redis import RedisBudget
    from ledgerbridge.pacing import connection_budgets
    from ledgerbridge.settings import Settings

    settings = Settings(qbo_batch_per_minute=40, qbo_sandbox_per_second=True)
    hubspot, qbo = connection_budgets(settings, "realm-a", "portal-a")
    assert isinstance(qbo, LocalBudget) and isinstance(hubspot, LocalBudget)
    assert [w.limit for w in qbo.limits.windows] == [500, 40, 10]
    assert [w.limit for w in hubspot.limits.windows][:2] == [190, 5]
    # Every connection to the same realm draws from the same budget; another realm has its own.
    assert connection_budgets(settings, "realm-a", "portal-b")[1] is qbo
    assert connection_budgets(settings, "realm-b", "portal-a")[1] is not qbo
    assert connection_budgets(Settings(rate_budget=False), "realm-a", "portal-a") == (None, None)
    shared = Settings(budget_redis_url="redis://127.0.0.1:6379/0")
    assert isinstance(connection_budgets(shared, "realm-a", "portal-a")[1], RedisBudget)


def test_redis_budget_works_from_one_event_loop_after_another(redis_client) -> None:
    """A Celery worker runs each task in an event loop; a test or a second runtime may use
    another loop in the same process. The budget built in the first loop must keep working in
    the next one (its Redis client belongs to one loop: each loop gets its own)."""
    from ledgerbridge.connectors.budget import Budgets
    from ledgerbridge.pacing import connection_budgets
    from ledgerbridge.settings import Settings

    settings = Settings(budget_redis_url=REDIS_URL)
    registry = Budgets()
    realm = f"loops-{uuid.uuid4().hex}"
    admitted: list[int] = []

    async def use() -> None:
        hubspot, qbo = connection_budgets(settings, realm, realm, registry)
        assert hubspot is not None and qbo is not None
        for budget in (hubspot, qbo):
            async with spend(budget, "call"):
                pass
            admitted.append(budget.stats.admitted)

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(use())
    finally:
        first.close()
    second = asyncio.new_event_loop()
    try:
        second.run_until_complete(use())  # the first loop is closed by now
        second.run_until_complete(use())
    finally:
        second.close()
    # One budget per account all along (the registry's), each admitting every call.
    assert admitted == [1, 1, 2, 2, 3, 3]


async def test_redis_budget_wakes_a_waiter_when_this_process_releases(redis_client) -> None:
    """A request waiting for a place (the concurrency limit) is woken by a release in the same
    process, instead of asking Redis again only every `poll_seconds` (which it still does, for
    other processes' releases): with a poll of 30 s, the second request goes as soon as the
    first is done."""
    from ledgerbridge.connectors.budget_redis import RedisBudget

    account = f"test-{uuid.uuid4().hex}"
    limits = Limits((Window("requests", 100, 10.0),), concurrency=1, reserve=0.0)
    budget = RedisBudget(redis_client, account, limits, poll_seconds=30.0)
    order: list[str] = []

    async def first() -> None:
        async with spend(budget, "call", 1):
            order.append("first in")
            await asyncio.sleep(0.05)
        order.append("first out")

    async def second() -> None:
        await asyncio.sleep(0.01)  # the first holds the only place
        async with spend(budget, "call", 1):
            order.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
    assert order == ["first in", "first out", "second in"]
