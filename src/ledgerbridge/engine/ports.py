"""The ports the engine needs. Connectors (HubSpot, QuickBooks) and the store implement these.

The engine only ever sees canonical records (ledgerbridge.domain). Connectors translate wire
formats; the store persists links, base snapshots, sync states, dirty keys, write intents,
cursors and the audit log.

Errors: every port raises only ledgerbridge.errors classes (Transient, UnknownOutcome,
RateLimited, Conflict, Invalid, Duplicate, NotFound, AuthExpired, ConfigError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ledgerbridge.domain import Customer, Invoice, Payment, Product, Side, SyncStatus
from ledgerbridge.errors import SyncError

if TYPE_CHECKING:
    from ledgerbridge.engine.deals import DealRollup

# Object types used in record keys, links and sync states.
CUSTOMER = "customer"
ITEM = "item"
INVOICE = "invoice"
PAYMENT = "payment"
FEE = "fee"  # a payment's processing fees, booked in QBO as an expense (write intents only)
SALES_RECEIPT = "SalesReceipt"  # Link.qbo_kind of a payment recorded as a QBO sales receipt
REFUND = "refund"  # a refund of a payment, booked in QBO as a RefundReceipt (write intents only)
# A RefundReceipt made in QBO (by hand): keyed by its QBO id, tied to the payment it refunds
# (engine/ledger_refunds.py).
LEDGER_REFUND = "refund_receipt"
# A CreditMemo made in QBO (by hand): reaches HubSpot once applied to an invoice through a
# Payment (engine/ledger_refunds.py, LedgerCreditStep).
LEDGER_CREDIT = "credit_memo"
# Invoice.context key where a ledger connector reports the total the ledger itself computed
# (QBO TotalAmt, tax and rounding included): input of the rounding parity check.
LEDGER_TOTAL = "ledger.total"
# ... and, for an invoice in a foreign currency, the home-currency total it computed from the
# exchange rate (QBO HomeTotalAmt): shown, and checked against total x rate.
HOME_TOTAL = "ledger.home_total"
# The "item" of a tax line when the QBO company uses tax codes: the line is not a QBO line but
# the invoice's TxnTaxDetail, with this tax code ("taxcode:" alone: automated sales tax picks it).
# Written by the engine's resolver, and by the QBO connector on a tax line it reads back.
TAX_CODE_PREFIX = "taxcode:"


@dataclass(frozen=True)
class RecordKey:
    """Names one record of one connection: object type, the side its id lives on, and the id."""

    connection_id: int
    object_type: str  # CUSTOMER | ITEM | INVOICE | PAYMENT
    side: Side  # the side `source_id` lives on
    source_id: str

    def as_text(self) -> str:
        """Stable text form ('<connection>:<object>:<side>:<source id>'), used wherever a key is
        stored as one string, e.g. StoredSyncState.blocked_on."""
        return f"{self.connection_id}:{self.object_type}:{self.side.value}:{self.source_id}"

    @classmethod
    def from_text(cls, text: str) -> RecordKey:
        connection_id, object_type, side, source_id = text.split(":", 3)
        return cls(int(connection_id), object_type, Side(side), source_id)


@dataclass(frozen=True)
class FeedSnapshot:
    """A change feed as it stands when a backfill starts: how many records it holds (None when
    unknown) and the version marker of the newest change, the bound of the backfill's walk
    (None: no bound)."""

    count: int | None
    until: str | None


@dataclass(frozen=True)
class ChangePage:
    """One page of a change feed: ids changed since the cursor, and the cursor after them."""

    ids: Sequence[str]
    cursor: str | None
    done: bool = True
    deleted_ids: Sequence[str] = ()
    # id -> version marker (QBO SyncToken / HubSpot hs_lastmodifieddate) when the feed knows it:
    # lets the engine drop the echoes of its own writes before reading the record again.
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    """What a write returned: the id, the new version marker and what the other system computed."""

    id: str
    version: str | None = None  # new SyncToken / hs_lastmodifieddate, for echo suppression
    number: str | None = None  # QBO DocNumber / HubSpot hs_number
    created: bool = True  # False when an existing record was found instead (replay, natural key)
    # The total the target computed itself (QBO TotalAmt), for the rounding parity check.
    total: Decimal | None = None
    # The whole invoice as the target now holds it, when the write's answer carries all of it
    # (QBO returns the full entity from create, update, void and /batch): the engine verifies
    # the step against it instead of reading the record again.
    record: Invoice | None = None


@dataclass(frozen=True)
class CustomFieldDef:
    """A QBO sales-form custom field (DefinitionId + name) available for mappings."""

    definition_id: str
    name: str


# --------------------------------------------------------------------------------------------
# HubSpot side
# --------------------------------------------------------------------------------------------
class CrmPort(Protocol):
    """What the engine needs from the CRM (HubSpot): read, write and watch invoices, payments and
    their sync properties.
    """

    side: Side  # Side.HUBSPOT

    async def ensure_sync_properties(self) -> None:
        """Create ledgerbridge_sync_status / _error, qbo_invoice_id (unique), qbo_doc_number
        (and any unique key properties the connector itself needs) if missing."""

    async def changed_invoices(
        self, cursor: str | None, limit: int = 100, until: str | None = None
    ) -> ChangePage:
        """Search on hs_lastmodifieddate with a composite (timestamp, id) cursor; never loses a
        page to the 10,000 cap (window splitting). `until` (a `FeedSnapshot.until`) leaves out
        what changed after it."""

    # ---- customers and items after creation (engine/masterdata.py) ---------------------------
    async def changed_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage: ...

    async def changed_products(self, cursor: str | None, limit: int = 100) -> ChangePage: ...

    async def changed_company_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """The contacts of the companies changed since `cursor` (company feed; ids are contact
        ids)."""

    async def company_contact_ids(self, company_ids: Sequence[str]) -> list[str]:
        """The contacts associated with these companies."""

    async def get_contact(self, contact_id: str) -> Customer | None:
        """The contact as a Customer (version: hs_lastmodifieddate; company_name: its primary
        company's name); None when archived."""

    async def update_contact(
        self, contact_id: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        """Write the named fields (compare.CUSTOMER_FIELDS); returns the contact as now stored."""

    async def get_product(self, product_id: str) -> Product | None:
        """The product (version: hs_lastmodifieddate); None when archived or absent."""

    async def update_product(
        self, product_id: str, product: Product, fields: Sequence[str]
    ) -> Product:
        """Write the named fields (compare.ITEM_FIELDS; active False archives the product);
        returns the product as now stored."""

    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        """Invoice with its line items, primary contact as `customer`, and `context` filled
        with filter inputs (e.g. 'contact.<prop>', 'company.<prop>', 'deal.pipeline',
        'deal.dealstage'). `custom_fields` holds every non-hs_ property value by name plus
        'hs_purchase_order_number' etc. None when archived/absent."""

    async def get_invoices(self, invoice_ids: Sequence[str]) -> list[Invoice]:
        """Batch read (100 per call)."""

    async def upsert_invoice_from_ledger(
        self, invoice: Invoice, qbo_invoice_id: str
    ) -> WriteResult:
        """Create or update the HubSpot invoice for a QBO-origin invoice, idempotently (upsert on
        the unique `qbo_invoice_id` property). Contact matched or created by email; never
        associated with a deal."""

    async def update_invoice(
        self, invoice_id: str, invoice: Invoice, fields: Sequence[str]
    ) -> WriteResult:
        """Write the named canonical fields (e.g. 'due_date', 'status', 'lines') to an invoice."""

    async def set_sync_state(
        self,
        invoice_id: str,
        status: SyncStatus,
        error: str | None = None,
        qbo_invoice_id: str | None = None,
        qbo_doc_number: str | None = None,
    ) -> WriteResult:
        """Write the ledgerbridge_* sync properties onto the HubSpot invoice."""

    async def list_invoice_payments(self, invoice_id: str) -> list[Payment]:
        """Commerce payments associated with the invoice."""

    async def get_payment(self, payment_id: str) -> Payment | None: ...

    async def set_payment_refund(self, payment_id: str, refunded: Decimal, note: str) -> Payment:
        """Set a commerce payment's refunded total (`hs_refunds_amount`) and its status
        (partially_refunded / refunded, succeeded at 0), adding `note` to its internal comment;
        the payment as HubSpot then holds it."""

    async def upsert_payment_from_ledger(
        self,
        payment: Payment,
        invoice_id: str,
        amount: Decimal,
        external_key: str,
        keep_refund: bool = False,
    ) -> WriteResult:
        """Create or update a commerce payment (hs_processor_type=quickbooks) for the share
        `amount` of a QBO payment applied to `invoice_id`, idempotently on `external_key` (a
        unique property), and associate it with the invoice. `keep_refund`: leave the payment's
        status and refunded amount as HubSpot has them (a refund recorded in HubSpot)."""

    async def find_ledger_payments(self, external_keys: Sequence[str]) -> dict[str, Payment]:
        """The live (not archived) payments written by upsert_payment_from_ledger, by their
        external key; keys with no live payment are absent."""

    async def changed_payments(self, cursor: str | None, limit: int = 100) -> ChangePage: ...

    async def related_invoice_ids(self, object_type: str, object_ids: Sequence[str]) -> list[str]:
        """Invoices that child records ('line_item', 'discount', 'fee', 'tax', 'payment')
        belong to."""

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        """Deals each invoice is associated with."""

    async def deal_invoice_ids(self, deal_id: str) -> list[str]:
        """Every invoice associated with the deal."""

    async def set_deal_rollup(self, deal_id: str, rollup: DealRollup) -> None:
        """Write the roll-up onto the deal's ledgerbridge properties."""


# --------------------------------------------------------------------------------------------
# QuickBooks side
# --------------------------------------------------------------------------------------------
class LedgerPort(Protocol):
    """What the engine needs from the ledger (QBO): read, write and watch invoices, payments,
    customers and items.
    """

    side: Side  # Side.QUICKBOOKS

    async def company_currency(self) -> tuple[str, bool]:
        """(home currency, multicurrency enabled)."""

    async def custom_field_definitions(self) -> list[CustomFieldDef]: ...

    async def find_customer_by_email(
        self, email: str, currency: str | None = None
    ) -> Customer | None:
        """The customer with this email; with `currency` (multicurrency on), the one held in
        that currency (a QBO customer is single-currency)."""

    async def display_name_taken(self, name: str) -> bool:
        """True if a Customer, Vendor or Employee already uses this DisplayName."""

    async def create_customer(self, customer: Customer, request_id: str) -> WriteResult:
        """customer.display_name must be set (collision-safe name chosen by the engine)."""

    async def find_item(self, sku: str | None, name: str | None) -> Product | None:
        """Match by SKU first, then by name (active items only)."""

    async def create_item(self, product: Product, request_id: str) -> WriteResult: ...

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, inactive ones included (version: SyncToken); None when absent."""

    async def update_customer(
        self, customer_id: str, version: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        """Sparse update of the named fields at `version` (Conflict when stale); returns the
        customer as QBO answered."""

    async def get_item(self, item_id: str) -> Product | None:
        """The item, inactive ones included (version: SyncToken); None when absent."""

    async def update_item(
        self, item_id: str, version: str, product: Product, fields: Sequence[str]
    ) -> Product:
        """Sparse update of the named fields at `version` (Conflict when stale)."""

    async def tax_item(self, name: str, account_name: str, request_id: str) -> WriteResult:
        """The item HubSpot tax lines are booked to: found by name, else created with its
        income account set to the liability account `account_name` (created if missing).
        Raises ConfigError when an item of that name books to anything but a liability."""

    async def tax_setup(self) -> TaxSetup:
        """Whether the company computes sales tax with tax codes (QBO Preferences.TaxPrefs),
        and its active sales tax codes with their rates."""

    async def get_invoice(self, invoice_id: str) -> Invoice | None: ...

    async def find_invoice(
        self, doc_number: str | None, external_key: str | None
    ) -> Invoice | None:
        """Natural-key lookup after an unknown outcome: by DocNumber, else by the external key
        the connector stored on the invoice (PrivateNote marker)."""

    async def create_invoice(
        self,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
        request_id: str,
        external_key: str,
    ) -> WriteResult:
        """item_ids[i] is the QBO Item for invoice.lines[i]; custom_fields maps QBO custom field
        DefinitionId (or name) to value. external_key is stored so find_invoice can find it."""

    async def update_invoice(
        self,
        invoice_id: str,
        version: str,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
    ) -> WriteResult:
        """Sparse update with SyncToken `version`; raises Conflict on 5010."""

    async def void_invoice(self, invoice_id: str, version: str) -> WriteResult: ...

    async def get_payment(self, payment_id: str) -> Payment | None:
        """applications refer to QBO invoice ids."""

    async def create_payment(
        self, payment: Payment, customer_id: str, request_id: str, external_key: str
    ) -> WriteResult:
        """payment.applications refer to QBO invoice ids."""

    async def find_payment(self, external_key: str) -> Payment | None: ...

    async def apply_payment_credit(
        self, payment_id: str, invoice_id: str, amount: Decimal
    ) -> WriteResult:
        """Apply `amount` more of the payment (from its unapplied credit) to the invoice."""

    async def create_fee_expense(
        self, fee: FeeExpense, request_id: str, external_key: str
    ) -> WriteResult:
        """An expense (QBO Purchase) for a payment's processing and platform fees, carrying
        external_key so find_fee_expense can find it after an unknown outcome."""

    async def find_fee_expense(self, external_key: str) -> WriteResult | None: ...

    async def create_refund(
        self, refund: LedgerRefund, request_id: str, external_key: str
    ) -> WriteResult:
        """A RefundReceipt (or, per refund.booked_as, a credit memo refunded) for money given back
        on a QBO payment: its customer, the account the payment was deposited to, carrying
        external_key so find_refund can find it again (only once every part exists)."""

    async def find_refund(self, external_key: str) -> WriteResult | None: ...

    async def refund_total(self, refund_ids: Sequence[str]) -> Decimal:
        """What these refunds give back, as QBO holds them now (voided ones count 0; a credit
        memo counts what has been refunded from it)."""

    async def remove_payment(self, payment_id: str, how: str, kind: str = "") -> WriteResult | None:
        """Void (how="void") or delete (how="delete") a QBO payment (kind "") or sales receipt
        (kind SALES_RECEIPT) at its current SyncToken; None when it is already gone."""

    async def create_sales_receipt(
        self, receipt: SalesReceiptRequest, request_id: str, external_key: str
    ) -> WriteResult:
        """A SalesReceipt carrying external_key, so find_sales_receipt finds it again."""

    async def find_sales_receipt(self, external_key: str) -> WriteResult | None: ...

    async def get_sales_receipt(self, receipt_id: str) -> SalesReceiptRead | None: ...

    async def deposit_account_id(self, name: str) -> str | None:
        """The id of the deposit account chosen by name; None for "" (Undeposited Funds)."""

    async def get_refund_receipt(self, receipt_id: str) -> RefundReceiptRead | None:
        """A RefundReceipt as QBO holds it; None when it was deleted."""

    async def customer_payments(self, customer_id: str) -> list[LedgerPaymentFacts]:
        """The customer's QBO payments (what a refund receipt may be refunding)."""

    async def get_credit_memo(self, memo_id: str) -> CreditMemoRead | None:
        """A CreditMemo as QBO holds it; None when it was deleted."""

    async def changes(self, since: dt.datetime, entities: Sequence[str]) -> dict[str, ChangePage]:
        """CDC per entity name ('Invoice', 'Payment', ...), falling back to the query API when
        the 1000-object cap is hit or the window is over 30 days."""

    async def invoice_pdf(self, invoice_id: str) -> bytes: ...

    def invalidate_settings(self) -> None:
        """Forget the company facts read before (preferences, custom fields): the next read
        asks the ledger again (a retry after a fix in QuickBooks, changed sync settings)."""


@dataclass(frozen=True)
class FeeExpense:
    """What a payment processor kept of a payment, to book as an expense in QBO."""

    date: dt.date
    currency: str
    processing_fee: Decimal
    platform_fee: Decimal
    vendor_name: str  # the processor, as the payee
    expense_account: str  # account names, as chosen in the sync settings
    paid_from_account: str
    memo: str

    @property
    def total(self) -> Decimal:
        return self.processing_fee + self.platform_fee


@dataclass(frozen=True)
class TaxCode:
    """A QBO sales tax code: a group of rates; `rate` is their sum, in percent."""

    id: str
    name: str
    rate: Decimal


@dataclass(frozen=True)
class TaxSetup:
    """How the QBO company handles sales tax. `uses_tax_codes` (TaxPrefs.UsingSalesTax): tax goes
    on an invoice as TxnTaxDetail with a tax code, never as a line; `automated`
    (TaxPrefs.PartnerTaxEnabled, QBO's Automated Sales Tax): QBO picks the code and honours the
    tax amount sent, so a mapping is optional."""

    uses_tax_codes: bool = False
    automated: bool = False
    codes: tuple[TaxCode, ...] = ()


@dataclass(frozen=True)
class RefundReceiptRead:
    """A RefundReceipt read from QBO (money given back to a customer)."""

    id: str
    customer_id: str | None
    customer_name: str | None
    amount: Decimal  # TotalAmt; 0 once voided
    currency: str
    date: dt.date
    deposit_account_id: str | None  # the account the money was paid from
    reference: str | None  # PaymentRefNum
    marker: str | None  # our external key, when ledgerbridge created it
    payment_ids: tuple[str, ...] = ()  # Payments it names in LinkedTxn
    voided: bool = False
    version: str | None = None


@dataclass(frozen=True)
class LedgerPaymentFacts:
    """What tells a customer's QBO payments apart when a refund receipt names none."""

    id: str
    date: dt.date
    amount: Decimal
    currency: str
    reference: str | None
    deposit_account_id: str | None
    invoice_ids: tuple[str, ...]  # QBO invoices it paid
    marker: str | None  # our external key, when ledgerbridge created it (a HubSpot payment)
    gone: bool = False  # voided
    shares: tuple[tuple[str, Decimal], ...] = ()  # (QBO invoice id, amount applied to it)
    credit_memo_ids: tuple[str, ...] = ()  # credit memos it applies


@dataclass(frozen=True)
class CreditMemoRead:
    """A CreditMemo read from QBO: credit a customer holds until it is applied to invoices."""

    id: str
    customer_id: str | None
    customer_name: str | None
    amount: Decimal  # TotalAmt
    remaining: Decimal  # RemainingCredit: not applied yet
    currency: str
    date: dt.date
    marker: str | None  # our external key, when ledgerbridge created it
    voided: bool = False


@dataclass(frozen=True)
class LedgerRefund:
    """Money given back on a payment recorded in QBO, to book as a RefundReceipt."""

    payment_id: str  # the QBO payment refunded
    amount: Decimal  # this increment (a partial refund books only what is new)
    currency: str
    date: dt.date
    memo: str  # what the refund is and why, as the finance team reads it
    # "refund_receipt": one RefundReceipt; "credit_memo": a CreditMemo, the money paid back
    # from it (an expense to the customer against Accounts Receivable), and a zero payment
    # applying the one to the other (docs/sync-matrix.md, Payments).
    booked_as: str = "refund_receipt"
    payment_kind: str = ""  # "" a QBO Payment; SALES_RECEIPT: payment_id is a sales receipt


@dataclass(frozen=True)
class SalesReceiptRequest:
    """A payment tied to no invoice, to record in QBO as a sales receipt (paid on the spot)."""

    customer_id: str  # QBO customer
    item_id: str  # the QBO service item the single line books to
    amount: Decimal
    currency: str
    date: dt.date
    method: str | None  # canonical method ("credit_card", "ach", ...)
    reference: str | None
    deposit_account: str  # account name as chosen in the settings; "" = Undeposited Funds
    memo: str


@dataclass(frozen=True)
class SalesReceiptRead:
    """A QBO sales receipt as the comparison needs it."""

    payment: Payment  # amount, currency, date, method, reference, customer; no applications
    deposit_account_id: str | None
    deposit_account_name: str | None


@dataclass(frozen=True)
class InvoiceCreate:
    """One invoice create in a batch (backfills): the arguments of LedgerPort.create_invoice."""

    invoice: Invoice
    customer_id: str
    item_ids: Sequence[str]
    request_id: str
    external_key: str
    custom_fields: Mapping[str, str] = field(default_factory=dict)


class BatchCrmPort(CrmPort, Protocol):
    """A CRM that sets the sync properties of many invoices in one request (HubSpot batch
    update, 100 per call), and counts its invoices cheaply: what backfills use."""

    async def invoice_snapshot(self) -> FeedSnapshot:
        """How many invoices the CRM holds and the marker of the newest change (one cheap
        request); unknown parts are None."""

    async def batch_set_sync_state(
        self,
        updates: Sequence[tuple[str, SyncStatus, str | None, str | None, str | None]],
    ) -> list[WriteResult | None]:
        """set_sync_state(*update) for each update; one result per update, in order (None for
        an invoice that no longer exists)."""


class BatchLedgerPort(LedgerPort, Protocol):
    """A ledger that creates invoices in batches (QBO /batch, 30 per call) and can hold its
    customer names and item catalog in memory for the length of a backfill: what backfills use.
    Its rate budget (None when unmetered) is what the backfill plans its pace and ETA with."""

    @property
    def budget(self) -> Any:
        """The realm's rate budget (connectors.budget.Budget; engine/checkpoint.py reads its
        limits and figures), None when the ledger is not metered."""

    async def batch_create_customers(
        self, items: Sequence[tuple[Customer, str]]
    ) -> list[WriteResult | SyncError]:
        """create_customer for many (customer with its display name, request id): one result
        per item, in order, a WriteResult or that item's error (UnknownOutcome when its fate is
        unknown: find_customer_by_email then sees it if it was created)."""

    async def batch_create_items(
        self, items: Sequence[tuple[Product, str]]
    ) -> list[WriteResult | SyncError]:
        """create_item for many (product, request id): one result per item, in order, a
        WriteResult or that item's error (UnknownOutcome when its fate is unknown: find_item
        then asks QuickBooks, and sees it if it was created)."""

    async def prefetch_display_names(self) -> None:
        """Read every customer/vendor/employee display name once, to check new names in memory."""

    async def prefetch_items(self) -> None:
        """Read the active item catalog once, to match items in memory."""

    def forget_display_names(self) -> None:
        """Drop what the prefetches hold (the backfill is over)."""

    async def batch_create_invoices(
        self, items: Sequence[InvoiceCreate]
    ) -> list[WriteResult | SyncError]:
        """One result per item, in order: a WriteResult, or the error for that item alone
        (UnknownOutcome when the item's fate is unknown)."""


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """The two ids of one record, with the base snapshots and version markers of its last sync."""

    connection_id: int
    object_type: str
    hubspot_id: str | None
    qbo_id: str | None
    base: Mapping[str, Any] | None = None  # canonical snapshot last synced (JSON-able)
    hubspot_version: str | None = None
    qbo_version: str | None = None
    hubspot_hash: str | None = None
    qbo_hash: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. doc_number, origin
    # The QBO entity qbo_id names when it is not the object type's own: "" for an invoice's
    # Invoice or a payment's Payment, SALES_RECEIPT for a payment recorded as a sales receipt
    # (QBO ids of different entities can be equal, so a link is found by kind and id).
    qbo_kind: str = ""


@dataclass(frozen=True)
class FieldDifference:
    """One field on which HubSpot and QuickBooks disagree after a step or a reconciliation.

    Shape (also the JSON stored in sync_states.differences, a list of these as objects):
    `field` is a sync-matrix name ("due_date", "memo", "lines[2].amount", "custom:PO", ...);
    `hubspot` and `quickbooks` are the two values rendered as text (money as exact decimal
    text such as "12.50", dates as ISO "2026-01-31", None when the side has no value);
    `note` names a documented, allowed difference (e.g. "refund owned by HubSpot") or says why
    the values differ when known. A state with status DIVERGED carries at least one of these.
    """

    field: str
    hubspot: str | None
    quickbooks: str | None
    note: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "field": self.field,
            "hubspot": self.hubspot,
            "quickbooks": self.quickbooks,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldDifference:
        return cls(
            field=str(data["field"]),
            hubspot=data.get("hubspot"),
            quickbooks=data.get("quickbooks"),
            note=data.get("note"),
        )


def differences_text(differences: Sequence[FieldDifference], limit: int = 3) -> str:
    """A short text naming the differing fields (HubSpot's ledgerbridge_sync_error, logs)."""
    names = [d.field for d in differences]
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"HubSpot and QuickBooks differ on {shown}{more}"


@dataclass(frozen=True)
class StoredSyncState:
    """A record's sync state as stored and shown: status, category, message, fix hint, attempts."""

    key: RecordKey
    status: SyncStatus
    category: str | None = None
    message: str | None = None
    hint: str | None = None
    attempts: int = 0
    first_seen_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    blocked_on: str | None = None  # a RecordKey rendered as text (RecordKey.as_text)
    counterpart_id: str | None = None  # id on the other side, once synced
    counterpart_number: str | None = None
    # What the console shows for the record (e.g. invoice number or customer name, and the
    # invoice total). None keeps the value already stored.
    label: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    # Status DIVERGED: the fields that differ, with both values. Empty for every other status.
    differences: tuple[FieldDifference, ...] = ()


@dataclass(frozen=True)
class DirtyKey:
    """A record waiting for a sync step, and why."""

    key: RecordKey
    reason: str
    not_before: dt.datetime | None = None


class StorePort(Protocol):
    """What the engine needs from the store: the dirty-key queue, links, states, intents, cursors,
    audit.
    """

    # dirty keys (durable queue; marking twice is one entry)
    def mark_dirty(
        self, key: RecordKey, reason: str, not_before: dt.datetime | None = None
    ) -> None: ...
    def claim_dirty(self, connection_id: int, limit: int, now: dt.datetime) -> list[DirtyKey]:
        """Due keys, oldest first; claimed keys are not handed out again until released or a
        lease expires."""

    def release_dirty(self, key: RecordKey, retry_at: dt.datetime | None = None) -> None:
        """Done with a key: drop it (None) or schedule it again."""

    # links and base snapshots
    def get_link(
        self,
        connection_id: int,
        object_type: str,
        side: Side,
        source_id: str,
        qbo_kind: str = "",
    ) -> Link | None:
        """By the HubSpot id, or by the QBO id of that kind (Link.qbo_kind)."""

    def save_link(self, link: Link) -> None:
        """Upsert by (connection, object_type, hubspot_id) and by (..., qbo_kind, qbo_id)."""

    # write intents (idempotency): committed before the write is sent
    def begin_intent(
        self, key: str, connection_id: int, object_type: str, target: Side, source_id: str
    ) -> str | None:
        """Record the intent; returns the result id if this intent already completed."""

    def complete_intent(self, key: str, result_id: str) -> None: ...
    def pending_intent(self, key: str) -> bool:
        """True if the intent was begun but never completed (unknown outcome)."""

    # sync states
    def get_state(self, key: RecordKey) -> StoredSyncState | None: ...
    def set_state(self, state: StoredSyncState) -> None: ...
    def list_states(
        self,
        connection_id: int,
        status: SyncStatus | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[StoredSyncState]: ...
    def count_states(self, connection_id: int) -> dict[SyncStatus, int]: ...
    def blocked_on(self, dependency: RecordKey) -> list[RecordKey]: ...

    # set-wise forms of the above, for backfills (one statement / transaction for many records)
    def unit_of_work(self) -> AbstractContextManager[None]:
        """Several store calls in one transaction (one commit); nested blocks join the outer
        one. Must not span an await."""

    def reading(self) -> AbstractContextManager[None]:
        """Several reads in one read transaction (joins a unit of work in progress). Only reads
        inside; must not span an await."""

    def get_links(
        self, connection_id: int, object_type: str, side: Side, source_ids: Sequence[str]
    ) -> dict[str, Link]:
        """get_link for many ids of one side: {source id: link} for the linked ones."""

    def save_links(self, links: Sequence[Link]) -> None: ...
    def list_links(
        self, connection_id: int, object_type: str, updated_since: dt.datetime | None = None
    ) -> list[Link]:
        """Every link of one record type (changed since `updated_since`, when given)."""

    def begin_intents(
        self, intents: Sequence[tuple[str, int, str, Side, str]]
    ) -> dict[str, str | None]:
        """begin_intent for many (key, connection, object type, target, source id): returns,
        for every key begun before, its result id (None while pending)."""

    def complete_intents(self, results: Sequence[tuple[str, str]]) -> None: ...
    def get_states(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredSyncState]: ...
    def set_states(self, states: Sequence[StoredSyncState]) -> None: ...
    def blocked_on_many(
        self, dependencies: Sequence[RecordKey]
    ) -> dict[RecordKey, list[RecordKey]]: ...

    # cursors
    def get_cursor(self, connection_id: int, feed: str) -> str | None: ...
    def set_cursor(self, connection_id: int, feed: str, value: str) -> None: ...

    # audit
    def audit(
        self,
        connection_id: int,
        object_type: str,
        record: str,
        field_name: str,
        old: object,
        new: object,
        winner: str,
    ) -> None: ...
