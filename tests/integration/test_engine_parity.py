"""The rounding parity check, provoked through the QBO sandbox's rounding knob.

A 5% discount on 100.50 is 5.025: HubSpot rounds it half up (5.03, billed 95.47). A company
rounding half to even computes 5.02 and a total of 95.48. The engine must not call that synced.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import FAILED, SYNCED, World, make_world

from ledgerbridge.engine.backfill import BackfillProgress
from ledgerbridge.engine.ports import INVOICE


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-parity-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _discounted_invoice(world: World, email: str) -> str:
    contact = world.hs.contact(email, company=None)
    product = world.hs.product("Audit day", "AUD-DAY", "100.50")
    return world.hs.invoice(contact, [(product, "1", "100.50")], discount_percent="5")


def _qbo_total(world: World, hs_id: str) -> Decimal:
    invoice = world.qbo.get("Invoice", world.qbo_id_of(hs_id))
    assert invoice is not None
    return Decimal(str(invoice["TotalAmt"]))


async def test_same_totals_sync_when_both_sides_round_half_up(world: World) -> None:
    invoice_id = _discounted_invoice(world, "hale@harbor.example")
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    assert _qbo_total(world, invoice_id) == Decimal("95.47")
    assert world.hs.props("invoices", invoice_id)["hs_amount_billed"] == "95.47"


async def test_rounding_mismatch_fails_visibly_is_audited_and_stays_failed(world: World) -> None:
    world.qbo.state.rounding = "half_even"
    invoice_id = _discounted_invoice(world, "ivy@inlet.example")

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is FAILED and state.category == "validation"
    assert state.message == "QuickBooks computed 95.48, HubSpot billed 95.47"
    assert state.hint and "rounded" in state.hint and "discount" in state.hint
    # The QBO invoice exists (created once, linked) with QBO's own total.
    assert world.qbo.count("Invoice") == 1
    assert _qbo_total(world, invoice_id) == Decimal("95.48")
    props = world.hs.props("invoices", invoice_id)
    assert props["ledgerbridge_sync_status"] == "failed"
    assert "QuickBooks computed 95.48, HubSpot billed 95.47" in props["ledgerbridge_sync_error"]
    audit = [
        e
        for e in world.store.list_audit(world.connection_id, INVOICE, invoice_id)
        if e.field_name == "total"
    ]
    assert len(audit) == 1
    assert (audit[0].old, audit[0].new) == ("95.47", "95.48")

    # A retry alone cannot hide it: nothing is written, the totals still differ.
    assert world.store.retry(state.key)
    await world.sync()
    again = world.invoice_state(invoice_id)
    assert again.status is FAILED and again.message == state.message
    assert world.qbo.count("Invoice") == 1

    # The user follows the hint (a fixed-amount discount) and retries: both totals agree.
    discount = world.hs.sb.linked(world.hs.sb.store.get("invoices", invoice_id), "discounts")[0]
    world.hs.sb.update_object("discounts", discount.id, {"hs_type": "FIXED", "hs_value": "5.03"})
    world.hs.sb.update_object("invoices", invoice_id, {"hs_comments": "fixed discount"})  # saved
    assert world.store.retry(state.key)
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    assert _qbo_total(world, invoice_id) == Decimal("95.47")
    assert world.qbo.count("Invoice") == 1
    assert world.hs.props("invoices", invoice_id)["ledgerbridge_sync_status"] == "synced"


async def test_update_that_qbo_rounds_differently_fails(world: World) -> None:
    world.qbo.state.rounding = "half_even"
    contact = world.hs.contact("jade@jetty.example", company=None)
    product = world.hs.product("Audit day", "AUD-DAY", "100.50")
    invoice_id = world.hs.invoice(contact, [(product, "1", "100.50")])
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED

    world.hs.sb.create_object(
        "discounts",
        {"hs_label": "loyalty", "hs_type": "PERCENT", "hs_value": "5", "hs_sort_order": "1"},
        [{"to": {"id": invoice_id}, "types": [_discount_type()]}],
    )
    world.hs.sb.update_object("invoices", invoice_id, {"hs_comments": "loyalty discount"})
    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is FAILED and state.category == "validation"
    assert state.message == "QuickBooks computed 95.48, HubSpot billed 95.47"
    assert world.qbo.count("Invoice") == 1


async def test_backfill_batch_creates_are_checked_too(world: World) -> None:
    world.qbo.state.rounding = "half_even"
    mismatched = _discounted_invoice(world, "kit@keel.example")
    contact = world.hs.contact("lou@lagoon.example", company=None)
    product = world.hs.product("Support plan", "SUP-PRO", "89.99")
    fine = world.hs.invoice(contact, [(product, "2", "89.99")])

    progress: list[BackfillProgress] = [p async for p in world.engine.backfill()]

    assert progress
    assert world.invoice_state(fine).status is SYNCED
    state = world.invoice_state(mismatched)
    assert state.status is FAILED and state.message == (
        "QuickBooks computed 95.48, HubSpot billed 95.47"
    )


def _discount_type() -> dict[str, object]:
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 412}
