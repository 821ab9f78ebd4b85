"""Typed records of HubSpot objects as the console lists them (the read model's results): an
invoice or a payment summary, a property definition; and the properties each is read from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.own_properties import GROUP as OWN_GROUP

DATA_SYNC = "data_sync"  # hs_invoice_source of invoices the sync brought in from QuickBooks
INVOICE_SUMMARY_PROPERTIES = (
    "hs_number",
    "hs_title",
    "hs_currency",
    "hs_amount_billed",
    "hs_balance_due",
    "hs_amount_paid",
    "hs_invoice_status",
    "hs_payment_status",
    "hs_due_date",
    "hs_invoice_date",
    "hs_invoice_source",
    "hs_invoice_latest_contact_email",
    "hs_invoice_latest_company_name",
    "hs_createdate",
    tr.SYNC_STATUS,
    tr.QBO_DOC_NUMBER,
    tr.QBO_INVOICE_ID,
)
PAYMENT_SUMMARY_PROPERTIES = (
    "hs_initial_amount",
    "hs_initiated_date",
    "hs_currency_code",
    "hs_fees_amount",
    "hs_platform_fee",
    "hs_refunds_amount",
    "hs_latest_status",
    "hs_processor_type",
    "hs_payment_method_type",
    "hs_reference_number",
    "hs_customer_email",
    "hs_internal_comment",
    tr.PAYMENT_KEY,
    "hs_payout_date",
)


def _amount(value: Any) -> Decimal:
    """A money property; empty or unreadable is zero (as HubSpot shows it)."""
    try:
        return tr.dec(value, Decimal(0)) or Decimal(0)
    except ValueError:
        return Decimal(0)


def _date(value: Any) -> dt.date | None:
    try:
        parsed = tr.parse_datetime(value)
    except ValueError:
        return None
    return parsed.date() if parsed else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class InvoiceSummary:
    """An invoice as the console lists it (no lines, no associations)."""

    id: str
    number: str  # hs_number, or "" when HubSpot has not numbered it
    currency: str
    amount_billed: Decimal
    amount_paid: Decimal
    balance_due: Decimal
    status: str  # draft | open | paid | voided
    payment_status: str  # "" | partially_paid | paid | ...
    due_date: dt.date | None
    invoice_date: dt.date | None
    from_quickbooks: bool  # brought in from QuickBooks by the sync
    company_name: str
    contact_email: str
    sync_status: str  # ledgerbridge_sync_status, "" when never synced
    qbo_number: str

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> InvoiceSummary:
        p = tr.props(record)
        return cls(
            id=str(record["id"]),
            number=_text(p.get("hs_number")),
            currency=_text(p.get("hs_currency")).upper() or "USD",
            amount_billed=_amount(p.get("hs_amount_billed")),
            amount_paid=_amount(p.get("hs_amount_paid")),
            balance_due=_amount(p.get("hs_balance_due")),
            status=_text(p.get("hs_invoice_status")) or "draft",
            payment_status=_text(p.get("hs_payment_status")),
            due_date=_date(p.get("hs_due_date")),
            invoice_date=_date(p.get("hs_invoice_date")),
            from_quickbooks=p.get("hs_invoice_source") == DATA_SYNC,
            company_name=_text(p.get("hs_invoice_latest_company_name")),
            contact_email=_text(p.get("hs_invoice_latest_contact_email")),
            sync_status=_text(p.get(tr.SYNC_STATUS)),
            qbo_number=_text(p.get(tr.QBO_DOC_NUMBER)),
        )


@dataclass(frozen=True)
class PaymentSummary:
    """A commerce payment as the payments report lists it."""

    id: str
    date: dt.date | None
    currency: str
    amount: Decimal
    processing_fee: Decimal
    platform_fee: Decimal
    refunds: Decimal
    status: str
    processor: str
    method: str
    reference: str
    customer_email: str
    comment: str = ""  # the payment's internal comment (what the sync notes on copies)
    payment_key: str = ""  # ledgerbridge_payment_key: set on copies of QBO payments
    payout_date: dt.date | None = None  # when the processor paid the money out (hs_payout_date)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PaymentSummary:
        p = tr.props(record)
        return cls(
            id=str(record["id"]),
            date=_date(p.get("hs_initiated_date")),
            currency=_text(p.get("hs_currency_code")).upper() or "USD",
            amount=_amount(p.get("hs_initial_amount")),
            processing_fee=_amount(p.get("hs_fees_amount")),
            platform_fee=_amount(p.get("hs_platform_fee")),
            refunds=_amount(p.get("hs_refunds_amount")),
            status=_text(p.get("hs_latest_status")),
            processor=_text(p.get("hs_processor_type")),
            method=_text(p.get("hs_payment_method_type")),
            reference=_text(p.get("hs_reference_number")),
            customer_email=_text(p.get("hs_customer_email")),
            comment=_text(p.get("hs_internal_comment")),
            payment_key=_text(p.get(tr.PAYMENT_KEY)),
            payout_date=_date(p.get("hs_payout_date")),
        )


@dataclass(frozen=True)
class PropertyDef:
    """One property definition of a HubSpot object type."""

    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool
    field_type: str
    group: str
    description: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    read_only: bool
    custom: bool  # created by a user (not hs_*, not ledgerbridge's own)
    unique: bool

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PropertyDef:
        name = str(data.get("name") or "")
        meta = data.get("modificationMetadata") or {}
        return cls(
            name=name,
            label=str(data.get("label") or name),
            type=str(data.get("type") or "string"),
            field_type=str(data.get("fieldType") or "text"),
            group=str(data.get("groupName") or ""),
            description=str(data.get("description") or ""),
            options=tuple(
                (str(o.get("value")), str(o.get("label") or o.get("value")))
                for o in data.get("options") or []
                if not o.get("hidden")
            ),
            read_only=bool(meta.get("readOnlyValue")),
            custom=not name.startswith("hs_")
            and name not in tr.OWN_PROPERTIES
            and str(data.get("groupName") or "") != OWN_GROUP
            and not bool(data.get("hubspotDefined")),
            unique=bool(data.get("hasUniqueValue")),
        )
