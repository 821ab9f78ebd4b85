"""Invoices with a tax code, driven with python-quickbooks over a real socket: the sandbox
computes TotalTax from the code's rates on the taxable lines (after the discount when
ApplyTaxAfterDiscount), ignores an explicit TotalTax unless Automated Sales Tax is on
(Preferences.TaxPrefs.PartnerTaxEnabled), and then honours it, prorated across the code's rates."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.objects.base import Ref
from quickbooks.objects.detailline import (
    DiscountLine,
    DiscountLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.tax import TxnTaxDetail


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _pdf_text(content: bytes) -> str:
    """The strings shown by a PDF's (Flate-compressed) content streams."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.DOTALL):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            data = stream
        shown += [m.decode("latin-1") for m in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", data)]
    return " ".join(shown)


def _two_rate_code(co: Company) -> str:
    state = co.create("TaxRate", {"Name": "State 6.25", "RateValue": "6.25"})
    county = co.create("TaxRate", {"Name": "County 2", "RateValue": "2"})
    code = co.create(
        "TaxCode",
        {
            "Name": "State + county",
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": {
                "TaxRateDetail": [
                    {"TaxRateRef": {"value": state["Id"]}, "TaxOrder": 0},
                    {"TaxRateRef": {"value": county["Id"]}, "TaxOrder": 1},
                ]
            },
        },
    )
    return str(code["Id"])


def _invoice(co: Company, code_id: str, total_tax: str | None = None) -> Invoice:
    customer = co.customer(f"Taxed {code_id} {total_tax}")
    item = co.item(f"Thing {code_id} {total_tax}", "100")
    invoice = Invoice()
    invoice.CustomerRef = _ref(customer["Id"])
    for qty, price, tax in (("3", "33.33", "TAX"), ("1", "50", "NON")):
        line = SalesItemLine()
        line.Amount = Decimal(qty) * Decimal(price)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = _ref(item["Id"])
        line.SalesItemLineDetail.Qty = Decimal(qty)
        line.SalesItemLineDetail.UnitPrice = Decimal(price)
        line.SalesItemLineDetail.TaxCodeRef = _ref(tax)
        invoice.Line.append(line)
    discount = DiscountLine()
    discount.Amount = Decimal("14.99")
    discount.DiscountLineDetail = DiscountLineDetail()
    discount.DiscountLineDetail.PercentBased = False
    invoice.Line.append(discount)
    invoice.ApplyTaxAfterDiscount = True
    invoice.TxnTaxDetail = TxnTaxDetail()
    invoice.TxnTaxDetail.TxnTaxCodeRef = _ref(code_id)
    if total_tax is not None:
        invoice.TxnTaxDetail.TotalTax = Decimal(total_tax)
    return invoice


def test_total_tax_is_computed_from_the_codes_rates_on_taxable_lines(co: Company) -> None:
    saved = _invoice(co, _two_rate_code(co), total_tax="1.00").save(qb=co.qb)
    # Taxable 99.99 of 149.99; the 14.99 discount takes its share: 99.99 - 9.99 = 90.00.
    # 6.25 % = 5.625 -> 5.63, 2 % = 1.80; the explicit 1.00 is not honoured without AST.
    assert saved.TxnTaxDetail.TotalTax == Decimal("7.43")
    assert [line.Amount for line in saved.TxnTaxDetail.TaxLine] == [
        Decimal("5.63"),
        Decimal("1.80"),
    ]
    assert saved.TotalAmt == Decimal("149.99") - Decimal("14.99") + Decimal("7.43")
    assert Invoice.get(saved.Id, qb=co.qb).TxnTaxDetail.TotalTax == Decimal("7.43")
    # The PDF shows the tax once, as a total under the lines, and no tax line of its own.
    shown = _pdf_text(saved.download_pdf(qb=co.qb)).split()
    assert shown.count("Tax") == 1 and "7.43" in shown


def test_an_invoice_without_tax_shows_no_tax_total(co: Company) -> None:
    invoice = _invoice(co, _two_rate_code(co))
    invoice.TxnTaxDetail = TxnTaxDetail()  # no code: no tax
    saved = invoice.save(qb=co.qb)
    assert not saved.TxnTaxDetail.TotalTax
    assert "Tax" not in _pdf_text(saved.download_pdf(qb=co.qb)).split()  # no "Tax 0.00"


def test_automated_sales_tax_honours_an_explicit_amount(co: Company) -> None:
    co.state.set_preferences(
        co.realm, {"TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True}}
    )
    prefs = Preferences.get(qb=co.qb)
    assert prefs.TaxPrefs.UsingSalesTax is True and prefs.TaxPrefs.PartnerTaxEnabled is True
    saved = _invoice(co, _two_rate_code(co), total_tax="7.77").save(qb=co.qb)
    assert saved.TxnTaxDetail.TotalTax == Decimal("7.77")
    # Prorated across the rates (6.25 : 2), the last rate taking the rounding.
    assert [line.Amount for line in saved.TxnTaxDetail.TaxLine] == [
        Decimal("5.89"),
        Decimal("1.88"),
    ]
    assert saved.TotalAmt == Decimal("135.00") + Decimal("7.77")


def test_sales_tax_is_off_in_a_new_company(co: Company) -> None:
    prefs = Preferences.get(qb=co.qb)
    assert prefs.TaxPrefs.UsingSalesTax is False
    assert prefs.TaxPrefs.PartnerTaxEnabled is False
