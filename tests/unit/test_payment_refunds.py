"""Planning refunds and deletes of HubSpot payments towards QBO, and QBO voids towards HubSpot
(pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerbridge.domain import Payment, PaymentApplication, Side, SyncStatus
from ledgerbridge.engine.compare import compare_refunds, compare_removed
from ledgerbridge.engine.decisions import CreateLedgerRefund, RemoveLedgerPayment, UpsertCrmPayment
from ledgerbridge.engine.fieldmap import RefundSettings, SyncSettings
from ledgerbridge.engine.payments import PaymentInput, plan_payment, refund_key
from ledgerbridge.engine.ports import INVOICE, PAYMENT, Link, RecordKey

HS_KEY = RecordKey(1, PAYMENT, Side.HUBSPOT, "h-9")
INVOICES = {"hi-1": Link(1, INVOICE, "hi-1", "qi-1", extra={"customer_qbo_id": "c-1"})}


def _hs_payment(refunded: str = "0", reason: str | None = None) -> Payment:
    return Payment(
        amount=Decimal("200.00"),
        currency="USD",
        date=dt.date(2026, 11, 2),
        applications=(PaymentApplication("hi-1", Decimal("200.00")),),
        processor="hs_payments",
        status="partially_refunded" if Decimal(refunded) else "succeeded",
        refunded=Decimal(refunded),
        refund_reason=reason,
        reference="CARD-1",
        id="h-9",
        version="2026-11-06T10:00:00Z",
        origin=Side.HUBSPOT,
    )


def _link(**extra: object) -> Link:
    return Link(1, PAYMENT, "h-9", "qp-5", extra={"origin": "hubspot", **extra})


def _plan(payment: Payment | None, link: Link | None, settings: SyncSettings | None = None):  # type: ignore[no-untyped-def]
    return plan_payment(
        PaymentInput(HS_KEY, payment, link, INVOICES, frozenset(), settings or SyncSettings())
    )


def test_a_new_refund_is_one_receipt_for_what_is_new() -> None:
    plan = _plan(_hs_payment("30.00", "Requested by customer"), _link())
    [op] = plan.ops
    assert isinstance(op, CreateLedgerRefund)
    assert (op.refund.payment_id, op.refund.amount, op.refunded_total) == (
        "qp-5",
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert op.refund.memo == "Refund of HubSpot payment h-9 (CARD-1): Requested by customer"
    assert op.refund.date == dt.date(2026, 11, 6)
    assert op.external_key == refund_key("h-9", Decimal("30.00"))
    assert plan.decision.status is SyncStatus.SYNCED


def test_partial_refunds_add_up_and_a_booked_one_is_not_booked_again() -> None:
    booked = _link(refunded_in_qbo="30.00", refund_ids=["r-1"])
    [op] = _plan(_hs_payment("100.00"), booked).ops
    assert isinstance(op, CreateLedgerRefund) and op.refund.amount == Decimal("70.00")
    assert _plan(_hs_payment("30.00"), booked).ops == ()


def test_a_refund_larger_than_the_payment_is_refused_on_the_hubspot_payment() -> None:
    plan = _plan(_hs_payment("250.00"), _link())
    assert plan.ops == ()
    assert plan.decision.status is SyncStatus.FAILED
    assert plan.decision.category == "validation" and plan.decision.code == "refund_too_large"
    assert "200.00 USD is left to refund" in (plan.decision.message or "")
    assert "at most 200.00" in (plan.decision.hint or "")


def test_refunds_off_books_nothing() -> None:
    off = SyncSettings(refunds=RefundSettings(to_quickbooks=False))
    assert _plan(_hs_payment("30.00"), _link(), off).ops == ()


def test_a_deleted_hubspot_payment_voids_or_deletes_once() -> None:
    [op] = _plan(None, _link()).ops
    assert op == RemoveLedgerPayment("qp-5", "void")
    delete = SyncSettings(refunds=RefundSettings(deleted_payment="delete"))
    assert _plan(None, _link(), delete).ops == (RemoveLedgerPayment("qp-5", "delete"),)
    none = SyncSettings(refunds=RefundSettings(deleted_payment="none"))
    assert _plan(None, _link(), none).ops == ()
    assert _plan(None, _link(removed_in_qbo="void")).ops == ()  # done already
    assert _plan(None, None).ops == ()  # never recorded in QBO


def test_a_voided_qbo_payment_keeps_the_copy_amount() -> None:
    key = RecordKey(1, PAYMENT, Side.QUICKBOOKS, "qp-7")
    voided = Payment(
        amount=Decimal(0),
        currency="USD",
        date=dt.date(2026, 11, 2),
        applications=(PaymentApplication("qi-1", Decimal(0)),),
        processor="quickbooks",
        status="voided",
        id="qp-7",
        origin=Side.QUICKBOOKS,
    )
    copy = Payment(
        amount=Decimal("50.00"), currency="USD", date=dt.date(2026, 11, 2), processor="quickbooks"
    )
    link = Link(
        1, PAYMENT, None, "qp-7", extra={"origin": "quickbooks", "shares": {"qi-1": "hi-1"}}
    )
    plan = plan_payment(
        PaymentInput(
            key,
            voided,
            link,
            {"qi-1": INVOICES["hi-1"]},
            frozenset(),
            SyncSettings(),
            hubspot_copies={"qi-1": copy},
        )
    )
    [op] = plan.ops
    assert isinstance(op, UpsertCrmPayment)
    assert op.amount == Decimal("50.00") and op.payment.status == "voided"


def test_refunds_and_removals_compare_both_books() -> None:
    assert compare_refunds(_hs_payment("30.00"), Decimal("30.00"), "USD") == []
    [diff] = compare_refunds(_hs_payment("30.00"), Decimal("0"), "USD")
    assert (diff.field, diff.hubspot, diff.quickbooks) == ("refunded", "30.00", "0.00")
    assert compare_removed("delete", None) == []
    assert compare_removed("void", _hs_payment()) != []
