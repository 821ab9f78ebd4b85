"""Canonical invoices → HubSpot wire properties (the write side of translate.py). Pure
functions; amounts are Decimal, written as exact strings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot.translate import OWN_PROPERTIES, date_to_wire, dec
from ledgerbridge.domain import Invoice, LineItem, LineKind


def line_to_wire(line: LineItem, currency: str, position: int) -> dict[str, str]:
    out = {
        "name": line.name,
        "quantity": format(line.quantity, "f"),
        "price": format(line.unit_price, "f"),
        "hs_line_item_currency_code": currency,
        "hs_position_on_quote": str(position),
    }
    if line.description:
        out["description"] = line.description
    if line.sku:
        out["hs_sku"] = line.sku
    return out


def adjustments_to_wire(invoice: Invoice) -> dict[str, list[dict[str, str]]]:
    """Discount/fee/tax objects for an invoice written to HubSpot. Fee and tax lines become
    FIXED fee/tax objects; with any of them present, a percent discount is written as its fixed
    amount, because HubSpot applies discounts before fees and taxes (the canonical model applies
    it to all lines)."""
    out: dict[str, list[dict[str, str]]] = {"discounts": [], "fees": [], "taxes": []}
    adjustments = [line for line in invoice.lines if line.kind in (LineKind.FEE, LineKind.TAX)]
    for order, line in enumerate(adjustments):
        kind = "fees" if line.kind is LineKind.FEE else "taxes"
        out[kind].append(
            {
                "hs_label": line.name,
                "hs_type": "FIXED",
                "hs_value": format(line.amount(invoice.currency), "f"),
                "hs_sort_order": str(order),
            }
        )
    if invoice.discount is not None and invoice.discount_amount:
        if invoice.discount.kind == "percent" and not adjustments:
            out["discounts"].append(
                {
                    "hs_label": "Discount",
                    "hs_type": "PERCENT",
                    "hs_value": format(invoice.discount.value, "f"),
                    "hs_sort_order": "0",
                }
            )
        else:
            out["discounts"].append(
                {
                    "hs_label": "Discount",
                    "hs_type": "FIXED",
                    "hs_value": format(invoice.discount_amount, "f"),
                    "hs_sort_order": "0",
                }
            )
    return out


def product_lines(invoice: Invoice) -> list[LineItem]:
    return [line for line in invoice.lines if line.kind is LineKind.PRODUCT]


def line_signature(p: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two line items the same line (used to replace lines idempotently)."""
    return (
        str(p.get("name") or ""),
        (dec(p.get("quantity"), Decimal(1)) or Decimal(0)).normalize(),
        (dec(p.get("price"), Decimal(0)) or Decimal(0)).normalize(),
        (dec(p.get("discount"), Decimal(0)) or Decimal(0)).normalize(),
        (dec(p.get("hs_discount_percentage"), Decimal(0)) or Decimal(0)).normalize(),
        str(p.get("description") or ""),
        str(p.get("hs_sku") or ""),
        str(p.get("hs_position_on_quote") or ""),
    )


def adjustment_signature(p: Mapping[str, Any]) -> tuple[str, str, Decimal, str]:
    return (
        str(p.get("hs_label") or ""),
        str(p.get("hs_type") or "FIXED").upper(),
        (dec(p.get("hs_value"), Decimal(0)) or Decimal(0)).normalize(),
        str(p.get("hs_sort_order") or ""),
    )


INVOICE_FIELD_PROPERTIES: dict[str, tuple[str, ...]] = {
    "due_date": ("hs_due_date",),
    "issue_date": ("hs_invoice_date",),
    "po_number": ("hs_purchase_order_number",),
    "memo": ("hs_comments",),
    "currency": ("hs_currency",),
    "number": ("hs_number",),
}


def invoice_properties(invoice: Invoice, fields: Sequence[str]) -> dict[str, str | None]:
    """Plain invoice properties for the named canonical fields ('custom_fields' writes every
    custom field value by property name). Lines, discount, customer and status are handled by
    the client, which needs more than property writes for them."""
    values: dict[str, str | None] = {
        "hs_due_date": date_to_wire(invoice.due_date),
        "hs_invoice_date": date_to_wire(invoice.issue_date),
        "hs_purchase_order_number": invoice.po_number,
        "hs_comments": invoice.memo,
        "hs_currency": invoice.currency,
        "hs_number": invoice.number,
    }
    out: dict[str, str | None] = {}
    for name in fields:
        for prop in INVOICE_FIELD_PROPERTIES.get(name, ()):
            out[prop] = values[prop] if values[prop] not in (None, "") else ""
    if "custom_fields" in fields:
        # The custom fields hold every mappable property as read (hs_comments among them):
        # a property written for a named field (memo -> hs_comments) keeps that field's new
        # value, never the stale one read with the rest.
        out.update(
            {
                k: v
                for k, v in invoice.custom_fields.items()
                if k not in OWN_PROPERTIES and k not in out
            }
        )
    return out
