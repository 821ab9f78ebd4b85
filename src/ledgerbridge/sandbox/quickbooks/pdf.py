"""A real, readable PDF of a sales form (what `GET /invoice/{id}/pdf` returns)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fpdf import FPDF

from ledgerbridge.sandbox.quickbooks.wire import to_decimal

TITLES = {
    "Invoice": "INVOICE",
    "SalesReceipt": "SALES RECEIPT",
    "CreditMemo": "CREDIT MEMO",
    "RefundReceipt": "REFUND RECEIPT",
    "Estimate": "ESTIMATE",
}


def _text(value: Any) -> str:
    # core PDF fonts are Latin-1 only
    return str(value if value is not None else "").encode("latin-1", "replace").decode("latin-1")


def _amount(value: Any, currency: str) -> str:
    number = to_decimal(value) or Decimal(0)
    return f"{currency} {number:,.2f}"


def _address(addr: dict[str, Any] | None) -> list[str]:
    if not addr:
        return []
    lines = [addr.get(f"Line{i}") for i in range(1, 6)]
    city = " ".join(
        str(x)
        for x in (addr.get("City"), addr.get("CountrySubDivisionCode"), addr.get("PostalCode"))
        if x
    )
    return [str(x) for x in [*lines, city, addr.get("Country")] if x]


def render(entity: str, record: dict[str, Any], company: dict[str, Any]) -> bytes:
    currency = (record.get("CurrencyRef") or {}).get("value", "USD")
    pdf = FPDF(format="Letter")
    pdf.set_title(_text(f"{TITLES.get(entity, entity)} {record.get('DocNumber', record['Id'])}"))
    pdf.set_creator("QuickBooks Online sandbox")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _text(company.get("CompanyName", "")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for line in _address(company.get("CompanyAddr")):
        pdf.cell(0, 5, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 20)
    title = TITLES.get(entity, entity.upper())
    if record.get("PrivateNote", "").startswith("Voided"):
        title += "  (VOID)"
    pdf.cell(0, 10, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    facts = [
        ("No.", record.get("DocNumber", record["Id"])),
        ("Date", record.get("TxnDate")),
        ("Due date", record.get("DueDate")),
    ]
    for field in record.get("CustomField", []):
        if field.get("StringValue"):
            facts.append((field.get("Name"), field["StringValue"]))
    for label, value in facts:
        if value:
            pdf.cell(35, 6, _text(label))
            pdf.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    customer = (record.get("CustomerRef") or {}).get("name", "")
    for line in [customer, *_address(record.get("BillAddr"))]:
        if line:
            pdf.cell(0, 5, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    widths = (85, 25, 35, 40)
    pdf.set_font("Helvetica", "B", 10)
    for header, width in zip(("Product / service", "Qty", "Rate", "Amount"), widths, strict=True):
        pdf.cell(width, 7, header, border="B", align="L" if width == 85 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    discount = Decimal(0)
    subtotal: Any = 0
    for line in record.get("Line", []):
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            subtotal = line.get("Amount", 0)
            continue
        if kind == "DiscountLineDetail":
            discount += to_decimal(line.get("Amount")) or Decimal(0)
            continue
        detail = line.get("SalesItemLineDetail") or {}
        name = (detail.get("ItemRef") or {}).get("name") or line.get("Description") or ""
        if line.get("Description") and line.get("Description") != name:
            name = f"{name} - {line['Description']}"
        cells = (
            name[:48],
            detail.get("Qty", ""),
            detail.get("UnitPrice", ""),
            _amount(line.get("Amount"), currency) if "Amount" in line else "",
        )
        for value, width in zip(cells, widths, strict=True):
            pdf.cell(width, 6, _text(value), align="L" if width == 85 else "R")
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", subtotal)]
    if discount:
        totals.append(("Discount", -discount))
    tax = (record.get("TxnTaxDetail") or {}).get("TotalTax", 0)
    if tax:  # no "Tax 0.00" under an invoice whose tax is a line of its own
        totals.append(("Tax", tax))
    totals.append(("Total", record.get("TotalAmt", 0)))
    if "Balance" in record:
        totals.append(("Balance due", record.get("Balance", 0)))
    for label, value in totals:
        pdf.set_font("Helvetica", "B" if label in ("Total", "Balance due") else "", 10)
        pdf.cell(sum(widths[:3]), 6, _text(label), align="R")
        pdf.cell(
            widths[3], 6, _text(_amount(value, currency)), align="R", new_x="LMARGIN", new_y="NEXT"
        )
    memo = (record.get("CustomerMemo") or {}).get("value")
    if memo:
        pdf.ln(6)
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, _text(memo))
    return bytes(pdf.output())
