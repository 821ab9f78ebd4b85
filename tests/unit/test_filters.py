"""Sync filters: eligibility, the excluding rule and its sentence, JSON round-trip."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerbridge.domain import Customer, Invoice, InvoiceStatus, LineItem, Side
from ledgerbridge.engine.filters import FilterOp, FilterRule, SyncFilters, evaluate, validate_rule


def invoice(**changes: object) -> Invoice:
    base: dict[str, object] = dict(
        currency="USD",
        lines=(LineItem("Consulting hour", Decimal("10"), Decimal("150.00")),),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="Ada@Example.com", company_name="Acme"),
        issue_date=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 10, 31),
        number="INV-1001",
        context={
            "deal.pipeline": "default",
            "deal.dealstage": "closedwon",
            "company.industry": "Retail",
        },
        custom_fields={"region": "EMEA"},
    )
    base.update(changes)
    return Invoice(**base)  # type: ignore[arg-type]


def test_no_rules_means_eligible() -> None:
    assert evaluate([], invoice()).eligible


def test_currency_rule_excludes_with_readable_reason() -> None:
    rule = FilterRule(field="currency", op=FilterOp.IN, value=["USD", "CAD"])
    result = evaluate([rule], invoice(currency="EUR"))
    assert not result.eligible
    assert result.rule == rule
    assert result.reason == "Currency is any of USD, CAD (this invoice: EUR)"
    assert evaluate([rule], invoice(currency="usd")).eligible


def test_first_failing_rule_is_reported() -> None:
    rules = [
        FilterRule(field="status", op=FilterOp.EQ, value="open"),
        FilterRule(field="amount", op=FilterOp.GTE, value="5000"),
        FilterRule(field="currency", op=FilterOp.EQ, value="CAD"),
    ]
    result = evaluate(rules, invoice())  # total 1500.00
    assert result.rule is rules[1]
    assert "Amount is at least 5000" in (result.reason or "")


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (FilterOp.GT, "1499.99", True),
        (FilterOp.GT, "1500", False),
        (FilterOp.GTE, "1500.00", True),
        (FilterOp.LT, "1500.01", True),
        (FilterOp.LTE, "1,500", True),
        (FilterOp.BETWEEN, ["1000", "2000"], True),
        (FilterOp.BETWEEN, ["1500.01", "2000"], False),
        (FilterOp.EQ, "1500", True),
    ],
)
def test_amount_compares_as_decimal(op: FilterOp, value: str | list[str], expected: bool) -> None:
    assert (
        evaluate([FilterRule(field="amount", op=op, value=value)], invoice()).eligible is expected
    )


def test_amount_is_total_after_discount() -> None:
    from ledgerbridge.domain import Discount

    inv = invoice(discount=Discount("percent", Decimal("10")))  # 1500 - 150
    assert evaluate([FilterRule(field="amount", op=FilterOp.EQ, value="1350")], inv).eligible


def test_dates() -> None:
    rule = FilterRule(field="issue_date", op=FilterOp.GTE, value="2026-09-30")
    assert evaluate([rule], invoice()).eligible
    assert not evaluate([rule], invoice(issue_date=dt.date(2026, 9, 29))).eligible
    # no date: only negative tests pass
    assert not evaluate([rule], invoice(issue_date=None)).eligible


def test_deal_pipeline_and_stage_from_context() -> None:
    rules = [
        FilterRule(field="deal.pipeline", op=FilterOp.EQ, value="default"),
        FilterRule(field="deal.dealstage", op=FilterOp.IN, value="closedwon, contractsent"),
    ]
    assert evaluate(rules, invoice()).eligible
    no_deal = invoice(context={})
    result = evaluate(rules, no_deal)
    assert not result.eligible
    assert result.reason == "Deal pipeline is default (this invoice: not set)"


def test_contact_company_and_custom_properties() -> None:
    assert evaluate(
        [FilterRule(field="company.industry", op=FilterOp.EQ, value="retail")], invoice()
    ).eligible
    assert not evaluate(
        [FilterRule(field="company.industry", op=FilterOp.NE, value="Retail")], invoice()
    ).eligible
    assert evaluate(
        [FilterRule(field="contact.lifecyclestage", op=FilterOp.NOT_EXISTS)], invoice()
    ).eligible
    assert evaluate(
        [FilterRule(field="custom.region", op=FilterOp.CONTAINS, value="em")], invoice()
    ).eligible
    assert evaluate(
        [FilterRule(field="customer.email", op=FilterOp.EQ, value="ada@example.com")], invoice()
    ).eligible


def test_missing_value_passes_only_negative_tests() -> None:
    inv = invoice(context={})
    assert evaluate([FilterRule(field="deal.dealstage", op=FilterOp.NE, value="x")], inv).eligible
    assert evaluate(
        [FilterRule(field="deal.dealstage", op=FilterOp.NOT_IN, value=["x"])], inv
    ).eligible
    assert not evaluate([FilterRule(field="deal.dealstage", op=FilterOp.EXISTS)], inv).eligible


def test_rules_apply_to_their_origin_only() -> None:
    rule = FilterRule(field="currency", op=FilterOp.EQ, value="CAD")  # HubSpot invoices only
    assert evaluate([rule], invoice(), Side.QUICKBOOKS).eligible
    assert not evaluate([rule], invoice(), Side.HUBSPOT).eligible
    both = FilterRule(field="currency", op=FilterOp.EQ, value="CAD", applies_to="both")
    assert not evaluate([both], invoice(), Side.QUICKBOOKS).eligible


def test_disabled_rule_and_user_label() -> None:
    off = FilterRule(field="currency", op=FilterOp.EQ, value="CAD", enabled=False)
    assert evaluate([off], invoice()).eligible
    named = FilterRule(field="currency", op=FilterOp.EQ, value="CAD", label="Canada only")
    assert evaluate([named], invoice()).reason == "Canada only (this invoice: USD)"


def test_bad_value_excludes_instead_of_letting_through() -> None:
    rule = FilterRule(field="amount", op=FilterOp.GT, value="lots")
    assert not evaluate([rule], invoice()).eligible
    assert validate_rule(rule) == ["'lots' is not an amount"]


def test_validate_rule() -> None:
    assert validate_rule(FilterRule(field="amount", op=FilterOp.GT, value="10")) == []
    assert validate_rule(FilterRule(field="nope", op=FilterOp.EXISTS)) == ["unknown field 'nope'"]
    assert "a value is required" in validate_rule(FilterRule(field="currency", op=FilterOp.EQ))
    assert "'between' needs two values" in validate_rule(
        FilterRule(field="amount", op=FilterOp.BETWEEN, value=["1"])
    )
    assert validate_rule(FilterRule(field="due_date", op=FilterOp.LT, value="31/10/2026")) == [
        "'31/10/2026' is not a date (YYYY-MM-DD)"
    ]


def test_filters_round_trip_json() -> None:
    filters = SyncFilters(
        rules=[
            FilterRule(field="amount", op=FilterOp.BETWEEN, value=["10", "20"]),
            FilterRule(field="deal.pipeline", op=FilterOp.EQ, value="sales", applies_to="both"),
        ]
    )
    again = SyncFilters.model_validate_json(filters.model_dump_json())
    assert again == filters


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amounts_are_refused_and_never_crash(value: str) -> None:
    # Decimal parses these, but NaN raises on comparison: a saved rule "Amount is greater
    # than NaN" used to crash the sync step of every new invoice.
    rule = FilterRule(field="amount", op=FilterOp.GT, value=value)
    assert validate_rule(rule) == [f"'{value}' is not an amount"]
    assert not evaluate([rule], invoice()).eligible


def test_between_wants_the_lower_value_first() -> None:
    assert validate_rule(FilterRule(field="amount", op=FilterOp.BETWEEN, value=["9", "1"])) == [
        "'between' needs the lower value first (9, 1)"
    ]
    assert validate_rule(
        FilterRule(field="issue_date", op=FilterOp.BETWEEN, value=["2026-01-01", "2025-01-01"])
    ) == ["'between' needs the lower value first (2026-01-01, 2025-01-01)"]
    assert validate_rule(FilterRule(field="amount", op=FilterOp.BETWEEN, value=["1", "9"])) == []
