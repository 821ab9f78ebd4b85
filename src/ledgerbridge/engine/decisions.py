"""What a sync step decided: write operations, and the state the record ends in.

Plans are plain data. The planner makes them without I/O; apply.py carries them out through the
ports. Operations that need a lookup first (ensure a customer, ensure items) say so, and apply
resolves them before the writes that depend on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Customer, Invoice, LineItem, Payment, Side, SyncStatus
from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy
from ledgerbridge.engine.merge import FieldConflict
from ledgerbridge.engine.ports import FeeExpense, LedgerRefund, RecordKey, SalesReceiptRequest
from ledgerbridge.errors import SyncError


# ---- operations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnsureItems:
    """Find (SKU, then name) or create the QBO item for every line, per the not-found policy."""

    lines: tuple[LineItem, ...]
    policy: ProductNotFoundPolicy
    default_item_name: str


@dataclass(frozen=True)
class EnsureCustomer:
    """Find the QBO customer by email, or create it with a collision-safe DisplayName.

    With multicurrency on, `currency` is the invoice's and `home_currency` the company's: a QBO
    customer holds one currency, so the customer is matched (or created) in that currency."""

    customer: Customer
    currency: str | None = None
    home_currency: str | None = None


@dataclass(frozen=True)
class CreateLedgerInvoice:
    """Create this invoice in QBO (behind a write intent)."""

    invoice: Invoice  # number set per the DocNumber strategy (None: QBO assigns)
    custom_fields: Mapping[str, str]
    source_id: str  # the HubSpot invoice id
    external_key: str


@dataclass(frozen=True)
class UpdateLedgerInvoice:
    """Update these fields of a QBO invoice at this SyncToken."""

    qbo_id: str
    version: str
    invoice: Invoice  # the complete invoice as QBO should hold it after the update
    fields: tuple[str, ...]
    custom_fields: Mapping[str, str]
    item_ids: tuple[str, ...] | None  # None: lines change, ensure items first
    customer_id: str | None  # None: customer changes, ensure it first


@dataclass(frozen=True)
class VoidLedgerInvoice:
    """Void a QBO invoice at this SyncToken."""

    qbo_id: str
    version: str


@dataclass(frozen=True)
class UpsertCrmInvoice:
    """Create (or find, by its unique QBO id) this invoice in HubSpot."""

    invoice: Invoice  # custom_fields keyed by HubSpot property
    qbo_id: str


@dataclass(frozen=True)
class UpdateCrmInvoice:
    """Update these fields of a HubSpot invoice."""

    hubspot_id: str
    invoice: Invoice
    fields: tuple[str, ...]  # CrmPort field names: customer, lines, discount, status, ...


@dataclass(frozen=True)
class UpsertCrmPayment:
    """Record one invoice's share of a QBO payment in HubSpot (upsert on a unique key)."""

    payment: Payment  # the QBO payment
    hubspot_invoice_id: str
    amount: Decimal  # this invoice's share
    external_key: str
    keep_refund: bool = False  # HubSpot recorded a refund on it: leave status/refund alone


@dataclass(frozen=True)
class CreateLedgerPayment:
    """Record a HubSpot payment in QBO (behind a write intent)."""

    payment: Payment  # applications already refer to QBO invoice ids
    customer_id: str | None  # None: take it from the first applied QBO invoice
    source_id: str  # the HubSpot payment id
    external_key: str


@dataclass(frozen=True)
class ApplyLedgerCredit:
    """Apply what a recorded HubSpot payment left as customer credit in QBO (its invoice owed
    less then) to that invoice, as far as it owes now."""

    qbo_payment_id: str
    credits: Mapping[str, Decimal]  # QBO invoice id -> the amount meant for it, not applied
    source_id: str  # the HubSpot payment id


@dataclass(frozen=True)
class CreateLedgerFeeExpense:
    """Book a HubSpot payment's processing/platform fees as a QBO expense (behind an intent)."""

    fee: FeeExpense
    source_id: str  # the HubSpot payment id
    external_key: str


@dataclass(frozen=True)
class CreateLedgerRefund:
    """Book what is newly refunded on a HubSpot payment as a QBO RefundReceipt (behind an
    intent keyed by the payment and the refunded total it brings QBO to)."""

    refund: LedgerRefund
    refunded_total: Decimal  # the HubSpot payment's refunded total once this is booked
    source_id: str  # the HubSpot payment id
    external_key: str


@dataclass(frozen=True)
class RemoveLedgerPayment:
    """Void (or delete) the QBO payment recorded from a HubSpot payment that was deleted."""

    qbo_id: str
    how: str  # "void" | "delete"
    kind: str = ""  # "" a QBO Payment, SALES_RECEIPT a sales receipt


@dataclass(frozen=True)
class CreateLedgerSalesReceipt:
    """Record a HubSpot payment tied to no invoice as a QBO SalesReceipt (behind a write
    intent; its customer is resolved first, its item found or created by name)."""

    receipt: SalesReceiptRequest  # customer_id and item_id are filled in when applied
    payment: Payment  # the HubSpot payment, as compared with the receipt afterwards
    customer: Customer
    currency: str | None  # with multicurrency on: the customer's currency (see EnsureCustomer)
    home_currency: str | None
    item_name: str
    source_id: str  # the HubSpot payment id
    external_key: str


@dataclass(frozen=True)
class Audit:
    """Write an overwritten value to the audit log."""

    conflict: FieldConflict


Op = (
    EnsureItems
    | EnsureCustomer
    | CreateLedgerInvoice
    | UpdateLedgerInvoice
    | VoidLedgerInvoice
    | UpsertCrmInvoice
    | UpdateCrmInvoice
    | UpsertCrmPayment
    | CreateLedgerPayment
    | ApplyLedgerCredit
    | CreateLedgerFeeExpense
    | CreateLedgerRefund
    | RemoveLedgerPayment
    | CreateLedgerSalesReceipt
    | Audit
)


# ---- decisions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """The sync state the record ends in if the operations succeed.

    status None means "not ours to track yet" (a draft, a record we wrote ourselves): no state is
    written, the key is simply dropped.
    """

    status: SyncStatus | None
    message: str | None = None
    hint: str | None = None
    category: str | None = None
    code: str | None = None
    blocked_on: RecordKey | None = None
    # A `pending` record that waits on purpose (not a retry): look again at this time.
    retry_at: dt.datetime | None = None


@dataclass(frozen=True)
class Plan:
    """A step's decision about one record and the writes that carry it out."""

    key: RecordKey
    decision: Decision
    ops: tuple[Op, ...] = ()
    action: str = "none"  # create | update | match | none: what a dry run reports
    summary: str = ""
    origin: Side | None = None
    hubspot_id: str | None = None
    qbo_id: str | None = None
    # Base snapshots to store once the writes succeeded (each side as it will be afterwards).
    base_hubspot: Mapping[str, Any] | None = None
    base_quickbooks: Mapping[str, Any] | None = None
    # Keep the current version marker of a side the plan does not write.
    hubspot_version: str | None = None
    qbo_version: str | None = None
    label: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    # Keys to mark dirty after the step (e.g. a dependency a blocked record waits on).
    wake: tuple[RecordKey, ...] = field(default_factory=tuple)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return any(not isinstance(op, Audit) for op in self.ops)


# ---- plans that only record an outcome ----------------------------------------------------
def skipped(key: RecordKey, reason: str) -> Plan:
    return Plan(key, Decision(None, reason), summary=reason)


def failed(key: RecordKey, exc: SyncError, context: Mapping[str, Any] | None = None) -> Plan:
    decision = Decision(
        SyncStatus.FAILED, exc.message, hint=exc.hint or None, category=exc.category, code=exc.code
    )
    return Plan(key, decision, summary=exc.message, **dict(context or {}))


def blocked(key: RecordKey, on: RecordKey, message: str, **context: Any) -> Plan:
    return Plan(
        key,
        Decision(SyncStatus.BLOCKED, message, blocked_on=on),
        summary=message,
        wake=(on,),
        **context,
    )
