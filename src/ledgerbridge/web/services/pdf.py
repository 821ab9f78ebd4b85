"""Invoice PDFs: QuickBooks' own PDF for an invoice that synced, else one rendered here (fpdf2)
from the HubSpot invoice, so that a draft or an excluded invoice can be downloaded too."""

from __future__ import annotations

import logging
import re

from fpdf import FPDF

from ledgerbridge.errors import SyncError
from ledgerbridge.web.context import Console
from ledgerbridge.web.formatting import date, money, unit_price
from ledgerbridge.web.services.invoice_detail import InvoiceView, load_invoice

log = logging.getLogger(__name__)


def _filename(number: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", number).strip("-") or "invoice"
    return f"Invoice-{safe}.pdf"


async def invoice_pdf(console: Console, invoice_id: str) -> tuple[bytes, str, str] | None:
    """(content, file name, "quickbooks" | "local"), or None when HubSpot has no such invoice."""
    view = await load_invoice(console, invoice_id, with_qbo=False)
    if view is None:
        return None
    sync = view.sync
    if sync.qbo_id and sync.status == "synced" and not sync.qbo_kind:
        try:
            content = await console.ledger.invoice_pdf(sync.qbo_id)
            if content.startswith(b"%PDF"):
                return content, _filename(customer_number(view)), "quickbooks"
        except SyncError as exc:
            # The invoice is still downloadable: rendered here instead.
            log.warning("QuickBooks PDF of invoice %s unavailable: %s", sync.qbo_id, exc)
    return render_pdf(view), _filename(customer_number(view)), "local"


def customer_number(view: InvoiceView) -> str:
    """The number on the document the customer holds: the number of the system the invoice
    was issued from (HubSpot's for a HubSpot invoice, QuickBooks' for one made there)."""
    if view.sync.origin == "quickbooks" and view.sync.qbo_number:
        return view.sync.qbo_number
    return view.number


def _latin1(text: object) -> str:
    """The PDF core fonts cover Latin-1 only; other characters become '?' rather than fail."""
    return (
        str(text)
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .replace("\u20ac", "EUR ")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def _amount(value: object, currency: str) -> str:
    return _latin1(money(value, currency))


def render_pdf(view: InvoiceView) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title(_latin1(f"Invoice {view.number}"))
    pdf.set_creator("ledgerbridge")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 10, _latin1(f"Invoice {view.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    status = view.status.capitalize() + (" (draft, not sent)" if view.status == "draft" else "")
    for label, value in (
        ("Status", status),
        ("Invoice date", date(view.raw.get("hs_invoice_date"))),
        ("Due date", date(view.raw.get("hs_due_date"))),
        ("PO number", view.raw.get("hs_purchase_order_number") or ""),
        ("Currency", view.currency),
    ):
        if value:
            pdf.cell(35, 6, _latin1(label))
            pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    contact = view.contact or {}
    name = " ".join(x for x in (contact.get("firstname"), contact.get("lastname")) if x)
    for line in ((view.company or {}).get("name"), name, contact.get("email")):
        if line:
            pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (90, 22, 35, 39)
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_fill_color(238, 241, 245)
    for text, width, align in zip(
        ("Item", "Qty", "Unit price", "Amount"), widths, "LRRR", strict=True
    ):
        pdf.cell(width, 8, text, border="B", align=align, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in view.lines:
        cells = (
            line.name[:60],
            format(line.quantity.normalize(), "f"),
            _latin1(unit_price(line.unit_price, view.currency)),
            _amount(line.amount, view.currency),
        )
        for text, width, align in zip(cells, widths, "LRRR", strict=True):
            pdf.cell(width, 7, _latin1(text), align=align)
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", view.subtotal)]
    totals += [
        (f"{a.label}", -a.amount if a.kind == "discount" else a.amount) for a in view.adjustments
    ]
    totals += [("Total", view.total), ("Paid", view.paid), ("Balance due", view.balance)]
    for label, value in totals:
        bold = label in ("Total", "Balance due")
        pdf.set_font("Helvetica", "B" if bold else "", 10)
        pdf.cell(widths[0] + widths[1], 7, "")
        pdf.cell(widths[2], 7, _latin1(label), align="R")
        pdf.cell(widths[3], 7, _amount(value, view.currency), align="R")
        pdf.ln()
    if view.raw.get("hs_comments"):
        pdf.ln(6)
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, _latin1(view.raw["hs_comments"]))
    return bytes(pdf.output())
