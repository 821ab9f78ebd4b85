"""plan_payment: a payment waiting on an invoice, and the credit a recorded payment left in QBO."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Payment, PaymentApplication, Side, SyncStatus
from ledgerbridge.engine.decisions import ApplyLedgerCredit, Plan
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.payments import UNAPPLIED_CREDIT, PaymentInput, plan_payment
from ledgerbridge.engine.ports import INVOICE, PAYMENT, Link, RecordKey

KEY = RecordKey(1, PAYMENT, Side.HUBSPOT, "p-1")
PAYMENT_40 = Payment(
    amount=Decimal("40.00"),
    currency="USD",
    date=dt.date(2026, 11, 5),
    applications=(PaymentApplication("inv-7", Decimal("40.00")),),
    processor="hs_payments",
    id="p-1",
)


def _plan(**changes: Any) -> Plan:
    inp = PaymentInput(KEY, PAYMENT_40, None, {"inv-7": None}, frozenset(), SyncSettings())
    return plan_payment(replace(inp, **changes))


def test_waiting_on_an_invoice_in_progress_wakes_it() -> None:
    plan = _plan()
    invoice = RecordKey(1, INVOICE, Side.HUBSPOT, "inv-7")
    assert plan.decision.status is SyncStatus.BLOCKED
    assert plan.decision.blocked_on == invoice
    assert plan.wake == (invoice,)
    assert plan.decision.message == "Waits for HubSpot invoice inv-7 to sync"


def test_waiting_on_a_failed_invoice_names_it_and_does_not_wake_it() -> None:
    plan = _plan(failed_invoices={"inv-7": "The invoice has no contact"})
    assert plan.decision.status is SyncStatus.BLOCKED
    assert plan.decision.blocked_on == RecordKey(1, INVOICE, Side.HUBSPOT, "inv-7")
    assert plan.wake == ()
    assert plan.decision.message == (
        "Waits for HubSpot invoice inv-7, which failed to sync: The invoice has no contact"
    )
    assert plan.decision.hint and "inv-7" in plan.decision.hint
    assert plan.ops == ()


def test_a_recorded_payment_with_credit_left_applies_it() -> None:
    link = Link(1, PAYMENT, "p-1", "q-9", extra={UNAPPLIED_CREDIT: {"qinv-3": "34.92"}})
    plan = _plan(link=link)
    assert plan.decision.status is SyncStatus.SYNCED
    assert plan.ops == (ApplyLedgerCredit("q-9", {"qinv-3": Decimal("34.92")}, "p-1"),)
    # refunded in HubSpot since: no credit to give
    refunded = replace(PAYMENT_40, status="partially_refunded")
    assert _plan(link=link, payment=refunded).ops == ()
