"""Which QBO tax code HubSpot taxes go under (engine/tax_codes.py): by label, then by rate;
failures say what to map and to which codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledgerbridge.domain import LineItem, LineKind
from ledgerbridge.engine.ports import TaxCode, TaxSetup
from ledgerbridge.engine.tax_codes import choose_tax_code
from ledgerbridge.errors import ConfigError, Invalid

CODES = (
    TaxCode("3", "CA sales tax", Decimal("8.25")),
    TaxCode("1", "Sales tax", Decimal("8")),
    TaxCode("7", "County", Decimal("1.5")),
)
MANUAL = TaxSetup(uses_tax_codes=True, codes=CODES)


def _tax(name: str, rate: str | None, amount: str = "8.25") -> LineItem:
    return LineItem(
        name,
        Decimal(1),
        Decimal(amount),
        kind=LineKind.TAX,
        rate=Decimal(rate) if rate is not None else None,
    )


PRODUCT = LineItem("Widget", Decimal(1), Decimal(100))


def test_label_first_case_insensitive_then_rate() -> None:
    lines = [PRODUCT, _tax("State Sales Tax", "8.25")]
    assert choose_tax_code(lines, MANUAL, {"state sales tax": "CA sales tax"}) == "taxcode:3"
    assert choose_tax_code(lines, MANUAL, {"8.25%": "3"}) == "taxcode:3"
    assert choose_tax_code(lines, MANUAL, {"8.250": "ca SALES tax"}) == "taxcode:3"


def test_no_mapping_names_the_tax_and_the_codes() -> None:
    with pytest.raises(ConfigError) as info:
        choose_tax_code([PRODUCT, _tax("County tax", "1.5")], MANUAL, {"8%": "Sales tax"})
    assert info.value.code == "tax_code_unmapped"
    assert "'County tax' (1.5%)" in info.value.message
    assert "CA sales tax (8.25%), Sales tax (8%), County (1.5%)" in info.value.hint


def test_unknown_code_and_other_rate_fail_before_writing() -> None:
    lines = [PRODUCT, _tax("State", "8.25")]
    with pytest.raises(ConfigError) as unknown:
        choose_tax_code(lines, MANUAL, {"State": "Nowhere tax"})
    assert unknown.value.code == "tax_code_not_found"
    with pytest.raises(ConfigError) as rate:
        choose_tax_code(lines, MANUAL, {"State": "Sales tax"})
    assert rate.value.code == "tax_rate_mismatch"
    # A fixed-amount tax has no rate to compare: QBO's total is judged by the parity check.
    assert choose_tax_code([PRODUCT, _tax("State", None)], MANUAL, {"State": "1"}) == "taxcode:1"


def test_several_codes_on_one_invoice_are_refused() -> None:
    lines = [PRODUCT, _tax("State", "8"), _tax("County", "1.5")]
    with pytest.raises(Invalid) as info:
        choose_tax_code(lines, MANUAL, {"State": "Sales tax", "County": "County"})
    assert info.value.code == "tax_code_several"
    # Two HubSpot taxes summing to one combined code's rate are fine.
    combined = TaxSetup(True, False, (TaxCode("9", "State + county", Decimal("9.5")),))
    assert choose_tax_code(lines, combined, {"State": "9", "County": "9"}) == "taxcode:9"


def test_automated_sales_tax_needs_no_mapping() -> None:
    automated = TaxSetup(uses_tax_codes=True, automated=True, codes=CODES)
    assert choose_tax_code([PRODUCT, _tax("Any", "8.25")], automated, {}) == "taxcode:"
    # A mapped code is still sent, and its rate is QBO's business (it honours the amount).
    assert choose_tax_code([PRODUCT, _tax("Any", "8.25")], automated, {"Any": "1"}) == "taxcode:1"
