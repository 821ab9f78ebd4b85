"""QBO Payment ⇄ canonical Payment. Pure functions; amounts are Decimal.

A payment's lines each carry an Amount and a LinkedTxn to the invoice they pay, so one QBO
payment split over several invoices becomes one canonical payment with several applications.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.quickbooks.translate import (
    PAYMENT_REF_MAX,
    dec,
    extract_marker,
    marker,
    parse_date,
    prune,
    ref_value,
)
from ledgerbridge.domain import Customer, Payment, PaymentApplication, Side, quantize

_METHODS = {
    "cash": "cash",
    "check": "check",
    "cheque": "check",
    "credit card": "credit_card",
    "visa": "credit_card",
    "mastercard": "credit_card",
    "american express": "credit_card",
    "discover": "credit_card",
    "diners club": "credit_card",
    "ach": "ach",
    "bank transfer": "ach",
    "eft": "ach",
    "wire": "wire_transfer",
    "wire transfer": "wire_transfer",
}


def payment_method_from_name(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.strip().lower()
    return _METHODS.get(lowered, lowered.replace(" ", "_"))


def payment_to_wire(
    payment: Payment,
    customer_id: str,
    *,
    external_key: str | None = None,
    currency: str | None = None,
    method_id: str | None = None,
) -> dict[str, Any]:
    lines = [
        {
            "Amount": quantize(app.amount, payment.currency),
            "LinkedTxn": [{"TxnId": str(app.invoice_id), "TxnType": "Invoice"}],
        }
        for app in payment.applications
    ]
    return prune(
        {
            "CustomerRef": {"value": str(customer_id)},
            "TotalAmt": quantize(payment.amount, payment.currency),
            "TxnDate": payment.date.isoformat(),
            "PaymentRefNum": (payment.reference or "")[:PAYMENT_REF_MAX] or None,
            "PrivateNote": marker(external_key) if external_key else None,
            "CurrencyRef": {"value": currency} if currency else None,
            "PaymentMethodRef": {"value": method_id} if method_id else None,
            "Line": lines,
        }
    )


def payment_from_wire(data: Mapping[str, Any], home_currency: str) -> Payment:
    currency = ref_value(data.get("CurrencyRef")) or home_currency
    apps: list[PaymentApplication] = []
    for line in data.get("Line") or []:
        amount = dec(line.get("Amount"), Decimal(0)) or Decimal(0)
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == "Invoice" and linked.get("TxnId") is not None:
                apps.append(PaymentApplication(invoice_id=str(linked["TxnId"]), amount=amount))
    total = dec(data.get("TotalAmt"), Decimal(0)) or Decimal(0)
    note = str(data.get("PrivateNote") or "")
    # A voided QBO payment stays on file with zero amounts; for the sync it no longer counts.
    voided = data.get("status") == "Voided" or (note.startswith("Voided") and total == 0)
    deleted = data.get("status") == "Deleted"
    method_ref = data.get("PaymentMethodRef") or {}
    customer_ref = data.get("CustomerRef") or {}
    return Payment(
        amount=total,
        currency=currency,
        date=parse_date(data.get("TxnDate")) or dt.date.today(),
        applications=tuple(apps),
        method=payment_method_from_name(
            method_ref.get("name") if isinstance(method_ref, Mapping) else None
        ),
        reference=data.get("PaymentRefNum"),
        processor="quickbooks",
        status="voided" if voided else "deleted" if deleted else "succeeded",
        customer=Customer(
            id=ref_value(customer_ref),
            display_name=customer_ref.get("name") if isinstance(customer_ref, Mapping) else None,
        ),
        id=str(data["Id"]) if data.get("Id") is not None else None,
        version=str(data["SyncToken"]) if data.get("SyncToken") is not None else None,
        origin=Side.HUBSPOT if extract_marker(note) else Side.QUICKBOOKS,
    )
