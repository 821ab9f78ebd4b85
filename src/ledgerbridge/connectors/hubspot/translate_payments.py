"""HubSpot commerce payments ⇄ canonical payments. Pure functions; amounts are Decimal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot.translate import (
    PAYMENT_KEY,
    date_to_wire,
    dec,
    parse_date,
    props,
)
from ledgerbridge.domain import Customer, Payment, PaymentApplication, Side, quantize

# --------------------------------------------------------------------------------------------
METHOD_TO_WIRE = {
    "check": "check",
    "cash": "cash",
    "credit_card": "card",
    "card": "card",
    "ach": "ach",
    "wire_transfer": "wire_transfer",
    "sepa": "sepa",
    "bacs": "bacs",
}
METHOD_FROM_WIRE = {
    "card": "credit_card",
    "check": "check",
    "cash": "cash",
    "ach": "ach",
    "wire_transfer": "wire_transfer",
    "sepa": "sepa",
    "bacs": "bacs",
    "pads": "pads",
    "other": "other",
}
# What a refund recorded in HubSpot changes on a commerce payment.
REFUND_PROPERTIES = ("hs_latest_status", "hs_refunds_amount")
STATUS_FROM_WIRE = {
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "succeeded": "succeeded",
}


def payment_from_wire(record: Mapping[str, Any], invoice_ids: Sequence[str]) -> Payment:
    """`invoice_ids`: the invoices the payment is associated with. HubSpot does not say how a
    payment associated with several invoices is split, so the whole amount goes to the first."""
    p = props(record)
    amount = dec(p.get("hs_initial_amount"), Decimal(0)) or Decimal(0)
    currency = str(p.get("hs_currency_code") or "USD").upper()
    apps = tuple(
        PaymentApplication(invoice_id=str(i), amount=amount if n == 0 else Decimal(0))
        for n, i in enumerate(sorted(invoice_ids, key=_int_or_zero))
    )
    status = str(p.get("hs_latest_status") or "")
    return Payment(
        amount=amount,
        currency=currency,
        date=parse_date(p.get("hs_initiated_date")) or dt.date(1970, 1, 1),
        applications=apps,
        method=METHOD_FROM_WIRE.get(str(p.get("hs_payment_method_type") or "")),
        reference=p.get("hs_reference_number") or None,
        processor=p.get("hs_processor_type") or None,
        status=STATUS_FROM_WIRE.get(
            status, "succeeded" if status in ("", "processing") else status
        ),
        customer=Customer(email=p.get("hs_customer_email")) if p.get("hs_customer_email") else None,
        processing_fee=dec(p.get("hs_fees_amount"), Decimal(0)) or Decimal(0),
        platform_fee=dec(p.get("hs_platform_fee"), Decimal(0)) or Decimal(0),
        refunded=dec(p.get("hs_refunds_amount"), Decimal(0)) or Decimal(0),
        refund_reason=refund_reason(p.get("hs_internal_comment")),
        # A copy whose QBO payment QBO voided or deleted is refunded by that, not by HubSpot.
        copy_of=None if _gone_note(p) else _copied_payment(p.get(PAYMENT_KEY)),
        id=str(record.get("id")),
        version=p.get("hs_lastmodifieddate") or None,
        origin=Side.QUICKBOOKS if p.get("hs_processor_type") == "quickbooks" else Side.HUBSPOT,
    )


def _gone_note(p: Mapping[str, Any]) -> bool:
    comment = str(p.get("hs_internal_comment") or "")
    return bool(comment) and comment.splitlines()[0] in GONE_NOTES.values()


def _copied_payment(key: Any) -> str | None:
    """The QBO payment id in a copy's key `qbo-payment:<payment>:<invoice>`."""
    parts = str(key or "").split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "qbo-payment" and parts[1] else None


def refund_reason(comment: Any) -> str | None:
    """The reason of the latest refund, from the line the console adds to the payment's internal
    comment ("Refunded $30.00 on 2026-11-05: Requested by customer"); HubSpot has no refund
    reason property of its own."""
    for line in reversed(str(comment or "").splitlines()):
        if line.startswith("Refunded ") and ": " in line:
            return line.split(": ", 1)[1].strip() or None
    return None


# What the HubSpot copy of a QBO payment says once the QBO payment is gone.
GONE_NOTES = {"voided": "Voided in QuickBooks", "deleted": "Deleted in QuickBooks"}
GONE = ("deleted", "voided")


def _int_or_zero(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def payment_to_wire(payment: Payment, amount: Decimal, external_key: str) -> dict[str, str]:
    out = {
        "hs_initial_amount": format(quantize(amount, payment.currency), "f"),
        "hs_currency_code": payment.currency,
        "hs_initiated_date": date_to_wire(payment.date) or "",
        "hs_processor_type": "quickbooks",
        # A deleted/voided QBO payment stays on file as refunded: HubSpot stops counting it.
        # Its amount stays what was paid; the internal comment says what QuickBooks did.
        "hs_latest_status": "refunded" if payment.status in (*GONE, "refunded") else "succeeded",
        PAYMENT_KEY: external_key,
    }
    if payment.status in (*GONE, "refunded"):
        out["hs_refunds_amount"] = out["hs_initial_amount"]
    if payment.status in GONE:
        out["hs_internal_comment"] = GONE_NOTES[payment.status]
    method = METHOD_TO_WIRE.get(payment.method or "")
    if payment.method:
        out["hs_payment_method_type"] = method or "other"
    if payment.reference:
        out["hs_reference_number"] = payment.reference
    if payment.customer is not None and payment.customer.email:
        out["hs_customer_email"] = payment.customer.email
    return out
