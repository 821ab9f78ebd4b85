"""Deal roll-ups: a deal's ledgerbridge properties follow its invoices (the latest invoice's
status, numbers, amounts and due date; totals invoiced, paid and outstanding), including
payments recorded in QuickBooks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Invoice, InvoiceStatus
from ledgerbridge.engine.deals import rollup
from ledgerbridge.engine.fieldmap import SyncSettings


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-deals-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def test_deal_properties_follow_its_invoices_and_their_payments(world: World) -> None:
    hs = world.hs
    contact = hs.contact("dana@deal.example", company="Deal Co")
    product = hs.product("Seat", "SEAT-1", "120.00")
    deal = str(hs.sb.create_object("deals", {"dealname": "Deal Co renewal", "amount": "600"}))
    first = hs.invoice(contact, [(product, "2", "120.00")], hs_due_date="2026-12-01")
    second = hs.invoice(contact, [(product, "3", "120.00")], hs_due_date="2026-12-15")
    for invoice_id in (first, second):
        hs.sb.associate("invoices", invoice_id, "deals", deal, 175)

    await world.sync()

    assert world.invoice_state(first).status is SYNCED
    assert world.invoice_state(second).status is SYNCED
    props = hs.props("deals", deal)
    assert props["ledgerbridge_invoice_count"] == "2"
    assert Decimal(props["ledgerbridge_total_invoiced"]) == Decimal("600.00")
    assert Decimal(props["ledgerbridge_total_paid"]) == Decimal("0.00")
    assert Decimal(props["ledgerbridge_total_outstanding"]) == Decimal("600.00")
    assert props["ledgerbridge_invoice_currency"] == "USD"
    latest = hs.props("invoices", second)
    assert props["ledgerbridge_invoice_number"] == latest["hs_number"]
    assert props["ledgerbridge_qbo_invoice_number"] == latest["qbo_doc_number"]
    assert props["ledgerbridge_invoice_due_date"] == "2026-12-15"

    # A payment recorded in QuickBooks on the first invoice reaches HubSpot and the deal.
    qbo_first = world.qbo.get("Invoice", world.qbo_id_of(first))
    assert qbo_first is not None
    world.qbo.payment(qbo_first["CustomerRef"]["value"], [(qbo_first["Id"], "100.00")])
    await world.sync()

    props = hs.props("deals", deal)
    assert Decimal(props["ledgerbridge_total_paid"]) == Decimal("100.00")
    assert Decimal(props["ledgerbridge_total_outstanding"]) == Decimal("500.00")
    # Both books agree on what the deal's invoices still owe.
    qbo_balances = sum(
        Decimal(str(world.qbo.get("Invoice", world.qbo_id_of(i))["Balance"]))  # type: ignore[index]
        for i in (first, second)
    )
    assert qbo_balances == Decimal(props["ledgerbridge_total_outstanding"])


async def test_rollups_off_leave_deals_alone(sqlite_db_url: str) -> None:
    w = await make_world(
        sqlite_db_url,
        f"engine-deals-{uuid.uuid4().hex[:8]}",
        settings=SyncSettings(deal_rollups=False),
    )
    try:
        contact = w.hs.contact("off@deal.example", company="Off Co")
        product = w.hs.product("Seat", "SEAT-2", "50.00")
        deal = str(w.hs.sb.create_object("deals", {"dealname": "Off"}))
        invoice = w.hs.invoice(contact, [(product, "1", "50.00")])
        w.hs.sb.associate("invoices", invoice, "deals", deal, 175)
        await w.sync()
        assert w.invoice_state(invoice).status is SYNCED
        assert not w.hs.props("deals", deal).get("ledgerbridge_invoice_count")
    finally:
        await w.close()


def _inv(currency: str, total: str, paid: str, status: InvoiceStatus, version: str) -> Invoice:
    return Invoice(
        currency=currency,
        status=status,
        amount_paid=Decimal(paid),
        balance_due=Decimal(total) - Decimal(paid),
        context={"invoice.hs_amount_billed": total},
        version=version,
        id=version,
    )


def test_rollup_arithmetic_voids_drafts_and_currencies() -> None:
    r = rollup(
        [
            _inv("USD", "100.00", "100.00", InvoiceStatus.PAID, "1000"),
            _inv("USD", "250.50", "50.25", InvoiceStatus.OPEN, "3000"),
            _inv("USD", "75.00", "0", InvoiceStatus.VOIDED, "4000"),
            _inv("EUR", "90.00", "0", InvoiceStatus.OPEN, "2000"),
            _inv("USD", "999.00", "0", InvoiceStatus.DRAFT, "5000"),
        ]
    )
    assert r.latest_invoice_id == "4000"  # the voided one was updated last
    assert r.latest_status == "voided"
    assert r.latest_balance_due == Decimal("0")
    assert r.invoice_count == 3  # voided and draft left out
    assert (r.total_invoiced, r.total_paid, r.total_outstanding) == (
        Decimal("350.50"),
        Decimal("150.25"),
        Decimal("200.25"),
    )
    assert r.other_currency == 1
    assert rollup([]).invoice_count == 0
