"""The QBO connector paced by its realm's budget against the sandbox's real limits (time-scaled):
no 429 at full speed with /batch items metered, the sandbox-company 10/s rule, the 40-per-minute
/batch variant, and a 429 storm that slows requests down but never fails them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.budget import LocalBudget, bulk_lane, qbo_limits
from ledgerbridge.connectors.inprocess import InProcessTransport
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.sandbox.quickbooks import create_app

BASE = "http://quickbooks.test"
SCALE = 30.0  # one QBO minute lasts two seconds


class Counting(InProcessTransport):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if "/v3/company/" in request.url.path:
            self.statuses.append(response.status_code)
        return response


async def _world(**limits: Any) -> tuple[Any, Counting, httpx.AsyncClient, QuickBooksConnector]:
    app = create_app(seed="empty", throttle=True, time_scale=SCALE)
    sandbox = app.state.sandbox
    sandbox.throttle.limits.batch_per_minute = limits.get("batch_per_minute", 120)
    sandbox.throttle.limits.per_second = 10 if limits.get("sandbox_per_second") else None
    transport = Counting(app)
    http = httpx.AsyncClient(transport=transport, base_url=BASE)
    budget = LocalBudget(qbo_limits(time_scale=SCALE, **limits))
    qbo = QuickBooksConnector(
        http,
        StaticTokenProvider("qbo-sandbox-token"),
        sandbox.default_realm_id,
        base_url=BASE,
        budget=budget,
    )
    return app, transport, http, qbo


QUERY = {"Query": "select * from Item maxresults 1"}


async def _load(qbo: QuickBooksConnector, batches: int, singles: int) -> None:
    async def batch(n: int) -> None:
        with bulk_lane():
            answer = await qbo.api.batch([{"bId": str(i), **QUERY} for i in range(30)])
            assert len(answer) == 30

    async def single() -> None:
        await qbo.api.query("select * from Item maxresults 1")

    await asyncio.gather(*(batch(n) for n in range(batches)), *(single() for _ in range(singles)))


@pytest.mark.parametrize("batch_per_minute", [120, 40])
async def test_full_speed_with_batch_items_metered_never_gets_a_429(batch_per_minute: int) -> None:
    app, transport, http, qbo = await _world(batch_per_minute=batch_per_minute)
    async with http:
        started = time.monotonic()
        await _load(qbo, batches=40, singles=60)  # 1,260 metered requests
        elapsed = time.monotonic() - started
    assert 429 not in transport.statuses
    assert app.state.sandbox.throttle.rejected == 0
    minute = 60 / SCALE
    # 1,260 metered requests need at least 2 minutes at 500/min (the window opens full);
    # paced, not stalled: close to what the budget allows.
    assert elapsed >= 1.9 * minute
    assert elapsed <= 4.0 * minute


async def test_sandbox_company_ten_per_second() -> None:
    app, transport, http, qbo = await _world(sandbox_per_second=True)
    async with http:
        await asyncio.gather(*(qbo.api.query("select * from Item maxresults 1") for _ in range(40)))
    assert 429 not in transport.statuses and len(transport.statuses) == 40
    assert app.state.sandbox.throttle.rejected == 0


async def test_a_429_storm_slows_requests_but_never_fails_them() -> None:
    _app, transport, http, qbo = await _world()
    async with http:
        response = await http.put(
            "/_sandbox/faults", json=FaultPlan(rate_limit_rate=0.4, seed=8).to_dict()
        )
        assert response.status_code == 200
        answers = await asyncio.gather(
            *(qbo.api.query("select * from Item maxresults 1") for _ in range(30))
        )
    assert len(answers) == 30
    assert transport.statuses.count(429) >= 5  # it was a storm...
    assert qbo.api.transport.budget is not None
    assert qbo.api.transport.budget.stats.throttled == transport.statuses.count(429)
