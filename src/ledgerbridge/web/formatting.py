"""How the console shows money, dates and statuses. Money goes through babel, as Decimal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal

from ledgerbridge.connectors.hubspot.translate import parse_datetime
from ledgerbridge.domain import quantize, to_decimal

LOCALE = "en_US"

INVOICE_STATUS_LABELS = {
    "draft": "Draft",
    "open": "Open",
    "overdue": "Overdue",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "voided": "Voided",
}
PAYMENT_STATUS_LABELS = {
    "unpaid": "Unpaid",
    "partially_paid": "Partially paid",
    "paid": "Paid",
}
SYNC_STATUS_LABELS = {
    "synced": "Synced",
    "failed": "Failed",
    "pending": "Pending",
    "excluded": "Excluded",
    "blocked": "Waiting",
    "diverged": "Out of sync",
    "": "Not synced",
}
PAYMENT_LATEST_STATUS = {
    "succeeded": "Succeeded",
    "processing": "Processing",
    "failed": "Failed",
    "partially_refunded": "Partially refunded",
    "refunded": "Refunded",
    "processing_refund": "Refund processing",
}
PROCESSOR_LABELS = {
    "quickbooks": "QuickBooks",
    "hs_payments": "HubSpot payments",
    "byo_stripe": "Stripe",
    "none": "Manual",
    "xero": "Xero",
}
METHOD_LABELS = {
    "card": "Card",
    "ach": "ACH",
    "cash": "Cash",
    "check": "Check",
    "wire_transfer": "Wire transfer",
    "other": "Other",
    "sepa": "SEPA",
    "bacs": "BACS",
    "pads": "PADs",
}


def decimal_or_zero(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return to_decimal(value)
    except ValueError:
        return Decimal(0)


def money(value: Any, currency: str | None = "USD") -> str:
    """'$1,234.50', '€99.00', '¥1,200'; empty for a missing value."""
    if value in (None, ""):
        return ""
    amount = decimal_or_zero(value)
    code = (currency or "USD").upper()
    try:
        return format_currency(quantize(amount, code), code, locale=LOCALE)
    except (ValueError, KeyError):
        return f"{format_decimal(quantize(amount, code), locale=LOCALE)} {code}"


def unit_price(value: Any, currency: str | None = "USD") -> str:
    """A unit price with every decimal it has, and at least the currency's: '$10.00',
    '$10.005', '$0.3333'. HubSpot and QuickBooks keep unit prices beyond the cent (only line
    amounts are rounded), so rounding one here would show 3 x $0.33 = $1.00."""
    if value in (None, ""):
        return ""
    amount = decimal_or_zero(value)
    code = (currency or "USD").upper()
    if quantize(amount, code) == amount:
        return money(amount, code)
    exact = amount.normalize()
    try:
        return format_currency(exact, code, locale=LOCALE, decimal_quantization=False)
    except (ValueError, KeyError):
        return f"{format_decimal(exact, locale=LOCALE, decimal_quantization=False)} {code}"


def plain_amount(value: Any, currency: str | None = "USD") -> str:
    """'1234.50': for CSV and form fields (no grouping, no symbol)."""
    return format(quantize(decimal_or_zero(value), (currency or "USD").upper()), "f")


def quantity(value: Any) -> str:
    """'10', '1.5', '0.25': no exponent, no trailing zeros."""
    return format(decimal_or_zero(value).normalize(), "f")


def to_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    return parsed.date() if parsed else None


def date(value: Any) -> str:
    """'Nov 26, 2026'."""
    day = to_date(value)
    return day.strftime("%b %-d, %Y") if day else ""


def datetime(value: Any) -> str:
    """'Nov 26, 2026 14:05 UTC'."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        try:
            when = parse_datetime(value)
        except ValueError:
            return str(value)
        if when is None:
            return ""
    return when.astimezone(dt.UTC).strftime("%b %-d, %Y %H:%M UTC")


def iso_date(value: Any) -> str:
    day = to_date(value)
    return day.isoformat() if day else ""


def label(mapping: dict[str, str], value: Any) -> str:
    text = str(value or "")
    return mapping.get(text, text.replace("_", " ").capitalize())


def filters() -> dict[str, Any]:
    """Jinja filters."""
    return {
        "money": money,
        "unit_price": unit_price,
        "quantity": quantity,
        "date": date,
        "datetime": datetime,
        "iso_date": iso_date,
        "invoice_status": lambda v: label(INVOICE_STATUS_LABELS, v),
        "payment_status": lambda v: label(PAYMENT_STATUS_LABELS, v),
        "sync_status": lambda v: label(SYNC_STATUS_LABELS, v),
        "payment_latest": lambda v: label(PAYMENT_LATEST_STATUS, v),
        "processor": lambda v: label(PROCESSOR_LABELS, v),
        "method": lambda v: label(METHOD_LABELS, v),
    }
