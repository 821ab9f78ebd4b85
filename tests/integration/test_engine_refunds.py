"""Refunds and deletes of HubSpot payments reach QBO over the sandboxes' HTTP: a refund becomes
a RefundReceipt for what is new (partial refunds add up, never booked twice, even when the
create's answer is lost), a refund larger than the payment is refused on the HubSpot payment,
and a deleted HubSpot payment voids (or deletes) the QBO payment. Values are compared on both
sides."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import QBO_TOKEN, SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import RefundSettings, SyncSettings
from ledgerbridge.engine.payments import REFUND_IDS
from ledgerbridge.engine.ports import PAYMENT, RecordKey
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-refunds-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _paid(world: World, email: str, amount: str = "500.00") -> tuple[str, str]:
    contact = world.hs.contact(email, company=f"Refunds {email}")
    product = world.hs.product("Consulting", f"R-{uuid.uuid4().hex[:6]}", amount)
    invoice_id = world.hs.invoice(contact, [(product, "1", amount)])
    payment_id = world.hs.pay(invoice_id, amount)
    await world.sync()
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    return invoice_id, payment_id


def _refund_in_hubspot(world: World, payment_id: str, total: str, status: str) -> None:
    world.hs.sb.update_object(
        "commerce_payments",
        payment_id,
        {
            "hs_refunds_amount": total,
            "hs_latest_status": status,
            "hs_internal_comment": "Refunded $30.00 on 2026-11-06: Requested by customer",
        },
    )


def _qbo_payment_id(world: World, payment_id: str) -> str:
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id
    return link.qbo_id


def _receipts(world: World, payment_id: str) -> list[dict[str, object]]:
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None
    out = []
    for rid in link.extra.get(REFUND_IDS) or []:
        receipt = world.qbo.get("RefundReceipt", str(rid))
        assert receipt is not None
        out.append(receipt)
    return out


def _delete_in_hubspot(world: World, payment_id: str) -> None:
    """Archive the payment; HubSpot's search never returns archived records, so the engine hears
    of it from the deletion webhook or from the console that deleted it (both mark it dirty)."""
    world.hs.sb.archive_object("commerce_payments", payment_id)
    key = RecordKey(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    world.store.mark_dirty(key, "webhook: deleted")


async def _faults(world: World, plan: FaultPlan) -> None:
    response = await world.clients[1].put("/_sandbox/faults", json=plan.to_dict())
    assert response.status_code == 200


async def test_partial_refunds_add_up_as_refund_receipts(world: World) -> None:
    _, payment_id = await _paid(world, "r1@refunds.example")
    qbo_payment = world.qbo.get("Payment", _qbo_payment_id(world, payment_id))
    assert qbo_payment is not None

    _refund_in_hubspot(world, payment_id, "30.00", "partially_refunded")
    await world.sync()
    await world.sync()  # nothing more to book
    receipts = _receipts(world, payment_id)
    assert [Decimal(str(r["TotalAmt"])) for r in receipts] == [Decimal("30.00")]
    receipt = receipts[0]
    assert receipt["CustomerRef"]["value"] == qbo_payment["CustomerRef"]["value"]  # type: ignore[index]
    deposit = qbo_payment.get("DepositToAccountRef") or {}
    if deposit:
        assert receipt["DepositToAccountRef"]["value"] == deposit["value"]  # type: ignore[index]
    assert "Requested by customer" in str(receipt["PrivateNote"])
    assert f"HubSpot payment {payment_id}" in str(receipt["PrivateNote"])

    _refund_in_hubspot(world, payment_id, "100.00", "partially_refunded")
    await world.sync()
    receipts = _receipts(world, payment_id)
    assert [Decimal(str(r["TotalAmt"])) for r in receipts] == [Decimal("30.00"), Decimal("70.00")]
    assert world.qbo.count("RefundReceipt") == 2

    # Both books hold the same refund: HubSpot's refunded total equals QBO's receipts.
    hs = world.hs.props("commerce_payments", payment_id)
    assert Decimal(hs["hs_refunds_amount"]) == sum(
        (Decimal(str(r["TotalAmt"])) for r in receipts), Decimal(0)
    )
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    assert world.qbo.count("Payment") == 1


async def test_lost_answer_books_the_refund_once(world: World) -> None:
    _, payment_id = await _paid(world, "r2@refunds.example")
    _refund_in_hubspot(world, payment_id, "500.00", "refunded")
    await _faults(world, FaultPlan(commit_timeout_rate=1.0, seed=7, only_methods=["POST"]))
    await world.sync()
    await _faults(world, FaultPlan())
    await world.sync()

    assert world.qbo.count("RefundReceipt") == 1
    receipts = _receipts(world, payment_id)
    assert [Decimal(str(r["TotalAmt"])) for r in receipts] == [Decimal("500.00")]
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state


async def test_refund_larger_than_the_payment_is_refused(world: World) -> None:
    _, payment_id = await _paid(world, "r3@refunds.example", "50.00")
    _refund_in_hubspot(world, payment_id, "80.00", "refunded")
    await world.sync()

    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status.value == "failed", state
    assert state.category == "validation", state
    assert "more than the payment" in (state.message or "")
    assert "at most 50.00" in (state.hint or "")
    assert world.qbo.count("RefundReceipt") == 0


async def test_deleted_hubspot_payment_voids_the_qbo_payment(world: World) -> None:
    invoice_id, payment_id = await _paid(world, "r4@refunds.example", "50.00")
    qbo_id = _qbo_payment_id(world, payment_id)
    _delete_in_hubspot(world, payment_id)
    await world.sync()

    payment = world.qbo.get("Payment", qbo_id)
    assert payment is not None and Decimal(str(payment["TotalAmt"])) == 0
    assert str(payment["PrivateNote"]).startswith("Voided")
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == Decimal("50.00")
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(hs_invoice["hs_balance_due"]) == Decimal(str(qbo_invoice["Balance"]))
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state


async def test_deleted_hubspot_payment_deletes_per_setting(sqlite_db_url: str) -> None:
    settings = SyncSettings(refunds=RefundSettings(deleted_payment="delete"))
    w = await make_world(sqlite_db_url, f"engine-refunds-{uuid.uuid4().hex[:8]}", settings=settings)
    try:
        _, payment_id = await _paid(w, "r5@refunds.example", "50.00")
        qbo_id = _qbo_payment_id(w, payment_id)
        _delete_in_hubspot(w, payment_id)
        await w.sync()
        assert w.qbo.get("Payment", qbo_id) is None
        state = w.payment_state(Side.HUBSPOT, payment_id)
        assert state is not None and state.status is SYNCED, state
    finally:
        await w.close()


async def _qbo_paid(world: World, email: str, amount: str) -> tuple[str, str, dict[str, object]]:
    """A HubSpot invoice synced to QBO, then paid in QBO; returns (HubSpot invoice id, QBO
    invoice id, QBO payment)."""
    contact = world.hs.contact(email, company=f"QBO {email}")
    product = world.hs.product("Consulting", f"Q-{uuid.uuid4().hex[:6]}", "100.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    qbo_invoice = world.qbo_id_of(invoice_id)
    invoice = world.qbo.get("Invoice", qbo_invoice)
    assert invoice is not None
    customer = invoice["CustomerRef"]["value"]  # type: ignore[index]
    payment = world.qbo.payment(str(customer), [(qbo_invoice, amount)])
    await world.sync()
    return invoice_id, qbo_invoice, payment


async def test_voided_qbo_payment_keeps_its_amount_in_hubspot(world: World) -> None:
    invoice_id, qbo_invoice, payment = await _qbo_paid(world, "q1@refunds.example", "50.00")
    [copy] = world.hs.payments_of(invoice_id)
    assert Decimal(copy["hs_initial_amount"]) == Decimal("50.00")

    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/payment",
        params={"operation": "update", "include": "void"},
        json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
        headers={"Authorization": f"Bearer {QBO_TOKEN}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    await world.sync()

    [copy] = world.hs.payments_of(invoice_id)
    assert Decimal(copy["hs_initial_amount"]) == Decimal("50.00")  # what was paid, kept
    assert copy["hs_latest_status"] == "refunded"
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("50.00")
    assert copy["hs_internal_comment"] == "Voided in QuickBooks"
    qbo = world.qbo.get("Invoice", qbo_invoice)
    assert qbo is not None and Decimal(str(qbo["Balance"])) == Decimal("100.00")
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(hs_invoice["hs_balance_due"]) == Decimal(str(qbo["Balance"]))
    state = world.payment_state(Side.QUICKBOOKS, str(payment["Id"]))
    assert state is not None and state.status is SYNCED, state


async def test_qbo_credit_memo_applied_to_an_invoice_shows_in_hubspot(world: World) -> None:
    contact = world.hs.contact("q2@refunds.example", company="QBO credit")
    product = world.hs.product("Consulting", f"C-{uuid.uuid4().hex[:6]}", "100.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    qbo_invoice = world.qbo_id_of(invoice_id)
    invoice = world.qbo.get("Invoice", qbo_invoice)
    assert invoice is not None
    customer = str(invoice["CustomerRef"]["value"])  # type: ignore[index]
    item = str(invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"])  # type: ignore[index]
    memo = world.qbo.create(
        "CreditMemo",
        {
            "CustomerRef": {"value": customer},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "40.00",
                    "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1},
                }
            ],
        },
    )
    applied = world.qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer},
            "TotalAmt": "0",
            "Line": [
                {"Amount": "40.00", "LinkedTxn": [{"TxnId": qbo_invoice, "TxnType": "Invoice"}]},
                {"Amount": "40.00", "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
            ],
        },
    )
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_invoice)
    assert qbo is not None and Decimal(str(qbo["Balance"])) == Decimal("60.00")
    [credit] = world.hs.payments_of(invoice_id)
    assert Decimal(credit["hs_initial_amount"]) == Decimal("40.00")
    assert credit["hs_processor_type"] == "quickbooks"
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(hs_invoice["hs_balance_due"]) == Decimal("60.00")
    state = world.payment_state(Side.QUICKBOOKS, str(applied["Id"]))
    assert state is not None and state.status is SYNCED, state


async def test_reconciliation_finds_books_with_a_booked_refund_in_agreement(world: World) -> None:
    from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
    from ledgerbridge.engine.reconcile import Reconciler

    invoice_id, payment_id = await _paid(world, "r6@refunds.example", "500.00")
    _refund_in_hubspot(world, payment_id, "120.00", "partially_refunded")
    await world.sync()
    assert world.qbo.count("RefundReceipt") == 1
    # HubSpot counts the payment net of its refund; the QBO invoice stays paid, and the refund
    # receipt holds the 120.00: both books hold the refund.
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(hs_invoice["hs_balance_due"]) == Decimal("120.00")

    async def drain() -> None:
        await world.sync()

    report = await Reconciler(
        world.connection_id,
        ConnectorBulkReader(world.crm, world.ledger),
        world.store,
        SyncSettings(),
        drain=drain,
    ).run()
    assert report.diverged == 0, report.findings
    assert report.in_sync == report.checked


async def test_refund_of_a_copy_of_a_qbo_payment_becomes_a_refund_receipt(world: World) -> None:
    from ledgerbridge.engine.ports import REFUND

    invoice_id, _, payment = await _qbo_paid(world, "q3@refunds.example", "80.00")
    [copy] = world.hs.payments_of(invoice_id)
    copy_id = str(copy["hs_object_id"])
    _refund_in_hubspot(world, copy_id, "20.00", "partially_refunded")
    await world.sync()
    _refund_in_hubspot(world, copy_id, "80.00", "refunded")
    await world.sync()
    await world.sync()

    link = world.store.get_link(world.connection_id, REFUND, Side.HUBSPOT, copy_id)
    assert link is not None
    receipts = [world.qbo.get("RefundReceipt", str(i)) for i in link.extra["refund_ids"]]
    assert [Decimal(str(r["TotalAmt"])) for r in receipts if r] == [
        Decimal("20.00"),
        Decimal("60.00"),
    ]
    assert world.qbo.count("RefundReceipt") == 2
    for receipt in receipts:
        assert receipt is not None
        assert receipt["CustomerRef"]["value"] == payment["CustomerRef"]["value"]  # type: ignore[index]
    hs = world.hs.props("commerce_payments", copy_id)
    assert Decimal(hs["hs_refunds_amount"]) == Decimal("80.00")
    assert hs["hs_latest_status"] == "refunded"  # HubSpot's refund is kept, not reverted
    # The QBO payment itself is untouched (one copy, one payment: no new copies either).
    assert world.qbo.count("Payment") == 1
    assert len(world.hs.payments_of(invoice_id)) == 1


async def test_a_copy_refunded_because_qbo_voided_its_payment_books_no_receipt(
    world: World,
) -> None:
    invoice_id, _, payment = await _qbo_paid(world, "q4@refunds.example", "50.00")
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/payment",
        params={"operation": "update", "include": "void"},
        json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True},
        headers={"Authorization": f"Bearer {QBO_TOKEN}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    await world.sync()
    [copy] = world.hs.payments_of(invoice_id)
    key = RecordKey(world.connection_id, PAYMENT, Side.HUBSPOT, str(copy["hs_object_id"]))
    world.store.mark_dirty(key, "test: the copy changed")
    await world.sync()
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("50.00")
    assert world.qbo.count("RefundReceipt") == 0


async def test_reconciliation_voids_a_payment_deleted_in_hubspot_without_a_webhook(
    world: World,
) -> None:
    from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
    from ledgerbridge.engine.reconcile import Reconciler

    _, payment_id = await _paid(world, "r7@refunds.example", "50.00")
    qbo_id = _qbo_payment_id(world, payment_id)
    world.hs.sb.archive_object("commerce_payments", payment_id)  # no webhook, no poll sees it
    # Reconciliation runs before the engine's poll sees the invoice's balance change (an
    # invoice step would find the payment gone too: test_model_findings.py).
    live = world.qbo.get("Payment", qbo_id)
    assert live is not None and Decimal(str(live["TotalAmt"])) == Decimal("50.00")

    async def drain() -> None:
        await world.sync()

    report = await Reconciler(
        world.connection_id,
        ConnectorBulkReader(world.crm, world.ledger),
        world.store,
        SyncSettings(),
        drain=drain,
    ).run()
    assert report.repaired >= 1, report.findings
    voided = world.qbo.get("Payment", qbo_id)
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == 0
    assert str(voided["PrivateNote"]).startswith("Voided")


async def test_a_payment_refunded_before_it_synced_is_recorded_then_refunded(world: World) -> None:
    contact = world.hs.contact("r8@refunds.example", company="Early refund")
    product = world.hs.product("Consulting", f"E-{uuid.uuid4().hex[:6]}", "90.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "90.00")])
    payment_id = world.hs.pay(invoice_id, "90.00")
    _refund_in_hubspot(world, payment_id, "40.00", "partially_refunded")
    await world.sync()
    await world.sync()

    payment = world.qbo.get("Payment", _qbo_payment_id(world, payment_id))
    assert payment is not None and Decimal(str(payment["TotalAmt"])) == Decimal("90.00")
    assert [Decimal(str(r["TotalAmt"])) for r in _receipts(world, payment_id)] == [Decimal("40.00")]
    assert world.qbo.count("RefundReceipt") == 1
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
