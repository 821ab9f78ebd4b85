"""Input that is allowed but probably a mistake (a 100 % discount typed for 10 %, a total of
zero, a due date already past): the create form asks for a confirmation instead of saving."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from ledgerbridge.web.formatting import money
from ledgerbridge.web.services.invoice_create import InvoiceForm, Prepared

DISCOUNT_WARN_PERCENT = Decimal(50)


def _d(text: str | None) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal(0)


def _adjustment(rows: list[dict[str, str]], subtotal: Decimal) -> Decimal:
    total = Decimal(0)
    for row in rows:
        value = _d(row.get("hs_value"))
        total += subtotal * value / 100 if row.get("hs_type") == "PERCENT" else value
    return total


def warnings(form: InvoiceForm, prepared: Prepared, today: dt.date) -> list[str]:
    out: list[str] = []
    subtotal = sum(
        (_d(line.get("quantity")) * _d(line.get("price")) for line in prepared.lines), Decimal(0)
    )
    discount = Decimal(0)
    if prepared.discount is not None:
        value = _d(prepared.discount.get("hs_value"))
        percent = (
            value
            if prepared.discount.get("hs_type") == "PERCENT"
            else (value * 100 / subtotal if subtotal else Decimal(0))
        )
        discount = (
            subtotal * value / 100 if prepared.discount.get("hs_type") == "PERCENT" else value
        )
        if percent > DISCOUNT_WARN_PERCENT:
            out.append(
                f"The discount is {percent.quantize(Decimal('0.1')).normalize():f} % of the "
                f"subtotal ({money(subtotal, form.currency)} becomes "
                f"{money(subtotal - discount, form.currency)}). Is that intended?"
            )
    total = (
        subtotal
        - discount
        + _adjustment(prepared.fees, subtotal)
        + _adjustment(prepared.taxes, subtotal)
    )
    if prepared.lines and total == 0:
        out.append("The invoice total is zero: the customer would owe nothing.")
    due = prepared.properties.get("hs_due_date")
    if due:
        try:
            due_day = dt.date.fromisoformat(form.due_date)
        except ValueError:
            due_day = None
        if due_day is not None and due_day < today:
            out.append(
                f"The due date ({due_day.isoformat()}) is in the past: the invoice is overdue "
                "as soon as it is sent."
            )
    return out
