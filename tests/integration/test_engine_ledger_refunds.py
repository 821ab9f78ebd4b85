"""Refund receipts made by hand in QuickBooks reach the HubSpot payment they refund, over real
sockets (both sandboxes served by uvicorn): tied by the payment's reference, or by being the
only payment that fits; ambiguous or unmatched ones are reported and nothing is written; a
receipt larger than what is left is refused on the receipt. Both sides are compared: HubSpot's
refunded total against the receipts QuickBooks holds for the payment, and no receipt is booked
back into QuickBooks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.payments import REFUND_IDS, REFUNDED_IN_QBO
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    LEDGER_CREDIT,
    LEDGER_REFUND,
    PAYMENT,
    REFUND,
    RecordKey,
)
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-qbo-refunds-{uuid.uuid4().hex[:8]}", sockets=True)
    yield w
    await w.close()


async def _paid_in_hubspot(world: World, amounts: tuple[str, ...]) -> dict[str, Any]:
    email = f"rr-{uuid.uuid4().hex[:6]}@fjord.example"
    contact = world.hs.contact(email, company=f"Fjord {email}")
    total = sum((Decimal(a) for a in amounts), Decimal(0))
    product = world.hs.product("Consulting", f"RR-{uuid.uuid4().hex[:6]}", str(total))
    invoice = world.hs.invoice(contact, [(product, "1", str(total))])
    payments = [world.hs.pay(invoice, amount) for amount in amounts]
    for n, payment in enumerate(payments):  # each its own reference, as a processor gives them
        world.hs.sb.update_object(
            "commerce_payments", payment, {"hs_reference_number": f"REF-{invoice}-{n}"}
        )
    await world.sync()
    for payment in payments:
        state = world.payment_state(Side.HUBSPOT, payment)
        assert state is not None and state.status is SYNCED, state
    customer = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    assert customer is not None and customer.qbo_id
    return {"invoice": invoice, "payments": payments, "customer": customer.qbo_id}


def _receipt(world: World, customer: str, amount: str, **extra: Any) -> str:
    checking = next(a for a in world.qbo.all("Account") if a["Name"] == "Checking")
    row = world.qbo.create(
        "RefundReceipt",
        {
            "CustomerRef": {"value": customer},
            "DepositToAccountRef": {"value": checking["Id"]},
            "TxnDate": "2026-11-20",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": amount,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": world.qbo.item_named("Services")},
                        "Qty": 1,
                        "UnitPrice": amount,
                    },
                }
            ],
            **extra,
        },
    )
    return str(row["Id"])


def _hs_refund(world: World, payment: str) -> tuple[Decimal, str]:
    props = world.hs.props("commerce_payments", payment)
    return Decimal(str(props.get("hs_refunds_amount") or "0")), str(props["hs_latest_status"])


def _qbo_receipts_total(world: World, ids: list[Any]) -> Decimal:
    total = Decimal(0)
    for receipt_id in ids:
        row = world.qbo.get("RefundReceipt", str(receipt_id))
        assert row is not None
        total += Decimal(str(row["TotalAmt"]))
    return total


def _receipt_state(world: World, receipt: str) -> Any:
    return world.state(LEDGER_REFUND, Side.QUICKBOOKS, receipt)


async def test_receipt_with_the_payments_reference_refunds_it_in_hubspot(world: World) -> None:
    paid = await _paid_in_hubspot(world, ("500.00",))
    payment = paid["payments"][0]
    receipts_before = world.qbo.count("RefundReceipt")
    receipt = _receipt(world, paid["customer"], "120.00", PaymentRefNum=f"REF-{paid['invoice']}-0")
    await world.sync()

    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SYNCED, state
    assert _hs_refund(world, payment) == (Decimal("120.00"), "partially_refunded")
    # Both books hold the same refund: HubSpot's total = the receipts QBO holds for the payment.
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None
    assert link.extra[REFUND_IDS] == [receipt]
    assert Decimal(link.extra[REFUNDED_IN_QBO]) == Decimal("120.00")
    assert _qbo_receipts_total(world, link.extra[REFUND_IDS]) == Decimal("120.00")
    # Nothing was booked back into QBO, and the payment itself is still synced.
    assert world.qbo.count("RefundReceipt") == receipts_before + 1
    payment_state = world.payment_state(Side.HUBSPOT, payment)
    assert payment_state is not None and payment_state.status is SYNCED, payment_state

    # Idempotent: another round changes nothing.
    await world.sync()
    assert _hs_refund(world, payment) == (Decimal("120.00"), "partially_refunded")
    assert world.qbo.count("RefundReceipt") == receipts_before + 1

    # The receipt raised to the full amount in QBO: only the difference is added.
    row = world.qbo.get("RefundReceipt", receipt)
    assert row is not None
    line = {**row["Line"][0], "Amount": "500.00"}
    line["SalesItemLineDetail"] = {**line["SalesItemLineDetail"], "UnitPrice": "500.00"}
    world.qbo.state.update_entity(
        world.qbo.realm,
        "RefundReceipt",
        {**{k: v for k, v in row.items() if k != "TotalAmt"}, "Line": [line]},
    )
    await world.sync()
    assert _hs_refund(world, payment) == (Decimal("500.00"), "refunded")
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None
    assert _qbo_receipts_total(world, link.extra[REFUND_IDS]) == Decimal("500.00")
    assert world.qbo.count("RefundReceipt") == receipts_before + 1


async def test_receipt_on_a_quickbooks_payment_refunds_its_hubspot_copy(world: World) -> None:
    email = f"rq-{uuid.uuid4().hex[:6]}@fjord.example"
    contact = world.hs.contact(email, company=f"Fjord Q {email}")
    product = world.hs.product("Audit", f"RQ-{uuid.uuid4().hex[:6]}", "300.00")
    invoice = world.hs.invoice(contact, [(product, "1", "300.00")])
    await world.sync()
    qbo_invoice = world.qbo_id_of(invoice)
    customer = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    assert customer is not None and customer.qbo_id
    qbo_payment = world.qbo.payment(
        customer.qbo_id, [(qbo_invoice, "300.00")], TxnDate="2026-11-10"
    )
    await world.sync()
    copies = world.hs.payments_of(invoice)
    assert len(copies) == 1
    copy = str(copies[0]["hs_object_id"])

    receipt = _receipt(world, customer.qbo_id, "75.00")  # no reference: the only fit
    await world.sync()

    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SYNCED, state
    assert _hs_refund(world, copy) == (Decimal("75.00"), "partially_refunded")
    own = world.store.get_link(world.connection_id, REFUND, Side.HUBSPOT, copy)
    assert own is not None and own.extra[REFUND_IDS] == [receipt]
    assert _qbo_receipts_total(world, own.extra[REFUND_IDS]) == Decimal("75.00")
    # The QBO payment is unchanged, and a later change to it keeps HubSpot's refund.
    row = world.qbo.get("Payment", str(qbo_payment["Id"]))
    assert row is not None and Decimal(str(row["TotalAmt"])) == Decimal("300.00")
    world.qbo.state.update_entity(
        world.qbo.realm,
        "Payment",
        {
            "Id": row["Id"],
            "SyncToken": row["SyncToken"],
            "sparse": True,
            "PaymentRefNum": "CHK-77",
        },
    )
    await world.sync()
    assert _hs_refund(world, copy) == (Decimal("75.00"), "partially_refunded")
    assert world.hs.props("commerce_payments", copy)["hs_reference_number"] == "CHK-77"
    assert world.qbo.count("RefundReceipt") == 1


async def test_ambiguous_receipt_is_reported_and_nothing_is_written(world: World) -> None:
    paid = await _paid_in_hubspot(world, ("200.00", "300.00"))
    receipt = _receipt(world, paid["customer"], "50.00")
    await world.sync()

    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SyncStatus.FAILED, state
    assert "could refund several HubSpot payments" in (state.message or "")
    assert "reference number" in (state.hint or "")
    for payment in paid["payments"]:
        assert _hs_refund(world, payment) == (Decimal("0"), "succeeded")

    # The bookkeeper adds the reference of the first payment: the retry ties it there.
    row = world.qbo.get("RefundReceipt", receipt)
    assert row is not None
    world.qbo.state.update_entity(
        world.qbo.realm,
        "RefundReceipt",
        {
            "Id": receipt,
            "SyncToken": row["SyncToken"],
            "sparse": True,
            "PaymentRefNum": f"REF-{paid['invoice']}-0",
        },
    )
    await world.sync()
    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SYNCED, state
    first, second = paid["payments"]
    assert _hs_refund(world, first) == (Decimal("50.00"), "partially_refunded")
    assert _hs_refund(world, second) == (Decimal("0"), "succeeded")
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, first)
    assert link is not None and link.extra[REFUND_IDS] == [receipt]
    assert _qbo_receipts_total(world, link.extra[REFUND_IDS]) == Decimal("50.00")


async def test_receipt_larger_than_what_is_left_is_refused_on_the_receipt(world: World) -> None:
    paid = await _paid_in_hubspot(world, ("100.00",))
    payment = paid["payments"][0]
    receipt = _receipt(world, paid["customer"], "150.00", PaymentRefNum=f"REF-{paid['invoice']}-0")
    await world.sync()

    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SyncStatus.FAILED, state
    assert state.category == "validation"
    assert "more than what is left to refund" in (state.message or "")
    assert _hs_refund(world, payment) == (Decimal("0"), "succeeded")
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None and not link.extra.get(REFUND_IDS)
    invoice_state = world.state(INVOICE, Side.HUBSPOT, paid["invoice"])
    assert invoice_state is not None and invoice_state.status is SYNCED


async def test_receipts_ledgerbridge_booked_are_not_read_back(world: World) -> None:
    paid = await _paid_in_hubspot(world, ("80.00",))
    payment = paid["payments"][0]
    world.hs.sb.update_object(
        "commerce_payments",
        payment,
        {"hs_refunds_amount": "30.00", "hs_latest_status": "partially_refunded"},
    )
    await world.sync()
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None and len(link.extra[REFUND_IDS]) == 1
    ours = str(link.extra[REFUND_IDS][0])
    await world.sync()
    assert _receipt_state(world, ours) is None
    assert _hs_refund(world, payment) == (Decimal("30.00"), "partially_refunded")


async def test_credit_memo_is_reported_until_applied_then_shows_as_a_credit(
    world: World,
) -> None:
    email = f"cm-{uuid.uuid4().hex[:6]}@fjord.example"
    contact = world.hs.contact(email, company=f"Fjord C {email}")
    product = world.hs.product("Workshop", f"CM-{uuid.uuid4().hex[:6]}", "100.00")
    invoice = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    qbo_invoice = world.qbo_id_of(invoice)
    customer = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    assert customer is not None and customer.qbo_id
    memo = world.qbo.create(
        "CreditMemo",
        {
            "CustomerRef": {"value": customer.qbo_id},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "40.00",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": world.qbo.item_named("Services")},
                        "Qty": 1,
                    },
                }
            ],
        },
    )
    await world.sync()

    # Not applied: no balance moved in QBO, none in HubSpot; reported with what to do.
    state = world.state(LEDGER_CREDIT, Side.QUICKBOOKS, str(memo["Id"]))
    assert state is not None and state.status is SyncStatus.FAILED, state
    assert "40.00 USD not applied to any invoice" in (state.message or "")
    assert "Receive payment" in (state.hint or "")
    qbo_row = world.qbo.get("Invoice", qbo_invoice)
    assert qbo_row is not None and Decimal(str(qbo_row["Balance"])) == Decimal("100.00")
    assert Decimal(world.hs.props("invoices", invoice)["hs_balance_due"]) == Decimal("100.00")
    assert world.hs.payments_of(invoice) == []

    # The bookkeeper applies it to the invoice: a credit in HubSpot, the same balance.
    world.qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer.qbo_id},
            "TotalAmt": "0",
            "Line": [
                {"Amount": "40.00", "LinkedTxn": [{"TxnId": qbo_invoice, "TxnType": "Invoice"}]},
                {
                    "Amount": "40.00",
                    "LinkedTxn": [{"TxnId": str(memo["Id"]), "TxnType": "CreditMemo"}],
                },
            ],
        },
    )
    await world.sync()
    state = world.state(LEDGER_CREDIT, Side.QUICKBOOKS, str(memo["Id"]))
    assert state is not None and state.status is SYNCED, state
    qbo_row = world.qbo.get("Invoice", qbo_invoice)
    assert qbo_row is not None and Decimal(str(qbo_row["Balance"])) == Decimal("60.00")
    assert Decimal(world.hs.props("invoices", invoice)["hs_balance_due"]) == Decimal("60.00")
    [credit] = world.hs.payments_of(invoice)
    assert Decimal(credit["hs_initial_amount"]) == Decimal("40.00")


async def test_a_lost_answer_from_hubspot_never_counts_the_receipt_twice(world: World) -> None:
    paid = await _paid_in_hubspot(world, ("500.00",))
    payment = paid["payments"][0]
    receipt = _receipt(world, paid["customer"], "120.00", PaymentRefNum=f"REF-{paid['invoice']}-0")
    # HubSpot commits every PATCH, then the connection drops before the answer.
    plan = FaultPlan(commit_timeout_rate=1.0, seed=3, only_methods=["PATCH"])
    assert (await world.clients[0].put("/_sandbox/faults", json=plan.to_dict())).status_code == 200
    await world.sync()
    # HubSpot holds the refund, the engine never heard back: the write is still pending.
    assert _hs_refund(world, payment) == (Decimal("120.00"), "partially_refunded")
    pending = world.store.get_link(world.connection_id, LEDGER_REFUND, Side.QUICKBOOKS, receipt)
    assert pending is not None and pending.extra["written"] is False
    assert (
        await world.clients[0].put("/_sandbox/faults", json=FaultPlan().to_dict())
    ).status_code == 200
    key = RecordKey(world.connection_id, LEDGER_REFUND, Side.QUICKBOOKS, receipt)
    await world.engine.sync_key(key)
    await world.sync()

    state = _receipt_state(world, receipt)
    assert state is not None and state.status is SYNCED, state
    assert _hs_refund(world, payment) == (Decimal("120.00"), "partially_refunded")
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None and link.extra[REFUND_IDS] == [receipt]
    assert Decimal(link.extra[REFUNDED_IN_QBO]) == Decimal("120.00")
    assert world.qbo.count("RefundReceipt") == 1
