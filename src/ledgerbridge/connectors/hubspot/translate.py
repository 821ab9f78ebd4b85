"""HubSpot wire records ⇄ canonical records. Pure functions; amounts are Decimal.

HubSpot property values are all strings. The invoice's amounts are computed by HubSpot from
its line items, then discounts, fees and taxes (each ordered by hs_sort_order). The canonical
model counts fees and taxes as lines and applies its one discount to the sum of all lines, so:
- each fee/tax object becomes a FEE/TAX line whose amount is what HubSpot computed for it;
- when fees or taxes exist (or several discounts), the discount becomes a fixed amount equal to
  HubSpot's computed discount, so both totals agree to the cent;
- a line-item discount (`discount` per unit or `hs_discount_percentage`) is folded into the
  line's unit price, which keeps quantity × unit price = the line amount HubSpot shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import (
    Address,
    Customer,
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    Side,
    quantize,
    to_decimal,
)

# Properties ledgerbridge writes; never treated as user custom fields.
SYNC_STATUS = "ledgerbridge_sync_status"
SYNC_ERROR = "ledgerbridge_sync_error"
QBO_INVOICE_ID = "qbo_invoice_id"
QBO_DOC_NUMBER = "qbo_doc_number"
PAYMENT_KEY = "ledgerbridge_payment_key"
OWN_PROPERTIES = {SYNC_STATUS, SYNC_ERROR, QBO_INVOICE_ID, QBO_DOC_NUMBER, PAYMENT_KEY}

INVOICE_PROPERTIES = (
    "hs_currency",
    "hs_exchange_rate",
    "hs_invoice_status",
    "hs_number",
    "hs_title",
    "hs_invoice_date",
    "hs_due_date",
    "hs_purchase_order_number",
    "hs_comments",
    "hs_tax_id",
    "hs_amount_billed",
    "hs_amount_paid",
    "hs_balance_due",
    "hs_subtotal",
    "hs_discount_amount",
    "hs_invoice_source",
    "hs_payment_status",
    "hs_lastmodifieddate",
    "hs_createdate",
    "hs_object_id",
    "hs_language",
    "hs_locale",
    "hs_external_invoice_id",
    "hs_invoice_billable",
    SYNC_STATUS,
    SYNC_ERROR,
    QBO_INVOICE_ID,
    QBO_DOC_NUMBER,
)
# hs_ invoice properties a user may map to QBO custom fields (alongside every custom property).
MAPPABLE_HS_PROPERTIES = (
    "hs_purchase_order_number",
    "hs_title",
    "hs_comments",
    "hs_number",
    "hs_tax_id",
    "hs_language",
    "hs_locale",
    "hs_external_invoice_id",
)
LINE_ITEM_PROPERTIES = (
    "name",
    "description",
    "quantity",
    "price",
    "amount",
    "hs_sku",
    "hs_product_id",
    "discount",
    "hs_discount_percentage",
    "hs_line_item_currency_code",
    "hs_position_on_quote",
)
ADJUSTMENT_PROPERTIES = ("hs_label", "hs_value", "hs_type", "hs_sort_order")
CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "lifecyclestage",
    "jobtitle",
)
COMPANY_PROPERTIES = (
    "name",
    "domain",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "industry",
)
DEAL_PROPERTIES = ("dealname", "pipeline", "dealstage", "amount", "closedate")
PAYMENT_PROPERTIES = (
    "hs_initial_amount",
    "hs_initiated_date",
    "hs_currency_code",
    "hs_customer_email",
    "hs_fees_amount",
    "hs_platform_fee",
    "hs_latest_status",
    "hs_payment_method_type",
    "hs_processor_type",
    "hs_reference_number",
    "hs_refunds_amount",
    "hs_lastmodifieddate",
    "hs_internal_comment",
    PAYMENT_KEY,
)


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------
def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    if value is None or value == "":
        return default
    return to_decimal(value)


def parse_datetime(value: Any) -> dt.datetime | None:
    """HubSpot datetimes: ISO 8601 ("2024-05-01T12:00:00.000Z") or epoch milliseconds."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_date(value: Any) -> dt.date | None:
    """A date-valued datetime property (HubSpot stores dates as midnight UTC)."""
    parsed = parse_datetime(value)
    return parsed.astimezone(dt.UTC).date() if parsed else None


def epoch_ms(value: Any) -> int | None:
    parsed = parse_datetime(value)
    return int(parsed.timestamp() * 1000) if parsed else None


def date_to_wire(value: dt.date | None) -> str | None:
    """A date as HubSpot datetime properties expect it: midnight UTC, ISO 8601."""
    return f"{value.isoformat()}T00:00:00.000Z" if value else None


# --------------------------------------------------------------------------------------------
# Invoice read
# --------------------------------------------------------------------------------------------
@dataclass
class InvoiceBundle:
    """One invoice and the records associated with it, as read from HubSpot."""

    invoice: Mapping[str, Any]
    line_items: list[Mapping[str, Any]] = field(default_factory=list)
    contact: Mapping[str, Any] | None = None
    company: Mapping[str, Any] | None = None
    deal: Mapping[str, Any] | None = None
    discounts: list[Mapping[str, Any]] = field(default_factory=list)
    fees: list[Mapping[str, Any]] = field(default_factory=list)
    taxes: list[Mapping[str, Any]] = field(default_factory=list)


def props(record: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not record:
        return {}
    return record.get("properties") or {}


def _sort_key(p: Mapping[str, Any], record_id: Any) -> tuple[Decimal, int]:
    position = dec(p.get("hs_position_on_quote") or p.get("hs_sort_order"), Decimal(0)) or Decimal(
        0
    )
    try:
        return position, int(record_id)
    except (TypeError, ValueError):
        return position, 0


def line_from_wire(record: Mapping[str, Any], currency: str) -> LineItem:
    p = props(record)
    quantity = dec(p.get("quantity"), Decimal(1)) or Decimal(0)
    price = dec(p.get("price"), Decimal(0)) or Decimal(0)
    percent = dec(p.get("hs_discount_percentage"))
    per_unit = dec(p.get("discount"))
    if percent:
        price = price * (Decimal(100) - percent) / Decimal(100)
    elif per_unit:
        price = price - per_unit
    return LineItem(
        name=str(p.get("name") or "Line item"),
        quantity=quantity,
        unit_price=price,
        description=p.get("description") or None,
        sku=p.get("hs_sku") or None,
        kind=LineKind.PRODUCT,
        product_id=str(p["hs_product_id"]) if p.get("hs_product_id") else None,
        id=str(record.get("id")) if record.get("id") is not None else None,
    )


def _adjustment_amount(p: Mapping[str, Any], base: Decimal, currency: str) -> Decimal:
    value = dec(p.get("hs_value"), Decimal(0)) or Decimal(0)
    if str(p.get("hs_type") or "FIXED").upper() == "PERCENT":
        return quantize(base * value / Decimal(100), currency)
    return value


def exchange_rate(value: Any) -> Decimal | None:
    """A positive rate, else None (no rate given: QuickBooks' own rate is used)."""
    try:
        rate = dec(value)
    except ValueError:
        return None
    return rate if rate is not None and rate > 0 else None


def _percent_rate(p: Mapping[str, Any]) -> Decimal | None:
    if str(p.get("hs_type") or "").upper() != "PERCENT":
        return None
    try:
        return dec(p.get("hs_value"))
    except ValueError:
        return None


def _ordered(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: _sort_key(props(r), r.get("id")))


def invoice_from_wire(bundle: InvoiceBundle) -> Invoice:
    p = props(bundle.invoice)
    currency = str(p.get("hs_currency") or "USD").upper()
    lines = [line_from_wire(r, currency) for r in _ordered(bundle.line_items)]
    subtotal = sum((line.amount(currency) for line in lines), Decimal(0))

    discounts = _ordered(bundle.discounts)
    discount_total = sum(
        (_adjustment_amount(props(d), subtotal, currency) for d in discounts), Decimal(0)
    )
    extra: list[LineItem] = []
    running = subtotal - discount_total
    for kind, records in ((LineKind.FEE, bundle.fees), (LineKind.TAX, bundle.taxes)):
        added = Decimal(0)
        for record in _ordered(records):
            rp = props(record)
            amount = _adjustment_amount(rp, running, currency)
            added += amount
            extra.append(
                LineItem(
                    name=str(rp.get("hs_label") or kind.value.title()),
                    quantity=Decimal(1),
                    unit_price=amount,
                    kind=kind,
                    id=str(record.get("id")) if record.get("id") is not None else None,
                    rate=_percent_rate(rp),
                )
            )
        running += added

    discount: Discount | None = None
    if len(discounts) == 1 and not extra:
        dp = props(discounts[0])
        discount_kind = (
            "percent" if str(dp.get("hs_type") or "FIXED").upper() == "PERCENT" else "amount"
        )
        discount = Discount(discount_kind, dec(dp.get("hs_value"), Decimal(0)) or Decimal(0))
    elif discounts and discount_total:
        discount = Discount("amount", quantize(discount_total, currency))

    customer = contact_to_customer(bundle.contact, bundle.company)
    status_text = str(p.get("hs_invoice_status") or "draft").lower()
    try:
        status = InvoiceStatus(status_text)
    except ValueError:
        status = InvoiceStatus.OPEN
    custom = {
        name: str(value)
        for name, value in p.items()
        if value not in (None, "")
        and name not in OWN_PROPERTIES
        and (not name.startswith("hs_") or name in MAPPABLE_HS_PROPERTIES)
        and name not in ("createdate", "lastmodifieddate", "hubspot_owner_id")
    }
    return Invoice(
        currency=currency,
        lines=tuple(lines + extra),
        status=status,
        customer=customer,
        number=p.get("hs_number") or None,
        issue_date=parse_date(p.get("hs_invoice_date")),
        due_date=parse_date(p.get("hs_due_date")),
        discount=discount,
        po_number=p.get("hs_purchase_order_number") or None,
        memo=p.get("hs_comments") or None,
        custom_fields=custom,
        exchange_rate=exchange_rate(p.get("hs_exchange_rate")),
        amount_paid=dec(p.get("hs_amount_paid"), Decimal(0)) or Decimal(0),
        balance_due=dec(p.get("hs_balance_due")),
        context=invoice_context(bundle),
        id=str(bundle.invoice.get("id")),
        version=p.get("hs_lastmodifieddate") or None,
        # The engine's record link knows the true origin; this is the best guess from HubSpot alone.
        origin=Side.QUICKBOOKS if p.get("hs_invoice_source") == "data_sync" else Side.HUBSPOT,
    )


def invoice_context(bundle: InvoiceBundle) -> dict[str, str]:
    """Filter inputs: 'contact.<p>', 'company.<p>', 'deal.<p>' and a few invoice facts."""
    context: dict[str, str] = {}
    for prefix, record in (
        ("contact", bundle.contact),
        ("company", bundle.company),
        ("deal", bundle.deal),
    ):
        for name, value in props(record).items():
            if value not in (None, ""):
                context[f"{prefix}.{name}"] = str(value)
        if record is not None and record.get("id") is not None:
            context[f"{prefix}.id"] = str(record["id"])
    ip = props(bundle.invoice)
    for name in (
        "hs_invoice_source",
        "hs_amount_billed",
        "hs_payment_status",
        SYNC_STATUS,
        QBO_INVOICE_ID,
        QBO_DOC_NUMBER,
    ):
        if ip.get(name) not in (None, ""):
            context[f"invoice.{name}"] = str(ip[name])
    return context


def contact_address(p: Mapping[str, Any]) -> Address | None:
    """A HubSpot contact's address properties as an Address (None when all are empty)."""
    if not any(p.get(k) for k in ("address", "city", "state", "zip", "country")):
        return None
    return Address(
        line1=p.get("address") or None,
        city=p.get("city") or None,
        state=p.get("state") or None,
        postal_code=p.get("zip") or None,
        country=p.get("country") or None,
    )


def contact_to_customer(
    contact: Mapping[str, Any] | None, company: Mapping[str, Any] | None
) -> Customer | None:
    if contact is None:
        return None
    p = props(contact)
    cp = props(company)
    address = contact_address(p)
    return Customer(
        email=p.get("email") or None,
        first_name=p.get("firstname") or None,
        last_name=p.get("lastname") or None,
        company_name=cp.get("name") or p.get("company") or None,
        phone=p.get("phone") or None,
        address=address,
        id=str(contact.get("id")) if contact.get("id") is not None else None,
    )
