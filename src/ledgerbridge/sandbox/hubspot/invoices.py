"""Server-computed fields and the invoice lifecycle.

An invoice's amounts come from its associated line items, then discounts, fees and taxes (in
that order, each ordered by hs_sort_order), then associated commerce payments. Status follows the
documented rules: draft -> open needs one contact and at least one line item; an open invoice
becomes paid when its balance reaches zero (and open again if a payment goes away); payments
cannot be "recorded" by writing the status; only drafts can be archived.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING

from ledgerbridge.sandbox.currencies import minor_unit

from .errors import validation
from .store import Record

if TYPE_CHECKING:
    from .state import SandboxState

CENT = Decimal("0.01")
# Payment states whose money reached the merchant (net of refunds).
COUNTED_PAYMENT_STATES = {
    "succeeded",
    "partially_refunded",
    "refunded",
    "processing_refund",
    "disputed_won",
}


def dec(value: str | None) -> Decimal:
    try:
        return Decimal(value) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def money(value: Decimal, currency: str | None = None) -> str:
    """An amount as HubSpot shows it: rounded at the currency's minor unit (cents by default)."""
    return str(value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP))


def line_item_computed(rec: Record) -> dict[str, str | None]:
    p = rec.properties
    qty, price = dec(p.get("quantity") or "1"), dec(p.get("price"))
    gross = qty * price
    if p.get("hs_discount_percentage"):
        discount = gross * dec(p["hs_discount_percentage"]) / 100
    else:
        discount = qty * dec(p.get("discount"))
    cur = p.get("hs_line_item_currency_code")
    return {
        "amount": money(gross - discount, cur),
        "hs_pre_discount_amount": money(gross, cur),
        "hs_total_discount": money(discount, cur),
    }


def payment_computed(state: SandboxState, rec: Record) -> dict[str, str | None]:
    p = rec.properties
    fees = dec(p.get("hs_fees_amount")) + dec(p.get("hs_platform_fee"))
    net = dec(p.get("hs_initial_amount")) - fees
    invoices = state.linked(rec, "invoices")
    return {
        "hs_net_amount": money(net),
        "hs_net_amount_after_refunds": money(net - dec(p.get("hs_refunds_amount"))),
        "hs_has_associated_invoice": "true" if invoices else "false",
        "hs_number_of_associated_invoices": str(len(invoices)),
    }


def payment_counted(rec: Record) -> Decimal:
    p = rec.properties
    if p.get("hs_latest_status") not in COUNTED_PAYMENT_STATES:
        return Decimal(0)
    return dec(p.get("hs_initial_amount")) - dec(p.get("hs_refunds_amount"))


def _adjustments(state: SandboxState, inv: Record, kind: str, base: Decimal) -> Decimal:
    total = Decimal(0)
    objs = sorted(
        state.linked(inv, kind), key=lambda r: (dec(r.properties.get("hs_sort_order")), int(r.id))
    )
    for o in objs:
        value = dec(o.properties.get("hs_value"))
        if o.properties.get("hs_type", "FIXED") == "PERCENT":
            unit = minor_unit(inv.properties.get("hs_currency"))
            total += (base * value / 100).quantize(unit, rounding=ROUND_HALF_UP)
        else:
            total += value
    return total


def invoice_totals(state: SandboxState, inv: Record) -> dict[str, Decimal]:
    subtotal = sum(
        (dec(li.properties.get("amount")) for li in state.linked(inv, "line_items")), Decimal(0)
    )
    discount = _adjustments(state, inv, "discounts", subtotal)
    fees = _adjustments(state, inv, "fees", subtotal - discount)
    taxes = _adjustments(state, inv, "taxes", subtotal - discount + fees)
    billed = subtotal - discount + fees + taxes
    paid = sum((payment_counted(p) for p in state.linked(inv, "commerce_payments")), Decimal(0))
    return {
        "subtotal": subtotal,
        "discount": discount,
        "fees": fees,
        "taxes": taxes,
        "billed": billed,
        "paid": paid,
        "balance": billed - paid,
    }


# The invoice's own properties invoice_computed reads; everything else it reads comes from linked
# records, whose changes recompute their invoices. A write that changes none of these (e.g. an
# integration's sync-state properties) leaves every computed value as it was.
COMPUTED_FROM = frozenset({"hs_currency", "hs_invoice_status", "hs_payment_date"})


def invoice_computed(state: SandboxState, inv: Record) -> dict[str, str | None]:
    t = invoice_totals(state, inv)
    p = inv.properties
    cur = p.get("hs_currency")
    status = p.get("hs_invoice_status", "draft")
    settled = t["billed"] > 0 and t["balance"] <= 0
    if status == "open" and settled:
        status = "paid"
    elif status == "paid" and not settled:
        status = "open"
    if t["paid"] <= 0:
        payment_status = "unpaid"
    elif settled:
        payment_status = "paid"
    else:
        payment_status = "partially_paid"
    payment_date = p.get("hs_payment_date")
    if status == "paid" and not payment_date:
        dates = [
            x.properties.get("hs_initiated_date") or ""
            for x in state.linked(inv, "commerce_payments")
        ]
        payment_date = max(dates) if any(dates) else None
    elif status != "paid":
        payment_date = None
    contacts = state.linked(inv, "contacts")
    companies = state.linked(inv, "companies")
    return {
        "hs_subtotal": money(t["subtotal"], cur),
        "hs_discount_amount": money(t["discount"], cur),
        "hs_fee_amount": money(t["fees"], cur),
        "hs_tax_amount": money(t["taxes"], cur),
        "hs_amount_billed": money(t["billed"], cur),
        "hs_amount_paid": money(t["paid"], cur),
        "hs_balance_due": money(t["balance"], cur),
        "hs_invoice_status": status,
        "hs_payment_status": payment_status,
        "hs_payment_date": payment_date,
        "hs_invoice_latest_contact_email": contacts[0].properties.get("email")
        if contacts
        else None,
        "hs_invoice_latest_company_name": companies[0].properties.get("name")
        if companies
        else None,
    }


def check_status_change(state: SandboxState, inv: Record, new: str) -> None:
    """Refuse status writes HubSpot refuses. Raises ApiError (400)."""
    old = inv.properties.get("hs_invoice_status", "draft")
    if new == old:
        return
    if old == "voided":
        raise validation("A voided invoice cannot change status.")
    if new == "draft":
        raise validation(f"Invoice {inv.id} is {old}; an invoice cannot be moved back to draft.")
    if new == "open":
        if old == "paid":
            raise validation(f"Invoice {inv.id} is paid; its status follows its payments.")
        contacts = state.linked(inv, "contacts")
        lines = state.linked(inv, "line_items")
        if len(contacts) != 1 or not lines:
            raise validation(
                "To move an invoice to the Open status, one contact and at least one line item "
                f"must be associated (invoice {inv.id} has {len(contacts)} contact(s) and "
                f"{len(lines)} line item(s)).",
                errors=[
                    {
                        "message": "Invoice is not ready to be finalized",
                        "code": "INVOICE_NOT_FINALIZABLE",
                        "context": {
                            "contacts": [str(len(contacts))],
                            "lineItems": [str(len(lines))],
                        },
                    }
                ],
            )
    if new == "paid":
        t = invoice_totals(state, inv)
        if old == "draft" or t["billed"] <= 0 or t["balance"] > 0:
            raise validation(
                "Recording payments manually is not possible via the API: associate a commerce "
                "payment with the invoice; it becomes paid when its balance reaches zero."
            )
    if new == "voided" and old == "paid":
        raise validation(f"Invoice {inv.id} is paid and cannot be voided.")
