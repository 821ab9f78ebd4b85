"""Field mappings and per-connection sync settings.

`DEFAULT_MAPPINGS` is the sync matrix in code: every canonical invoice field the engine merges,
the HubSpot property and QBO field it corresponds to, the direction it may flow and who wins
when both sides changed it. docs/sync-matrix.md is the same table for people.

`SyncSettings` is one JSON document per connection, edited in the console. Its defaults are the
behaviour a new user gets: everything syncs both ways, the side an invoice was created on owns
its fields on conflict, QuickBooks numbers the invoices, unknown products become QBO items, the
HubSpot PO number goes to a QBO custom field named "PO Number".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledgerbridge.domain import Invoice, Side
from ledgerbridge.engine.filters import FilterRule

# Canonical field names used in base snapshots, merges and plans.
F_CUSTOMER = "customer"
F_LINES = "lines"
F_DISCOUNT = "discount"
F_ISSUE_DATE = "issue_date"
F_DUE_DATE = "due_date"
F_MEMO = "memo"
F_VOIDED = "voided"
CUSTOM_PREFIX = "custom:"

PO_PROPERTY = "hs_purchase_order_number"
# Properties the engine itself writes on HubSpot invoices: never merged, never mapped.
SYNC_PROPERTIES = (
    "ledgerbridge_sync_status",
    "ledgerbridge_sync_error",
    "qbo_invoice_id",
    "qbo_doc_number",
)


class Direction(StrEnum):
    """Which way a field may flow between the two systems."""

    BOTH = "both"
    HUBSPOT_TO_QBO = "hubspot_to_qbo"
    QBO_TO_HUBSPOT = "qbo_to_hubspot"
    FROM_ORIGIN = "from_origin"  # only from the side the invoice was created on
    NONE = "none"

    def allows(self, source: Side, origin: Side) -> bool:
        if self is Direction.BOTH:
            return True
        if self is Direction.HUBSPOT_TO_QBO:
            return source is Side.HUBSPOT
        if self is Direction.QBO_TO_HUBSPOT:
            return source is Side.QUICKBOOKS
        if self is Direction.FROM_ORIGIN:
            return source is origin
        return False


class Owner(StrEnum):
    """Whose value wins when a field changed on both sides."""

    ORIGIN = "origin"  # the side the invoice was created on
    HUBSPOT = "hubspot"
    QUICKBOOKS = "quickbooks"

    def side(self, origin: Side) -> Side:
        if self is Owner.HUBSPOT:
            return Side.HUBSPOT
        if self is Owner.QUICKBOOKS:
            return Side.QUICKBOOKS
        return origin


class FieldMapping(BaseModel):
    """One synced field: its canonical name, where it lives on each side, direction and owner."""

    model_config = ConfigDict(frozen=True)

    field: str  # canonical name (F_*)
    hubspot: str  # HubSpot property / association it corresponds to
    qbo: str  # QBO field it corresponds to
    direction: Direction = Direction.BOTH
    owner: Owner = Owner.ORIGIN
    label: str = ""


DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping(
        field=F_CUSTOMER,
        hubspot="contact association (email)",
        qbo="CustomerRef (matched by email)",
        label="Customer",
    ),
    FieldMapping(
        field=F_LINES,
        hubspot="line items (name, hs_sku, description, quantity, price)",
        qbo="Line[] SalesItemLineDetail (ItemRef, Description, Qty, UnitPrice)",
        label="Line items",
    ),
    FieldMapping(
        field=F_DISCOUNT,
        hubspot="discount (hs_type PERCENT/FIXED, hs_value)",
        qbo="Line[] DiscountLineDetail",
        label="Discount",
    ),
    FieldMapping(
        field=F_ISSUE_DATE, hubspot="hs_invoice_date", qbo="TxnDate", label="Invoice date"
    ),
    FieldMapping(field=F_DUE_DATE, hubspot="hs_due_date", qbo="DueDate", label="Due date"),
    FieldMapping(field=F_MEMO, hubspot="hs_comments", qbo="CustomerMemo", label="Memo"),
    FieldMapping(
        field=F_VOIDED, hubspot="hs_invoice_status = voided", qbo="void operation", label="Voided"
    ),
)


# Standard QBO invoice fields a custom mapping can target besides sales-form custom fields (the
# QBO connector writes, reads and validates them; see connectors/quickbooks/standard_fields.py).
QBO_STANDARD_FIELDS = ("TrackingNum", "ShipDate", "ShipMethodRef", "ShipAddr", "SalesTermRef")


class CustomFieldMapping(BaseModel):
    """A HubSpot invoice property <-> a QBO sales-form custom field (by name or DefinitionId)."""

    model_config = ConfigDict(frozen=True)

    hubspot_property: str
    qbo_field: str | None = None  # the custom field's label in QBO, e.g. "PO Number"
    qbo_definition_id: str | None = None  # or its slot ("1", "2", "3")
    direction: Direction = Direction.BOTH
    owner: Owner = Owner.ORIGIN

    @property
    def key(self) -> str:
        return CUSTOM_PREFIX + self.hubspot_property

    @property
    def qbo_ref(self) -> str:
        return self.qbo_definition_id or self.qbo_field or ""

    def hubspot_value(self, invoice: Invoice) -> str | None:
        value = invoice.custom_fields.get(self.hubspot_property)
        if value is None and self.hubspot_property == PO_PROPERTY:
            value = invoice.po_number
        return _clean(value)

    def qbo_value(self, invoice: Invoice) -> str | None:
        for ref in (self.qbo_definition_id, self.qbo_field):
            if ref and ref in invoice.custom_fields:
                return _clean(invoice.custom_fields[ref])
        if self.hubspot_property == PO_PROPERTY:
            return _clean(invoice.po_number)
        return None


class DocNumberStrategy(StrEnum):
    """How a QBO invoice created from HubSpot gets its DocNumber."""

    QBO_ASSIGNS = "qbo_assigns"
    HUBSPOT_NUMBER = "hubspot_number"
    PREFIXED_HUBSPOT_NUMBER = "prefixed_hubspot_number"


class ProductNotFoundPolicy(StrEnum):
    """What to do with a HubSpot line whose product has no QBO item."""

    CREATE_ITEM = "create_item"
    USE_DEFAULT_ITEM = "use_default_item"
    FAIL = "fail"


class LongTextPolicy(StrEnum):
    """A HubSpot line description longer than QuickBooks takes (4,000 characters)."""

    FAIL = "fail"  # the invoice fails alone, with a hint to shorten the description
    CUT = "cut"  # the QBO copy is cut, ending with a note saying so; HubSpot keeps it whole


class ObjectSync(BaseModel):
    """Sync on/off for one object, per direction."""

    model_config = ConfigDict(frozen=True)

    hubspot_to_qbo: bool = True
    qbo_to_hubspot: bool = True

    def allows(self, source: Side) -> bool:
        return self.hubspot_to_qbo if source is Side.HUBSPOT else self.qbo_to_hubspot


class FeeSettings(BaseModel):
    """Processing and platform fees of HubSpot payments, booked in QBO as an expense (Purchase)
    paid from `paid_from_account` to `expense_account`, with the processor as the payee."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    expense_account: str = "Payment Processing Fees"
    paid_from_account: str = "Checking"
    vendor_name: str = ""  # empty: the payment's processor ("Stripe", "HubSpot Payments")


class RefundSettings(BaseModel):
    """Refunds and deletes of HubSpot payments that QBO holds (docs/sync-matrix.md, Payments)."""

    model_config = ConfigDict(frozen=True)

    # A refund recorded in HubSpot is booked in QBO as a RefundReceipt.
    to_quickbooks: bool = True
    # A payment deleted in HubSpot: "void" the QBO payment (it stays on file at zero), "delete"
    # it, or "none" to leave QBO as it is.
    deleted_payment: Literal["void", "delete", "none"] = "void"
    # How a refund is booked: one RefundReceipt, or a CreditMemo refunded to the customer (an
    # expense against Accounts Receivable) and applied to that refund by a zero payment.
    booked_as: Literal["refund_receipt", "credit_memo"] = "refund_receipt"


class SalesReceiptSettings(BaseModel):
    """HubSpot payments tied to no invoice (a one-off payment link), recorded in QBO as a
    SalesReceipt, and how a HubSpot workflow's already-paid invoice is recorded
    (docs/sync-matrix.md, Sales receipts)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    # The QBO item the receipt's single line books to: found by name, else created (Service).
    item_name: str = "Sales"
    # The account the money goes to, by name; "" = QBO's Undeposited Funds.
    deposit_account: str = ""
    # A payment with no invoice is recorded only once it has been unchanged this long: a
    # workflow that creates a paid invoice creates the payment first and ties it to the
    # invoice right after, and that payment must become a QBO Payment, never a receipt too.
    settle_seconds: int = Field(default=300, ge=0)
    # An invoice a workflow created already paid in full: "invoice_and_payment" (a QBO Invoice
    # and the Payment(s) on it) or "sales_receipt" (one QBO SalesReceipt, no invoice).
    paid_invoice: Literal["invoice_and_payment", "sales_receipt"] = "invoice_and_payment"


QBO_DOC_NUMBER_MAX = 21


class SyncSettings(BaseModel):
    """One per connection; JSON in the store, edited in the console."""

    model_config = ConfigDict(frozen=True)

    filters: list[FilterRule] = Field(default_factory=list)
    field_mappings: list[FieldMapping] = Field(default_factory=lambda: list(DEFAULT_MAPPINGS))
    custom_mappings: list[CustomFieldMapping] = Field(
        default_factory=lambda: [
            CustomFieldMapping(hubspot_property=PO_PROPERTY, qbo_field="PO Number")
        ]
    )
    doc_number: DocNumberStrategy = DocNumberStrategy.QBO_ASSIGNS
    doc_number_prefix: str = "HS-"
    product_not_found: ProductNotFoundPolicy = ProductNotFoundPolicy.CREATE_ITEM
    default_item_name: str = "Services"
    # Tax lines (HubSpot tax objects) are booked to this QBO item, whose income account is the
    # liability account below: tax collected is owed, never income.
    tax_item_name: str = "Sales Tax Collected"
    tax_account_name: str = "Sales Tax Payable"
    # When the QBO company uses tax codes (Preferences.TaxPrefs.UsingSalesTax), tax lines go on
    # the QBO invoice as TxnTaxDetail with the code chosen here: HubSpot tax label or rate
    # ("State sales tax", "8.25%") -> QBO tax code name or id. Labels match case-insensitively.
    tax_code_mapping: dict[str, str] = Field(default_factory=dict)
    long_text: LongTextPolicy = LongTextPolicy.FAIL
    customer_match_key: str = "email"  # the only key supported: normalized email
    invoices: ObjectSync = Field(default_factory=ObjectSync)
    payments: ObjectSync = Field(default_factory=ObjectSync)
    customers: ObjectSync = Field(default_factory=ObjectSync)
    items: ObjectSync = Field(default_factory=ObjectSync)
    fees: FeeSettings = Field(default_factory=FeeSettings)
    refunds: RefundSettings = Field(default_factory=RefundSettings)
    sales_receipts: SalesReceiptSettings = Field(default_factory=SalesReceiptSettings)
    # Keep deal properties current from the deal's invoices (engine/deals.py).
    deal_rollups: bool = True
    # Retry policy for transient failures (5xx, timeouts, 429): exponential backoff, capped.
    max_attempts: int = 10
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    # How far back the first QuickBooks change poll looks (CDC keeps 30 days).
    initial_lookback_days: int = 30

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> SyncSettings:
        return cls.model_validate_json(text)

    def mapping(self, field: str) -> FieldMapping | None:
        for item in self.field_mappings:
            if item.field == field:
                return item
        return None

    def doc_number_for(self, hubspot_number: str | None) -> str | None:
        """The DocNumber to send for a HubSpot invoice, or None to let QBO assign one."""
        if self.doc_number is DocNumberStrategy.QBO_ASSIGNS or not hubspot_number:
            return None
        if self.doc_number is DocNumberStrategy.HUBSPOT_NUMBER:
            return hubspot_number
        return f"{self.doc_number_prefix}{hubspot_number}"


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
