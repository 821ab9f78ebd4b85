"""Backfill under QuickBooks' real limits (time-scaled: a QBO minute lasts one second): killed
mid-run it resumes from its checkpoint without duplicates and without reading or sending the
finished pages again; a storm of Retry-After-less 429s slows it down but never stops it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from engine_world import World, make_world

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.budget import LocalBudget, bulk_lane, current_lane, qbo_limits
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.hubspot.translate import QBO_INVOICE_ID
from ledgerbridge.connectors.inprocess import InProcessTransport
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.checkpoint import Checkpoint
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, RecordKey
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.sandbox.faults import FaultPlan

SCALE = 60.0


class Recorder(InProcessTransport):
    """Counts what reaches a sandbox: HubSpot invoice reads by id, QBO requests and items."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.hubspot_reads: list[str] = []
        self.qbo_invoice_creates = 0
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/objects/invoices/batch/read"):
            body = json.loads(request.content or b"{}")
            self.hubspot_reads += [str(i["id"]) for i in body.get("inputs", [])]
        if path.endswith("/batch") and "/v3/company/" in path:
            body = json.loads(request.content or b"{}")
            items = body.get("BatchItemRequest", [])
            self.qbo_invoice_creates += sum(
                1 for i in items if "Invoice" in i and i.get("operation") == "create"
            )
        elif path.endswith("/invoice") and request.method == "POST":
            self.qbo_invoice_creates += 1
        response = await super().handle_async_request(request)
        if "/v3/company/" in path:
            self.statuses.append(response.status_code)
        return response


class Limited:
    """The world's engine rebuilt on connectors that pace QBO by a realm budget."""

    def __init__(self, world: World) -> None:
        self.world = world
        sandbox = world.qbo_app.state.sandbox
        sandbox.throttle.enabled = True
        sandbox.throttle.time_scale = SCALE
        self.qbo_rec = Recorder(world.qbo_app)
        self.hs_rec = Recorder(world.hubspot_app)
        self.budget = LocalBudget(qbo_limits(time_scale=SCALE))
        self.http = [
            httpx.AsyncClient(transport=self.hs_rec, base_url="http://hubspot.test"),
            httpx.AsyncClient(transport=self.qbo_rec, base_url="http://qbo.test"),
        ]

    def engine(self, settings: SyncSettings | None = None) -> SyncEngine:
        """A fresh engine, as a restarted process would build it (the budget is the realm's)."""
        crm = HubSpotConnector(
            self.http[0], StaticTokenProvider("pat-sandbox"), base_url="http://hubspot.test"
        )
        ledger = QuickBooksConnector(
            self.http[1],
            StaticTokenProvider("qbo-sandbox-token"),
            self.world.qbo_app.state.sandbox.default_realm_id,
            base_url="http://qbo.test",
            budget=self.budget,
        )
        return SyncEngine(
            self.world.connection_id, crm, ledger, self.world.store, settings or SyncSettings()
        )

    async def close(self) -> None:
        for client in self.http:
            await client.aclose()


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"bf-limits-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _invoices(world: World, count: int) -> dict[str, Decimal]:
    contacts = [
        world.hs.contact(f"c{n}@limits.example", first=f"C{n}", company=f"Limits {n}")
        for n in range(5)
    ]
    products = [world.hs.product(f"Thing {n}", f"TH-{n}", "10.00") for n in range(2)]
    totals: dict[str, Decimal] = {}
    for n in range(count):
        quantity = n % 4 + 1
        invoice = world.hs.invoice(
            contacts[n % 5], [(products[n % 2], str(quantity), "12.50")], po=f"PO-{n}"
        )
        totals[invoice] = Decimal("12.50") * quantity
    return totals


def _check_exactly_once(world: World, totals: dict[str, Decimal]) -> None:
    qbo_invoices = world.qbo.all("Invoice")
    assert len(qbo_invoices) == len(totals)
    by_id = {str(i["Id"]): i for i in qbo_invoices}
    linked = {hs: world.qbo_id_of(hs) for hs in totals}
    assert len(set(linked.values())) == len(totals)  # every invoice exactly once
    for hs_id, total in totals.items():
        assert Decimal(str(by_id[linked[hs_id]]["TotalAmt"])) == total
        assert world.hs.props("invoices", hs_id).get(QBO_INVOICE_ID) == linked[hs_id]


async def test_killed_backfill_resumes_without_duplicates_or_resent_pages(world: World) -> None:
    totals = _invoices(world, 240)  # three pages of HubSpot invoices
    limited = Limited(world)
    try:
        first = asyncio.create_task(_drain(limited.engine(), batch=100))
        # Kill it in the middle of the second page: after the first page's checkpoint, with
        # part of the second page created in QBO.
        while True:
            await asyncio.sleep(0.005)
            saved = Checkpoint.load(world.store, world.connection_id)
            if saved is not None and saved.done >= 100 and world.qbo.count("Invoice") >= 130:
                break
            assert not first.done(), "the backfill ended before it could be killed"
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        checkpoint = Checkpoint.load(world.store, world.connection_id)
        assert checkpoint is not None and not checkpoint.finished
        assert checkpoint.phase == "hubspot invoices" and checkpoint.cursor
        linked_before = {
            hs
            for hs in totals
            if world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, hs)
        }
        created_before = limited.qbo_rec.qbo_invoice_creates
        reads_before = len(limited.hs_rec.hubspot_reads)
        assert 100 <= len(linked_before) < 240

        progress = await _drain(limited.engine(), batch=100)

        assert progress[-1].phase == "done" and progress[-1].resumed
        assert progress[-1].failed == 0
        _check_exactly_once(world, totals)
        # Nothing finished was read or sent again.
        read_again = set(limited.hs_rec.hubspot_reads[reads_before:]) & linked_before
        assert read_again == set()
        created_after = limited.qbo_rec.qbo_invoice_creates - created_before
        assert created_after <= 240 - len(linked_before)
        # Paced: QBO never had to refuse a request.
        assert 429 not in limited.qbo_rec.statuses
        assert Checkpoint.load(world.store, world.connection_id).finished  # type: ignore[union-attr]
    finally:
        await limited.close()


async def test_a_429_storm_slows_the_backfill_but_never_stops_it(world: World) -> None:
    totals = _invoices(world, 120)
    limited = Limited(world)
    try:
        faults = FaultPlan(rate_limit_rate=0.3, seed=4).to_dict()
        assert (await limited.http[1].put("/_sandbox/faults", json=faults)).status_code == 200
        progress = await _drain(limited.engine())
        assert progress[-1].phase == "done"
        assert progress[-1].synced == 120 and progress[-1].failed == 0
        assert limited.qbo_rec.statuses.count(429) >= 10  # it was a storm
        assert limited.budget.stats.throttled == limited.qbo_rec.statuses.count(429)
        await limited.http[1].put("/_sandbox/faults", json=FaultPlan().to_dict())
        _check_exactly_once(world, totals)
    finally:
        await limited.close()


async def test_progress_shows_total_rate_and_eta(world: World) -> None:
    _invoices(world, 150)
    limited = Limited(world)
    try:
        # Four pages, two in flight at a time: the first report comes with pages still to do
        progress = await _drain(limited.engine(), batch=40)
        invoices = [p for p in progress if p.phase == "hubspot invoices"]
        assert invoices[0].total == 150
        assert invoices[0].eta_seconds is not None and invoices[0].eta_seconds > 0
        assert invoices[-1].eta_seconds == 0 and invoices[-1].rate
    finally:
        await limited.close()


async def _drain(engine: SyncEngine, batch: int = 200) -> list[Any]:
    return [p async for p in engine.backfill(batch=batch)]


async def test_live_changes_go_ahead_of_a_running_backfill(world: World) -> None:
    totals = _invoices(world, 90)
    limited = Limited(world)
    # A tight realm (200 requests per QBO minute of two seconds) kept full by a backfill and a
    # reconcile-like reader, so bulk requests are always queued at the budget.
    sandbox = world.qbo_app.state.sandbox
    sandbox.throttle.time_scale = 30.0
    sandbox.throttle.limits.per_minute = 200
    limited.budget = LocalBudget(qbo_limits(time_scale=30.0, per_minute=200))
    contact = world.hs.contact("live@limits.example", first="Live", company="Live Co")
    product = world.hs.product("Live thing", "LIVE-1", "99.00")
    loop = asyncio.get_running_loop()
    # Every admission the budget makes, in order, with its lane and how many bulk requests
    # were waiting at the budget when it was asked for: the proof that live requests go first
    # is in this order, not in a stopwatch.
    admitted: list[tuple[str, int]] = []  # (lane, index in `admitted` when it was asked for)
    watched: list[int] = []  # indexes in `admitted` of the live changes' requests
    in_live_change = False
    bulk_waiting = 0
    live_asked_with_bulk_waiting: list[int] = []
    real_acquire = limited.budget.acquire

    async def acquire(kind: Any, items: int = 1, lane: Any = None) -> Any:
        nonlocal bulk_waiting
        lane = lane or current_lane()
        asked = len(admitted)
        watch = in_live_change and lane == "live"
        if lane == "bulk":
            bulk_waiting += 1
        elif watch:
            live_asked_with_bulk_waiting.append(bulk_waiting)
        try:
            return await real_acquire(kind, items, lane)
        finally:
            if lane == "bulk":
                bulk_waiting -= 1
            if watch:
                watched.append(len(admitted))
            admitted.append((lane, asked))

    limited.budget.acquire = acquire  # type: ignore[method-assign]
    try:
        started = loop.time()
        backfill = asyncio.create_task(_drain(limited.engine()))
        reader = limited.engine().ledger

        async def reconcile() -> None:
            with bulk_lane():
                query = "select * from Item maxresults 1"
                await asyncio.gather(*(reader.api.query(query) for _ in range(350)))  # type: ignore[attr-defined]

        bulk_reads = asyncio.create_task(reconcile())
        live = limited.engine()
        for n in range(3):
            await asyncio.sleep(0.8)
            assert not backfill.done() or not bulk_reads.done()
            invoice = world.hs.invoice(contact, [(product, "1", "99.00")], po=f"LIVE-{n}")
            totals[invoice] = Decimal("99.00")
            in_live_change = True
            await live.sync_key(RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice))
            in_live_change = False
            assert world.hs.props("invoices", invoice).get(QBO_INVOICE_ID)
        progress = await backfill
        await bulk_reads
        took = loop.time() - started
        assert progress[-1].phase == "done" and progress[-1].failed == 0
        # The bulk work needed several paced windows; every live change went through in a
        # fraction of one, ahead of the bulk lane's queued requests.
        assert took > 3.0
        # Bulk requests were queued at the budget when the live changes asked, and none of them
        # was admitted while a live request waited: live changes went first.
        # (The last live change may come when the bulk work has just finished.)
        assert live_asked_with_bulk_waiting[0] > 0, str(live_asked_with_bulk_waiting)
        assert len(watched) == len(live_asked_with_bulk_waiting) >= 3
        for index in watched:
            asked = admitted[index][1]
            overtaken = [n for n in range(asked, index) if admitted[n][0] == "bulk"]
            assert overtaken == [], (index, overtaken)
        assert 429 not in limited.qbo_rec.statuses
        _check_exactly_once(world, totals)
    finally:
        await limited.close()


async def test_a_step_that_stays_rate_limited_is_requeued_never_failed(world: World) -> None:
    totals = _invoices(world, 1)
    invoice = next(iter(totals))
    limited = Limited(world)
    limited.budget = LocalBudget(qbo_limits(time_scale=2000.0))  # 429 pauses of a few ms
    engine = limited.engine(SyncSettings(max_attempts=2))
    key = RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice)
    try:
        always = FaultPlan(rate_limit_rate=1.0).to_dict()
        assert (await limited.http[1].put("/_sandbox/faults", json=always)).status_code == 200
        for _ in range(3):  # past max_attempts
            await engine.sync_key(key)
            state = world.invoice_state(invoice)
            assert state.status is SyncStatus.PENDING and state.next_attempt_at is not None
        assert limited.budget.stats.throttled >= 3 * 12
        await limited.http[1].put("/_sandbox/faults", json=FaultPlan().to_dict())
        await engine.sync_key(key)
        assert world.invoice_state(invoice).status is SyncStatus.SYNCED
        _check_exactly_once(world, totals)
    finally:
        await limited.close()


async def test_dry_run_writes_nothing_and_says_how_long_the_real_run_takes(world: World) -> None:
    _invoices(world, 120)
    limited = Limited(world)
    try:
        progress = await _drain_dry(limited.engine())
        report = progress[-1].report
        assert report is not None and len(report.create) == 120
        assert report.customers_to_create == 5 and report.items_to_create == 2
        # 127 creates in 4 batches + 7 calls, at 470 per QBO minute of one second.
        assert report.estimated_seconds == pytest.approx(127 / 470, rel=0.01)
        assert limited.qbo_rec.qbo_invoice_creates == 0 and world.qbo.count("Invoice") == 0
        assert world.qbo.count("Customer") == 0
        assert Checkpoint.load(world.store, world.connection_id) is None  # nothing stored
    finally:
        await limited.close()


async def _drain_dry(engine: SyncEngine) -> list[Any]:
    return [p async for p in engine.backfill(dry_run=True)]
