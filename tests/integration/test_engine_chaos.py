"""Chaos at the engine level: 200 HubSpot invoices with payments both ways, while both sandboxes
answer 5xx, 429 and commit-then-timeout faults, and the worker is killed mid-run and restarted
(a new engine on the same store). Everything converges: zero duplicates, every total and
balance equal to the cent."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from engine_world import World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.errors import SyncError
from ledgerbridge.sandbox.faults import FaultPlan

N_INVOICES = 200
KILL_AFTER_WRITES = 60
CHAOS = FaultPlan(
    error_rate=0.1, rate_limit_rate=0.05, commit_timeout_rate=0.1, retry_after=0, seed=2026
)


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-chaos-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _faults(world: World, plan: FaultPlan) -> None:
    for client, seed in ((world.clients[0], 1), (world.clients[1], 2)):
        body = plan.to_dict() | ({"seed": plan.seed + seed} if plan.seed is not None else {})
        response = await client.put("/_sandbox/faults", json=body)
        assert response.status_code == 200


async def _rounds(engine: SyncEngine, now: list[dt.datetime], count: int) -> None:
    for _ in range(count):
        with contextlib.suppress(SyncError):
            await engine.poll_once()
        await engine.run_once(100)
        now[0] += dt.timedelta(minutes=30)  # every backoff is due by the next round


@pytest.mark.slow
async def test_chaos_converges_without_duplicates_and_to_the_cent(world: World) -> None:
    rng = random.Random(7)
    products = [
        world.hs.product(f"Product {n}", f"SKU-{n}", price)
        for n, price in enumerate(["19.95", "75.00", "89.99", "249.50", "1200.00", "0.33"])
    ]
    contacts = [
        world.hs.contact(
            f"person{n}@company{n % 7}.example", first=f"P{n}", company=f"Company {n % 7}"
        )
        for n in range(25)
    ]
    invoices = []
    for n in range(N_INVOICES):
        lines = [
            (p, str(rng.choice([1, 2, 3, 7])), world.hs.props("products", p)["price"])
            for p in rng.sample(products, rng.randint(1, 3))
        ]
        invoices.append(
            world.hs.invoice(
                contacts[n % len(contacts)],
                lines,
                discount_percent=str(rng.choice([5, 10, 12.5])) if n % 4 == 0 else None,
                po=f"PO-{n}" if n % 3 == 0 else None,
            )
        )
    # A quarter of the invoices get a HubSpot payment (another processor) for part of the total.
    for invoice_id in invoices[::4]:
        billed = Decimal(world.hs.props("invoices", invoice_id)["hs_amount_billed"])
        world.hs.pay(invoice_id, str((billed / 3).quantize(Decimal("0.01"))))

    now = [dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)]
    await _faults(world, CHAOS)
    engine = world.engine
    engine.clock = lambda: now[0]
    # First worker: killed right after its KILL_AFTER_WRITES-th QBO write was answered, i.e.
    # with QBO holding writes the engine has not recorded yet (deterministic, not a timer; the
    # few requests already in flight still complete, as they would for a real killed worker).
    qbo_writes: list[str] = []
    task = asyncio.create_task(_rounds(engine, now, 50))

    async def kill_after_kth_write(response: httpx.Response) -> None:
        if response.request.method == "POST" and "/query" not in response.request.url.path:
            qbo_writes.append(response.request.url.path)
            if len(qbo_writes) == KILL_AFTER_WRITES:
                task.cancel()

    world.clients[1].event_hooks["response"].append(kill_after_kth_write)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    world.clients[1].event_hooks["response"].remove(kill_after_kth_write)
    assert len(qbo_writes) >= KILL_AFTER_WRITES, "the worker was not killed mid-run"
    killed_with = len(world.qbo.all("Invoice"))
    assert 0 < killed_with < N_INVOICES, killed_with

    # A new worker on the same store; claimed keys of the dead one come back after their lease.
    engine = world.with_settings(engine.settings)
    engine.clock = lambda: now[0]
    now[0] += dt.timedelta(hours=1)
    await _rounds(engine, now, 25)

    # QBO-side payments on half of the synced invoices, still under chaos.
    paid_in_qbo = []
    for invoice_id in invoices[1::2][:60]:
        link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
        if link is None or not link.qbo_id:
            continue
        qbo = world.qbo.get("Invoice", link.qbo_id)
        assert qbo is not None
        world.qbo.payment(qbo["CustomerRef"]["value"], [(link.qbo_id, str(qbo["Balance"]))])
        paid_in_qbo.append(invoice_id)
    await _rounds(engine, now, 25)
    await _faults(world, FaultPlan())
    await _rounds(engine, now, 5)

    # Converged: every invoice synced, once.
    statuses = Counter(world.invoice_state(i).status for i in invoices)
    assert statuses == Counter({SyncStatus.SYNCED: N_INVOICES}), statuses
    qbo_invoices = world.qbo.all("Invoice")
    assert len(qbo_invoices) == N_INVOICES
    markers = Counter(i.get("PrivateNote") for i in qbo_invoices)
    assert all(count == 1 for count in markers.values())
    emails = Counter(c["PrimaryEmailAddr"]["Address"] for c in world.qbo.all("Customer"))
    assert len(emails) == len(contacts) and set(emails.values()) == {1}
    assert world.qbo.added_items() == len(products)  # beyond the seed's default items
    assert len(world.hs.all("invoices")) == N_INVOICES
    hs_payments = [p.properties for p in world.hs.all("commerce_payments")]
    assert len([p for p in hs_payments if p.get("hs_processor_type") == "quickbooks"]) == len(
        paid_in_qbo
    )
    assert len(world.qbo.all("Payment")) == len(invoices[::4]) + len(paid_in_qbo)
    # Every total and balance equal to the cent on both sides.
    for invoice_id in invoices:
        props = world.hs.props("invoices", invoice_id)
        qbo = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
        assert qbo is not None
        assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"]), invoice_id
        assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]), invoice_id
    for invoice_id in paid_in_qbo:
        assert world.hs.props("invoices", invoice_id)["hs_invoice_status"] == "paid"
