"""Canonical records: what the engine sees. Each connector translates its wire format to these.

`id` on a record is the id on the side it was read from (HubSpot object id or QBO Id); the
store's record links pair the two sides' ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from ledgerbridge.domain.money import quantize


class Side(StrEnum):
    """Which system a record or an id lives in."""

    HUBSPOT = "hubspot"
    QUICKBOOKS = "quickbooks"

    @property
    def other(self) -> Side:
        return Side.QUICKBOOKS if self is Side.HUBSPOT else Side.HUBSPOT


class InvoiceStatus(StrEnum):
    """An invoice's life: draft (HubSpot only), open, paid, voided."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOIDED = "voided"


class LineKind(StrEnum):
    """What an invoice line stands for: a product, a fee or a tax (HubSpot keeps fees and taxes as
    their own objects).
    """

    PRODUCT = "product"
    FEE = "fee"
    TAX = "tax"


class SyncStatus(StrEnum):
    """Where a record stands in the sync; shown in the console and written onto HubSpot."""

    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    EXCLUDED = "excluded"
    BLOCKED = "blocked"
    # Written by a step (or a reconciliation) whose read-back found the two sides disagreeing on
    # a field the sync matrix says must agree; the state carries the differing fields.
    DIVERGED = "diverged"


@dataclass(frozen=True)
class Address:
    """A postal address, as both systems hold a billing address."""

    line1: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


def normalize_email(email: str | None) -> str | None:
    if not email:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


@dataclass(frozen=True)
class Customer:
    """A HubSpot contact (with its company) or a QBO customer; matched across by email."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    display_name: str | None = None
    phone: str | None = None
    address: Address | None = None
    id: str | None = None
    # A QBO customer holds one currency (CurrencyRef, with multicurrency on); None: the home one.
    currency: str | None = None
    version: str | None = None  # QBO SyncToken / HubSpot hs_lastmodifieddate, when read for itself

    @property
    def match_email(self) -> str | None:
        return normalize_email(self.email)

    @property
    def preferred_name(self) -> str:
        """The name a person would expect to see: company, else full name, else email."""
        if self.display_name:
            return self.display_name
        if self.company_name:
            return self.company_name
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or (self.email or "Customer")


@dataclass(frozen=True)
class Product:
    """A HubSpot product or a QBO item; matched across by SKU, then name."""

    name: str
    sku: str | None = None
    description: str | None = None
    unit_price: Decimal = Decimal("0")
    id: str | None = None
    active: bool = True  # QBO Item.Active; a HubSpot product is inactive once archived
    version: str | None = None  # QBO SyncToken / HubSpot hs_lastmodifieddate


@dataclass(frozen=True)
class LineItem:
    """One invoice line: its amount is quantity x unit price, rounded once to the minor unit."""

    name: str
    quantity: Decimal
    unit_price: Decimal
    description: str | None = None
    sku: str | None = None
    kind: LineKind = LineKind.PRODUCT
    product_id: str | None = None  # HubSpot hs_product_id or QBO ItemRef, on the read side
    id: str | None = None
    # A HubSpot percent tax or fee (hs_type PERCENT): its rate in percent (8.25), else None.
    rate: Decimal | None = None

    def amount(self, currency: str = "USD") -> Decimal:
        return quantize(self.quantity * self.unit_price, currency)


@dataclass(frozen=True)
class Discount:
    """One order-level discount: `percent` (value 10 means 10%) or `amount` (fixed)."""

    kind: str  # "percent" | "amount"
    value: Decimal

    def amount_off(self, subtotal: Decimal, currency: str = "USD") -> Decimal:
        if self.kind == "percent":
            return quantize(subtotal * self.value / Decimal(100), currency)
        return quantize(self.value, currency)


@dataclass(frozen=True)
class Invoice:
    """An invoice in canonical form.

    Arithmetic (both systems agree on it, see docs/sync-matrix.md): each line's amount is
    quantity x unit price rounded to the minor unit; the subtotal is the sum of all lines
    (products, fees and taxes alike); the one order-level discount applies to that subtotal;
    total = subtotal - discount.
    """

    currency: str
    lines: tuple[LineItem, ...] = ()
    status: InvoiceStatus = InvoiceStatus.DRAFT
    customer: Customer | None = None
    number: str | None = None
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    discount: Discount | None = None
    po_number: str | None = None
    memo: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    # Home-currency units per one unit of `currency` (HubSpot hs_exchange_rate, QBO
    # ExchangeRate); None when the invoice is in the home currency or no rate is known.
    exchange_rate: Decimal | None = None
    # Facts read from the source system (not written across): used for balances and filters.
    amount_paid: Decimal = Decimal("0")
    balance_due: Decimal | None = None
    context: Mapping[str, str] = field(default_factory=dict)  # e.g. "deal.dealstage" for filters
    id: str | None = None
    version: str | None = None  # QBO SyncToken / HubSpot hs_lastmodifieddate
    origin: Side | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount(self.currency) for line in self.lines), Decimal("0"))

    @property
    def discount_amount(self) -> Decimal:
        if self.discount is None:
            return Decimal("0")
        return self.discount.amount_off(self.subtotal, self.currency)

    @property
    def total(self) -> Decimal:
        return quantize(self.subtotal - self.discount_amount, self.currency)

    @property
    def computed_balance(self) -> Decimal:
        return quantize(self.total - self.amount_paid, self.currency)


@dataclass(frozen=True)
class PaymentApplication:
    """The share of a payment applied to one invoice."""

    invoice_id: str  # on the payment's own side
    amount: Decimal


@dataclass(frozen=True)
class Payment:
    """Money received, applied to one or more invoices on the payment's own side."""

    amount: Decimal
    currency: str
    date: dt.date
    applications: tuple[PaymentApplication, ...] = ()
    method: str | None = None  # "check", "credit_card", "ach", "cash", ...
    reference: str | None = None  # check number, transaction id
    processor: str | None = None  # "quickbooks", "stripe", "manual", ...
    status: str = "succeeded"  # succeeded | refunded | partially_refunded | deleted | voided
    customer: Customer | None = None
    processing_fee: Decimal = Decimal("0")
    platform_fee: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")  # the total refunded so far (HubSpot `hs_refunds_amount`)
    refund_reason: str | None = None  # the reason given with the latest refund, when known
    copy_of: str | None = None  # a HubSpot copy of a QBO payment: the QBO payment id
    id: str | None = None
    version: str | None = None
    origin: Side | None = None


@dataclass(frozen=True)
class Refund:
    """Money given back on a payment."""

    payment_id: str
    amount: Decimal
    currency: str
    date: dt.date
    reason: str | None = None
    id: str | None = None
