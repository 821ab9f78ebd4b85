"""HubSpot payments tied to no invoice become QBO sales receipts (engine rules over the fakes).

Every "synced" also compares both books: the receipt QBO holds against the HubSpot payment.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from decimal import Decimal

from engine_fakes import CrmPayment
from test_engine_rules import ADA, CONN, START, World, hubspot_invoice, make_world

from ledgerbridge.domain import Payment, PaymentApplication, Side, SyncStatus
from ledgerbridge.engine.compare import compare_sales_receipt
from ledgerbridge.engine.fieldmap import SalesReceiptSettings, SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, SALES_RECEIPT

SETTLE = 300  # the default settle_seconds


def one_off_payment(payment_id: str, amount: str = "80.00") -> CrmPayment:
    payment = Payment(
        amount=Decimal(amount),
        currency="USD",
        date=dt.date(2026, 3, 2),
        processor="hs_payments",
        method="credit_card",
        reference="pi_123",
        customer=ADA,
        id=payment_id,
        version=START.isoformat(),
        origin=Side.HUBSPOT,
    )
    return CrmPayment(payment, "")


async def assert_receipt_agrees(world: World, payment_id: str) -> str:
    link = world.store.get_link(CONN, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id is not None and link.qbo_kind == SALES_RECEIPT
    receipt = await world.ledger.get_sales_receipt(link.qbo_id)
    hs = await world.crm.get_payment(payment_id)
    assert receipt is not None and hs is not None
    customer = link.extra.get("customer_qbo_id")
    assert receipt.payment.customer is not None and receipt.payment.customer.id == customer
    differences = compare_sales_receipt(
        hs,
        receipt.payment,
        customer_id=customer,
        deposit_account_id=receipt.deposit_account_id,
        expected_deposit_account_id=None,
    )
    assert differences == []
    assert receipt.payment.amount == hs.amount
    return link.qbo_id


async def test_a_payment_tied_to_no_invoice_becomes_a_sales_receipt_once_settled() -> None:
    world = make_world()
    # A QBO payment numbered 101 exists: the receipt gets the same number (QBO numbers each
    # entity on its own), and the two must never be confused.
    customer_id = world.ledger.add_customer(replace(ADA, display_name="Ada"))
    world.ledger.payments["101"] = Payment(
        amount=Decimal("5.00"), currency="USD", date=START.date(), id="101", version="0"
    )
    world.ledger._receipt_ids = itertools.count(101)
    world.crm.payments["9001"] = one_off_payment("9001")
    key = world.mark(PAYMENT, Side.HUBSPOT, "9001")

    await world.run()
    waiting = world.state(key)
    assert waiting.status is SyncStatus.PENDING
    assert "sales receipt" in (waiting.message or "")
    assert world.ledger.receipts == {}
    assert world.store.dirty[key].not_before == START + dt.timedelta(seconds=SETTLE)

    world.later(SETTLE)
    await world.run()

    assert world.state(key).status is SyncStatus.SYNCED
    receipt_id = await assert_receipt_agrees(world, "9001")
    assert receipt_id == "101"
    assert world.ledger.receipts[receipt_id].payment.customer is not None
    assert world.ledger.receipts[receipt_id].payment.customer.id == customer_id
    assert world.ledger.payments["101"].amount == Decimal("5.00")  # untouched
    assert world.store.get_link(CONN, PAYMENT, Side.QUICKBOOKS, "101") is None
    assert world.store.get_link(CONN, PAYMENT, Side.QUICKBOOKS, "101", SALES_RECEIPT) is not None
    # the receipt's item was created once, by name
    assert [i.name for i in world.ledger.items.values()] == ["Sales"]

    await world.run()
    world.mark(PAYMENT, Side.HUBSPOT, "9001")
    await world.run()
    assert len(world.ledger.receipts) == 1


async def test_a_receipt_whose_answer_was_lost_is_found_by_its_marker_not_sent_twice() -> None:
    world = make_world(SyncSettings(sales_receipts=SalesReceiptSettings(settle_seconds=0)))
    world.crm.payments["9002"] = one_off_payment("9002")
    world.ledger.lose_next_answer("create_sales_receipt")
    key = world.mark(PAYMENT, Side.HUBSPOT, "9002")

    await world.run()  # the create is done, its answer lost: found again by its marker

    assert world.state(key).status is SyncStatus.SYNCED
    assert len(world.ledger.receipts) == 1
    assert [s.method for s in world.ledger.sent].count("create_sales_receipt") == 1
    world.mark(PAYMENT, Side.HUBSPOT, "9002")
    await world.run()
    assert len(world.ledger.receipts) == 1
    await assert_receipt_agrees(world, "9002")


async def test_a_payment_tied_to_its_invoice_while_settling_becomes_a_payment_only() -> None:
    """The paid-invoice workflow: the payment is created first, tied to the invoice after."""
    world = make_world()
    world.crm.payments["9003"] = one_off_payment("9003", "549.99")
    pay_key = world.mark(PAYMENT, Side.HUBSPOT, "9003")
    await world.run()
    assert world.state(pay_key).status is SyncStatus.PENDING

    invoice_id = world.crm.add_invoice(hubspot_invoice())
    paid = replace(
        world.crm.payments["9003"].payment,
        applications=(PaymentApplication(invoice_id, Decimal("549.99")),),
    )
    world.crm.payments["9003"] = CrmPayment(paid, invoice_id)
    world.mark(INVOICE, Side.HUBSPOT, invoice_id)
    world.mark(PAYMENT, Side.HUBSPOT, "9003")
    for _ in range(3):
        await world.run()
    world.later(SETTLE)
    await world.run()

    assert world.state(pay_key).status is SyncStatus.SYNCED
    assert world.ledger.receipts == {}
    link = world.store.get_link(CONN, PAYMENT, Side.HUBSPOT, "9003")
    assert link is not None and link.qbo_kind == "" and link.qbo_id in world.ledger.payments
    hs, qbo = await world.both(invoice_id)
    assert hs.amount_paid == qbo.amount_paid == Decimal("549.99")


async def test_refund_and_delete_of_a_receipt_payment_go_to_the_receipt() -> None:
    world = make_world()
    world.ledger.payments["101"] = Payment(
        amount=Decimal("5.00"), currency="USD", date=START.date(), id="101", version="0"
    )
    world.ledger._receipt_ids = itertools.count(101)
    world.crm.payments["9004"] = one_off_payment("9004")
    key = world.mark(PAYMENT, Side.HUBSPOT, "9004")
    world.later(SETTLE)
    await world.run()
    assert world.state(key).status is SyncStatus.SYNCED

    refunded = replace(
        world.crm.payments["9004"].payment,
        refunded=Decimal("30.00"),
        status="partially_refunded",
        version=(START + dt.timedelta(seconds=SETTLE + 60)).isoformat(),
    )
    world.crm.payments["9004"] = CrmPayment(refunded, "")
    world.mark(PAYMENT, Side.HUBSPOT, "9004")
    await world.run()
    assert world.state(key).status is SyncStatus.SYNCED
    [refund] = world.ledger.refunds.values()
    assert (refund.payment_id, refund.payment_kind, refund.amount) == (
        "101",
        SALES_RECEIPT,
        Decimal("30.00"),
    )

    world.crm.payments["9004"] = CrmPayment(refunded, "", archived=True)
    world.mark(PAYMENT, Side.HUBSPOT, "9004")
    await world.run()
    assert world.state(key).status is SyncStatus.SYNCED
    assert world.ledger.receipts["101"].payment.status == "voided"
    assert world.ledger.payments["101"].status != "voided"  # the Payment 101 is another record
