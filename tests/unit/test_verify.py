"""Verified state (engine/verify.py): which differences make a step `diverged`."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from ledgerbridge.domain import Customer, Invoice, InvoiceStatus, LineItem, Side, SyncStatus
from ledgerbridge.engine.decisions import Decision, Plan
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, FieldDifference, RecordKey
from ledgerbridge.engine.verify import diverged, plan_differences, step_differences

KEY = RecordKey(1, INVOICE, Side.HUBSPOT, "hs-1")


def _invoice(**changes: object) -> Invoice:
    inv = Invoice(
        currency="USD",
        lines=(LineItem("Audit", Decimal("2"), Decimal("50.00")),),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="vera@verify.example"),
        due_date=dt.date(2027, 1, 31),
        memo="Thanks",
    )
    return replace(inv, **changes)  # type: ignore[arg-type]


def test_agreeing_invoices_have_no_step_differences() -> None:
    assert step_differences(_invoice(), _invoice(), SyncSettings()) == []


def test_a_field_that_differs_is_named_with_both_values() -> None:
    diffs = step_differences(_invoice(), _invoice(memo="Thanks!!"), SyncSettings())
    assert diffs == [FieldDifference("memo", "Thanks", "Thanks!!")]


def test_payments_in_flight_do_not_make_an_invoice_step_diverge() -> None:
    # QBO already counts a payment whose HubSpot copy a payment step has yet to write.
    qbo = _invoice(amount_paid=Decimal("40.00"), balance_due=Decimal("60.00"))
    assert step_differences(_invoice(), qbo, SyncSettings()) == []


def test_diverged_plan_carries_the_differences_and_names_them() -> None:
    plan = Plan(KEY, Decision(SyncStatus.SYNCED))
    assert plan_differences(plan) == ()
    diffs = [FieldDifference("memo", "a", "b"), FieldDifference("due_date", "2027-01-31", None)]
    out = diverged(plan, diffs)
    assert out.decision.status is SyncStatus.DIVERGED
    assert out.decision.category == "diverged"
    assert out.decision.message == "HubSpot and QuickBooks differ on memo, due_date"
    assert plan_differences(out) == tuple(diffs)
