"""The rounding parity check: its arithmetic (property-based) and which steps it judges.

The sandbox properties hold the QBO sandbox against the canonical model: rounding half up (the
default) it agrees with `Invoice.total` on every percent discount, so the check never fires on
agreeing systems; rounding half to even it disagrees exactly on the half-cent discounts, which
the check then reports with both totals.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.domain import (
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    Side,
    SyncStatus,
)
from ledgerbridge.engine import parity
from ledgerbridge.engine.decisions import CreateLedgerInvoice, Decision, Plan, UpsertCrmInvoice
from ledgerbridge.engine.money_splits import amounts_match
from ledgerbridge.engine.ports import INVOICE, LEDGER_TOTAL, RecordKey
from ledgerbridge.sandbox.quickbooks.state import SandboxState

cents = st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n).scaleb(-2))
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2)
KEY = RecordKey(1, INVOICE, Side.HUBSPOT, "10")


def _invoice(price: Decimal, percent: Decimal | None = None, **kw: Any) -> Invoice:
    return Invoice(
        currency="USD",
        lines=(LineItem("Audit day", Decimal(1), price),),
        discount=Discount("percent", percent) if percent is not None else None,
        id="10",
        origin=Side.HUBSPOT,
        **kw,
    )


# ---- arithmetic --------------------------------------------------------------------------------
@given(a=cents, b=cents)
def test_mismatch_iff_the_totals_differ_at_the_cent(a: Decimal, b: Decimal) -> None:
    decision = parity.mismatch(a, b, "USD")
    assert (decision is None) == (a == b) == amounts_match(a, b)
    if decision is not None:
        assert decision.status is SyncStatus.FAILED and decision.category == "validation"
        assert decision.message == f"QuickBooks computed {a}, HubSpot billed {b}"
        assert decision.hint and "round" in decision.hint


@given(a=cents, extra=st.decimals(min_value=0, max_value=Decimal("0.004999"), places=6))
def test_sub_cent_noise_is_not_a_mismatch(a: Decimal, extra: Decimal) -> None:
    assert parity.mismatch(a + extra, a, "USD") is None


@pytest.fixture(scope="module")
def company() -> tuple[SandboxState, str, str, str]:
    state = SandboxState()
    realm = state.default_realm_id
    customer = state.create_entity(realm, "Customer", {"DisplayName": "Parity Co"})["Id"]
    return state, realm, str(customer), "1"  # item 1: the default "Services" item


def _qbo_total(
    company: tuple[SandboxState, str, str, str], rounding: str, price: Decimal, percent: Decimal
) -> Decimal:
    state, realm, customer, item = company
    state.rounding = rounding
    created = state.create_entity(
        realm,
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": price,
                    "SalesItemLineDetail": {"ItemRef": {"value": item}},
                },
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": percent},
                },
            ],
        },
        emit=False,
    )
    return Decimal(str(created["TotalAmt"]))


@settings(max_examples=60, deadline=None)
@given(price=cents.filter(lambda p: p > 0), percent=percents)
def test_sandbox_rounding_half_up_agrees_with_the_canonical_total(
    company: tuple[SandboxState, str, str, str], price: Decimal, percent: Decimal
) -> None:
    canonical = _invoice(price, percent)
    qbo = _qbo_total(company, "half_up", price, percent)
    assert parity.mismatch(qbo, canonical.total, "USD") is None


@settings(max_examples=60, deadline=None)
@given(price=cents.filter(lambda p: p > 0), percent=percents)
def test_sandbox_rounding_half_even_differs_exactly_on_half_cents(
    company: tuple[SandboxState, str, str, str], price: Decimal, percent: Decimal
) -> None:
    canonical = _invoice(price, percent)
    qbo = _qbo_total(company, "half_even", price, percent)
    exact = price * percent / 100
    cent = Decimal("0.01")
    rounds_apart = exact.quantize(cent, ROUND_HALF_UP) != exact.quantize(cent, ROUND_HALF_EVEN)
    assert (parity.mismatch(qbo, canonical.total, "USD") is not None) == rounds_apart
    assert abs(qbo - canonical.total) <= cent


def test_sandbox_refuses_an_unknown_rounding_mode() -> None:
    with pytest.raises(ValueError, match="rounding"):
        SandboxState(rounding="banker")


# ---- which steps are judged ----------------------------------------------------------------
def _synced_plan(*ops: Any, origin: Side = Side.HUBSPOT) -> Plan:
    return Plan(KEY, Decision(SyncStatus.SYNCED), tuple(ops), origin=origin)


def test_a_create_is_judged_on_the_total_qbo_answered_and_audited() -> None:
    hs = _invoice(Decimal("100.50"), Decimal(5), context={"invoice.hs_amount_billed": "95.47"})
    plan = _synced_plan(CreateLedgerInvoice(hs, {}, "10", "k"))
    seen: list[tuple[str, Decimal, Decimal]] = []

    checked = parity.check(plan, Decimal("95.48"), hs, None, lambda *a: seen.append(a))

    assert checked.decision.status is SyncStatus.FAILED
    assert checked.decision.message == "QuickBooks computed 95.48, HubSpot billed 95.47"
    assert seen == [("10", Decimal("95.47"), Decimal("95.48"))]
    assert parity.check(plan, Decimal("95.47"), hs, None, lambda *a: seen.append(a)) is plan
    assert parity.check(plan, None, hs, None) is plan  # QBO did not say: nothing to judge


def test_hubspot_billed_wins_over_the_canonical_total_when_reported() -> None:
    hs = _invoice(Decimal("100.00"), context={"invoice.hs_amount_billed": "100.00"})
    plan = _synced_plan(CreateLedgerInvoice(hs, {}, "10", "k"))
    checked = parity.check(plan, Decimal("100.01"), hs, None)
    assert checked.decision.message == "QuickBooks computed 100.01, HubSpot billed 100.00"


def test_a_step_without_writes_is_judged_on_the_total_qbo_reports() -> None:
    hs = _invoice(Decimal("100.50"), Decimal(5))
    ledger = _invoice(Decimal("100.50"), Decimal(5), context={LEDGER_TOTAL: "95.48"})
    seen: list[object] = []
    checked = parity.check(_synced_plan(), None, hs, ledger, lambda *a: seen.append(a))
    assert checked.decision.status is SyncStatus.FAILED
    assert seen == []  # audited when the write happened, not on every re-check
    agreeing = _invoice(Decimal("100.50"), Decimal(5), context={LEDGER_TOTAL: "95.47"})
    assert parity.check(_synced_plan(), None, hs, agreeing).decision.status is SyncStatus.SYNCED


def test_steps_the_check_leaves_alone() -> None:
    hs = _invoice(Decimal("100.50"), Decimal(5))
    ledger = _invoice(Decimal("100.50"), Decimal(5), context={LEDGER_TOTAL: "95.48"})
    # QBO-origin invoices: HubSpot follows QBO, it is not the reference.
    qbo_origin = _synced_plan(origin=Side.QUICKBOOKS)
    assert parity.check(qbo_origin, None, hs, ledger) is qbo_origin
    # A step that writes HubSpot: the HubSpot invoice read is about to change.
    writes_hs = _synced_plan(UpsertCrmInvoice(ledger, "1"))
    assert parity.check(writes_hs, None, hs, ledger) is writes_hs
    # A voided invoice: QBO's total is zero on purpose.
    voided = _invoice(Decimal("100.50"), status=InvoiceStatus.VOIDED, context={LEDGER_TOTAL: "0"})
    assert parity.check(_synced_plan(), None, hs, voided).decision.status is SyncStatus.SYNCED
    # Anything not about to be synced keeps its own decision.
    failed = Plan(KEY, Decision(SyncStatus.FAILED, "other"), origin=Side.HUBSPOT)
    assert parity.check(failed, None, hs, ledger) is failed


def test_the_qbo_connector_reports_its_total() -> None:
    from ledgerbridge.connectors.quickbooks.translate import invoice_from_wire

    wire = {
        "Id": "7",
        "SyncToken": "0",
        "TotalAmt": Decimal("95.48"),
        "Balance": Decimal("95.48"),
        "TxnDate": dt.date(2026, 11, 1).isoformat(),
        "Line": [],
    }
    assert parity.ledger_total(invoice_from_wire(wire, "USD")) == Decimal("95.48")
