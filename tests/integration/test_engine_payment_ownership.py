"""HubSpot owns refunds and deletes of the payments copied from QBO: a later change of the QBO
payment never reverts a refund and never re-creates a deleted payment; balances stay right.

The refund and the delete are made the way the console makes them (payment_actions.py): a
properties update (`hs_refunds_amount`, `hs_latest_status`) and an archive of the commerce payment.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.ownership import WINNER
from ledgerbridge.engine.ports import PAYMENT


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-own-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _paid_in_qbo(world: World, email: str) -> tuple[str, dict[str, Any], str]:
    """A synced 1000.00 HubSpot invoice with a 400.00 QBO payment copied to HubSpot:
    (HubSpot invoice id, QBO payment, HubSpot payment id)."""
    contact = world.hs.contact(email, company=None)
    product = world.hs.product("Consulting hour", "CONS-HR", "250.00")
    invoice_id = world.hs.invoice(contact, [(product, "4", "250.00")])
    await world.sync()
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    payment = world.qbo.payment(
        qbo_invoice["CustomerRef"]["value"],
        [(qbo_invoice["Id"], "400.00")],
        PaymentRefNum="CHK-881",
    )
    await world.sync()
    copies = _live_copies(world, invoice_id)
    assert len(copies) == 1
    return invoice_id, payment, copies[0].id


def _live_copies(world: World, invoice_id: str) -> list[Any]:
    record = world.hs.sb.store.get("invoices", invoice_id)
    return [
        r
        for r in world.hs.sb.linked(record, "commerce_payments")
        if r.properties.get("hs_processor_type") == "quickbooks"
    ]


def _all_quickbooks_payments(world: World) -> list[Any]:
    return [
        r
        for r in world.hs.all("commerce_payments")
        if r.properties.get("hs_processor_type") == "quickbooks"
    ]


def _change_qbo_payment(world: World, payment: dict[str, Any], **changes: Any) -> None:
    current = world.qbo.get("Payment", payment["Id"])
    assert current is not None
    body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True, **changes}
    world.qbo.state.update_entity(world.qbo.realm, "Payment", body)


def _balance(world: World, invoice_id: str) -> Decimal:
    return Decimal(world.hs.props("invoices", invoice_id)["hs_balance_due"])


def _ownership_audit(world: World, payment: dict[str, Any]) -> list[Any]:
    entries = world.store.list_audit(world.connection_id, PAYMENT, str(payment["Id"]))
    return [e for e in entries if e.winner == WINNER]


async def test_refund_in_hubspot_stays_when_the_qbo_payment_changes(world: World) -> None:
    invoice_id, payment, copy_id = await _paid_in_qbo(world, "rosa@reef.example")
    # The console's refund of 150.00.
    await world.crm.api.update(
        "commerce_payments",
        copy_id,
        {"hs_refunds_amount": "150.00", "hs_latest_status": "partially_refunded"},
    )
    assert _balance(world, invoice_id) == Decimal("750.00")  # 1000 - (400 - 150)

    _change_qbo_payment(world, payment, PaymentRefNum="CHK-882")
    await world.sync()

    copy = world.hs.props("commerce_payments", copy_id)
    assert copy["hs_latest_status"] == "partially_refunded"
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("150.00")
    assert copy["hs_reference_number"] == "CHK-882"  # what QBO owns still flows
    assert [r.id for r in _live_copies(world, invoice_id)] == [copy_id]
    assert _balance(world, invoice_id) == Decimal("750.00")
    state = world.payment_state(Side.QUICKBOOKS, payment["Id"])
    assert state is not None and state.status is SYNCED
    audit = _ownership_audit(world, payment)
    assert len(audit) == 1 and "partially_refunded" in str(audit[0].new)

    # The bookkeeper corrects the amount in QBO: the copy follows, the refund still stands.
    qbo_invoice_id = world.qbo_id_of(invoice_id)
    _change_qbo_payment(
        world,
        payment,
        TotalAmt="500.00",
        Line=[{"Amount": "500.00", "LinkedTxn": [{"TxnId": qbo_invoice_id, "TxnType": "Invoice"}]}],
    )
    await world.sync()
    copy = world.hs.props("commerce_payments", copy_id)
    assert Decimal(copy["hs_initial_amount"]) == Decimal("500.00")
    assert copy["hs_latest_status"] == "partially_refunded"
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("150.00")
    assert _balance(world, invoice_id) == Decimal("650.00")  # 1000 - (500 - 150)
    assert len(_all_quickbooks_payments(world)) == 1


async def test_deleted_in_hubspot_is_not_recreated_when_the_qbo_payment_changes(
    world: World,
) -> None:
    invoice_id, payment, copy_id = await _paid_in_qbo(world, "sven@shoal.example")
    assert _balance(world, invoice_id) == Decimal("600.00")
    await world.crm.api.archive("commerce_payments", copy_id)  # the console's delete
    assert _balance(world, invoice_id) == Decimal("1000.00")

    _change_qbo_payment(world, payment, PaymentRefNum="CHK-990")
    await world.sync()
    await world.sync()

    assert _live_copies(world, invoice_id) == []
    assert _all_quickbooks_payments(world) == []
    assert _balance(world, invoice_id) == Decimal("1000.00")
    assert world.hs.props("invoices", invoice_id)["hs_invoice_status"] == "open"
    state = world.payment_state(Side.QUICKBOOKS, payment["Id"])
    assert state is not None and state.status is SYNCED
    audit = _ownership_audit(world, payment)
    assert len(audit) == 1 and "not re-created" in str(audit[0].new)
    # QuickBooks still holds the payment: deletes do not travel to QBO (see docs/sync-matrix.md).
    assert world.qbo.count("Payment") == 1

    # Another change later: still not re-created, and audited once more.
    _change_qbo_payment(world, payment, PaymentRefNum="CHK-991")
    await world.sync()
    assert _all_quickbooks_payments(world) == []
    assert len(_ownership_audit(world, payment)) == 2


async def test_untouched_copies_still_follow_the_qbo_payment(world: World) -> None:
    invoice_id, payment, copy_id = await _paid_in_qbo(world, "tove@tide.example")
    _change_qbo_payment(world, payment, PaymentRefNum="CHK-777")
    await world.sync()
    copy = world.hs.props("commerce_payments", copy_id)
    assert copy["hs_reference_number"] == "CHK-777" and copy["hs_latest_status"] == "succeeded"
    assert _ownership_audit(world, payment) == []
    assert _balance(world, invoice_id) == Decimal("600.00")
