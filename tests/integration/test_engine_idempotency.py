"""Idempotency: replayed and duplicated changes, commit-then-timeout faults, crashes between a
write and its bookkeeping, transient errors with backoff. Nothing is ever created twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.ports import INVOICE, RecordKey
from ledgerbridge.errors import SyncError
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-idem-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _faults(world: World, side: str, plan: FaultPlan) -> None:
    """Through the sandbox's own admin endpoint, as an operator would."""
    client = world.clients[0] if side == "hubspot" else world.clients[1]
    response = await client.put("/_sandbox/faults", json=plan.to_dict())
    assert response.status_code == 200, response.text


async def test_replayed_and_duplicated_changes_create_nothing_twice(world: World) -> None:
    contact = world.hs.contact("tara@tidewater.example", first="Tara", company="Tidewater Marine")
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "150.00")])
    event = ChangeEvent(Side.HUBSPOT, INVOICE, invoice_id)

    # The same webhook three times, before and after the first sync, plus a reordered old one.
    world.engine.handle_events([event, event, event])
    await world.sync()
    world.engine.handle_events([event, event])
    qbo_id = world.qbo_id_of(invoice_id)
    world.engine.handle_events([ChangeEvent(Side.QUICKBOOKS, INVOICE, qbo_id, version="0")])
    await world.sync()
    for _ in range(3):
        await world.engine.sync_key(
            RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
        )
        await world.engine.sync_key(
            RecordKey(world.connection_id, INVOICE, Side.QUICKBOOKS, qbo_id)
        )

    assert world.qbo.count("Invoice") == 1
    assert world.qbo.count("Customer") == 1
    assert world.qbo.added_items() == 1
    assert len(world.hs.all("invoices")) == 1
    assert world.invoice_state(invoice_id).status is SYNCED


async def test_lost_link_after_a_crash_is_recovered_by_natural_key(world: World) -> None:
    """The QBO invoice was created but the process died before recording the link: the next
    step (from either side) finds it by its marker / the HubSpot id and links it."""
    contact = world.hs.contact("umar@umbra.example", first="Umar", company="Umbra Design")
    product = world.hs.product("Platform license (monthly)", "LIC-MO", "499.00")
    invoice_id = world.hs.invoice(contact, [(product, "2", "499.00")])
    await world.sync()
    qbo_id = world.qbo_id_of(invoice_id)
    # Simulate the crash: forget the link and the sync properties on HubSpot.
    from sqlalchemy import delete

    from ledgerbridge.store.models import RecordLinkRow

    with world.store._write() as session:
        session.execute(
            delete(RecordLinkRow).where(
                RecordLinkRow.connection_id == world.connection_id,
                RecordLinkRow.object_type == INVOICE,
            )
        )
    world.hs.sb.update_object(
        "invoices", invoice_id, {"qbo_invoice_id": "", "ledgerbridge_sync_status": ""}
    )

    await world.engine.sync_key(RecordKey(world.connection_id, INVOICE, Side.QUICKBOOKS, qbo_id))
    await world.engine.sync_key(RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id))
    await world.sync()

    assert world.qbo.count("Invoice") == 1
    assert world.qbo_id_of(invoice_id) == qbo_id
    assert world.hs.props("invoices", invoice_id)["qbo_invoice_id"] == qbo_id
    assert len(world.hs.all("invoices")) == 1


async def test_commit_then_timeout_on_every_qbo_write_creates_exactly_one_of_each(
    world: World,
) -> None:
    await _faults(
        world, "quickbooks", FaultPlan(commit_timeout_rate=1.0, seed=7, only_methods=["POST"])
    )
    contact = world.hs.contact("vera@vista.example", first="Vera", company="Vista Optics")
    p1 = world.hs.product("Training seat", "TRN-SEAT", "249.50")
    p2 = world.hs.product("API add-on", "API-ADD", "75.00")
    invoice_id = world.hs.invoice(contact, [(p1, "2", "249.50"), (p2, "1", "75.00")], po="PO-77")

    await world.sync()
    await _faults(world, "quickbooks", FaultPlan())
    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    assert world.qbo.count("Invoice") == 1
    assert world.qbo.count("Customer") == 1
    assert world.qbo.added_items() == 2
    # A HubSpot payment recorded in QBO under the same fault: exactly one QBO payment.
    await _faults(
        world, "quickbooks", FaultPlan(commit_timeout_rate=1.0, seed=8, only_methods=["POST"])
    )
    payment_id = world.hs.pay(invoice_id, "574.00")
    await world.sync()
    await _faults(world, "quickbooks", FaultPlan())
    await world.sync()
    assert world.qbo.count("Payment") == 1
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == Decimal("0")


async def test_transient_errors_back_off_and_then_converge(world: World) -> None:
    now = [dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)]
    world.engine.clock = lambda: now[0]
    world.engine.changes.clock = world.engine.clock
    contact = world.hs.contact("wes@wharf.example", first="Wes", company="Wharf Supply")
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "150.00")])
    key = RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    await _faults(world, "quickbooks", FaultPlan(error_rate=1.0, seed=1))

    world.store.mark_dirty(key, "test")
    report = await world.engine.run_once()
    assert report.retrying == 1
    state = world.invoice_state(invoice_id)
    assert state.status is SyncStatus.PENDING and state.category == "transient"
    assert state.attempts == 1
    assert state.next_attempt_at is not None
    first_delay = (state.next_attempt_at - now[0]).total_seconds()
    assert first_delay == world.engine.backoff(1) == 2.0
    # Not due yet: nothing runs.
    assert (await world.engine.run_once()).claimed == 0
    now[0] += dt.timedelta(seconds=2)
    await world.engine.run_once()
    state = world.invoice_state(invoice_id)
    assert state.attempts == 2
    assert (state.next_attempt_at - now[0]).total_seconds() == 4.0  # type: ignore[operator]

    await _faults(world, "quickbooks", FaultPlan())
    now[0] += dt.timedelta(seconds=4)
    report = await world.engine.run_once()
    assert report.synced == 1
    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED and state.attempts == 0
    assert world.qbo.count("Invoice") == 1


async def test_backoff_is_capped_and_gives_up_visibly(world: World) -> None:
    settings = world.engine.settings.model_copy(
        update={"max_attempts": 3, "backoff_cap_seconds": 3.0}
    )
    engine = world.with_settings(settings)
    assert [engine.backoff(n) for n in (1, 2, 3, 4)] == [2.0, 3.0, 3.0, 3.0]
    now = [dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)]
    engine.clock = lambda: now[0]
    contact = world.hs.contact("xena@xylo.example", first="Xena", company="Xylo")
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "150.00")])
    await _faults(world, "quickbooks", FaultPlan(error_rate=1.0, seed=3))
    world.store.mark_dirty(
        RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id), "test"
    )
    for _ in range(3):
        await engine.run_once()
        now[0] += dt.timedelta(seconds=10)
    state = world.invoice_state(invoice_id)
    assert state.status is SyncStatus.FAILED and state.category == "transient"
    assert "gave up after 3 attempts" in (state.message or "")
    assert world.hs.props("invoices", invoice_id)["ledgerbridge_sync_status"] == "failed"
    assert (await engine.run_once()).claimed == 0  # no longer retried on its own


async def test_rate_limits_and_5xx_on_both_sides_still_converge(world: World) -> None:
    contact = world.hs.contact("yara@yonder.example", first="Yara", company="Yonder Labs")
    product = world.hs.product("Extra storage 100GB", "STO-100", "19.95")
    invoices = [world.hs.invoice(contact, [(product, str(n), "19.95")]) for n in range(1, 6)]
    await _faults(
        world, "quickbooks", FaultPlan(error_rate=0.2, rate_limit_rate=0.1, retry_after=0, seed=11)
    )
    await _faults(
        world, "hubspot", FaultPlan(error_rate=0.2, rate_limit_rate=0.1, retry_after=0, seed=12)
    )
    now = [dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)]
    world.engine.clock = lambda: now[0]
    for _ in range(40):
        with contextlib.suppress(SyncError):  # a failed poll is simply tried again next round
            await world.engine.poll_once()
        await world.engine.run_once(100)
        now[0] += dt.timedelta(minutes=20)
        if all(
            (world.state(INVOICE, Side.HUBSPOT, i) or _none()).status is SYNCED for i in invoices
        ):
            break
    await _faults(world, "quickbooks", FaultPlan())
    await _faults(world, "hubspot", FaultPlan())
    assert [world.invoice_state(i).status for i in invoices] == [SYNCED] * 5
    assert world.qbo.count("Invoice") == 5
    assert world.qbo.count("Customer") == 1
    assert world.qbo.added_items() == 1
    totals = sorted(Decimal(str(i["TotalAmt"])) for i in world.qbo.all("Invoice"))
    assert totals == [Decimal("19.95") * n for n in range(1, 6)]


class _NoState:
    status = None


def _none() -> _NoState:
    return _NoState()
