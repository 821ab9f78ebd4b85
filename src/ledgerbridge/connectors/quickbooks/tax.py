"""Sales tax as QBO tax codes (TxnTaxDetail), for companies that compute sales tax.

- Detection: `Preferences.TaxPrefs.UsingSalesTax` (the company computes sales tax, with tax
  codes) and `PartnerTaxEnabled` (Automated Sales Tax: QBO assigns the code and honours an
  explicit amount). A company without sales tax keeps HubSpot's taxes as lines on the
  liability item (engine/ensure.py).
- Writing: the engine gives each tax line the "item" TAX_CODE_PREFIX + code id. Those lines are
  not sent as lines: the invoice gets `TxnTaxDetail.TxnTaxCodeRef` (QBO computes TotalTax from
  the code's rates on the taxable lines), every other line is taxable (`TaxCodeRef` TAX, as
  HubSpot taxes the whole amount after the discount, fees included) and
  `ApplyTaxAfterDiscount` is true. Under Automated Sales Tax the amount is sent too
  (`TotalTax`), which QBO honours. In a tax-code company, an invoice without tax has every
  line `NON`, so QBO adds no tax of its own.
- Reading: an invoice's `TotalTax` becomes one canonical tax line (after the other lines, as
  HubSpot orders taxes last), whose item is the invoice's tax code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Invoice, LineItem, LineKind, quantize, to_decimal
from ledgerbridge.engine.ports import TAX_CODE_PREFIX, TaxCode, TaxSetup


def setup_from_preferences(prefs: Mapping[str, Any]) -> tuple[bool, bool]:
    """(uses tax codes, automated sales tax) from QBO Preferences."""
    tax = prefs.get("TaxPrefs") or {}
    return bool(tax.get("UsingSalesTax")), bool(tax.get("PartnerTaxEnabled"))


def codes_from_rows(
    codes: Sequence[Mapping[str, Any]], rates: Sequence[Mapping[str, Any]]
) -> tuple[TaxCode, ...]:
    """Active sales tax codes with the sum of their sales rates (TaxRate.RateValue)."""
    by_id = {str(r.get("Id")): to_decimal(r.get("RateValue") or 0) for r in rates}
    out: list[TaxCode] = []
    for row in codes:
        if row.get("Active") is False:
            continue
        details = (row.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
        if not details:
            continue  # a purchase-only code, or TAX/NON pseudo-codes
        total = sum(
            (by_id.get(str((d.get("TaxRateRef") or {}).get("value")), Decimal(0)) for d in details),
            Decimal(0),
        )
        out.append(TaxCode(id=str(row["Id"]), name=str(row.get("Name") or row["Id"]), rate=total))
    return tuple(out)


def split_tax_lines(
    invoice: Invoice, item_ids: Sequence[str]
) -> tuple[Invoice, list[str], str | None, Decimal]:
    """(the invoice without its tax-code lines, their item ids, the tax code reference or None
    when no line is one, the tax those lines carry)."""
    kept: list[LineItem] = []
    ids: list[str] = []
    code: str | None = None
    tax = Decimal(0)
    for line, item_id in zip(invoice.lines, item_ids, strict=True):
        if str(item_id).startswith(TAX_CODE_PREFIX):
            code = str(item_id)[len(TAX_CODE_PREFIX) :]
            tax += line.amount(invoice.currency)
            continue
        kept.append(line)
        ids.append(str(item_id))
    if code is None:
        return invoice, ids, None, Decimal(0)
    return replace(invoice, lines=tuple(kept)), ids, code, tax


def apply_tax(
    body: dict[str, Any],
    code: str | None,
    tax: Decimal,
    setup: TaxSetup,
    currency: str,
) -> None:
    """Set the invoice body's tax (see the module's docstring). No-op outside tax-code
    companies when the invoice has no tax-code line."""
    if code is None and not setup.uses_tax_codes:
        return
    line_code = "TAX" if code is not None else "NON"
    for line in body.get("Line") or []:
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict):
            detail["TaxCodeRef"] = {"value": line_code}
    if code is None:
        return
    detail_out: dict[str, Any] = {}
    if code:
        detail_out["TxnTaxCodeRef"] = {"value": code}
    if setup.automated:
        detail_out["TotalTax"] = quantize(tax, currency)
    body["TxnTaxDetail"] = detail_out
    body["ApplyTaxAfterDiscount"] = True


def tax_line_from_wire(data: Mapping[str, Any], currency: str) -> LineItem | None:
    """The invoice's computed tax as one canonical tax line, None when it has none."""
    detail = data.get("TxnTaxDetail") or {}
    total = to_decimal(detail.get("TotalTax") or 0)
    if not total:
        return None
    ref = detail.get("TxnTaxCodeRef") or {}
    code = str(ref.get("value") or "") if isinstance(ref, Mapping) else ""
    name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
    return LineItem(
        name=name or "Sales tax",
        quantity=Decimal(1),
        unit_price=quantize(total, currency),
        kind=LineKind.TAX,
        product_id=TAX_CODE_PREFIX + code,
    )
