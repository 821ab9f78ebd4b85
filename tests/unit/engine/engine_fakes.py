"""In-memory fakes of the engine's ports (CrmPort, LedgerPort, StorePort), for unit tests of the
engine's rules that run in milliseconds: no sandboxes, no HTTP, no database.

They keep canonical records as the connectors would return them after a round trip (ids and
version markers assigned by the "system", the sync properties HubSpot holds reported in
`context`, the marker ledgerbridge leaves on a QBO invoice, QBO's own total, amounts paid from
the payments applied) and nothing more. They are written against the ports as they are: only
the methods the Protocols declare, with their signatures. The sandboxes remain the faithful
emulators the integration tests use; these fakes answer "does the engine decide right?".

Failures are injected per method name (`fail_next`), the way a connector raises our own error
classes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import (
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentApplication,
    Product,
    Side,
    SyncStatus,
)
from ledgerbridge.engine.deals import DealRollup
from ledgerbridge.engine.fieldmap import SYNC_PROPERTIES
from ledgerbridge.engine.ports import (
    LEDGER_TOTAL,
    SALES_RECEIPT,
    BatchCrmPort,
    BatchLedgerPort,
    ChangePage,
    CreditMemoRead,
    CustomFieldDef,
    DirtyKey,
    FeedSnapshot,
    FeeExpense,
    InvoiceCreate,
    LedgerPaymentFacts,
    LedgerRefund,
    Link,
    RecordKey,
    RefundReceiptRead,
    SalesReceiptRead,
    SalesReceiptRequest,
    StoredSyncState,
    StorePort,
    TaxSetup,
    WriteResult,
)
from ledgerbridge.errors import Conflict, SyncError, UnknownOutcome

STATUS_PROP, ERROR_PROP, QBO_ID_PROP, QBO_NUMBER_PROP = SYNC_PROPERTIES[:4]
MARKER = "ledgerbridge.key"  # where the QBO connector reports the marker on an invoice


class _Failures:
    """Errors to raise on the next calls of named methods (one error per call, in order)."""

    def __init__(self) -> None:
        self._next: dict[str, list[SyncError]] = {}
        self._lost: set[str] = set()
        self.calls: list[str] = []

    def fail_next(self, method: str, *errors: SyncError) -> None:
        self._next.setdefault(method, []).extend(errors)

    def lose_next_answer(self, method: str) -> None:
        """The next write of `method` is done, and its answer never arrives (a timeout)."""
        self._lost.add(method)

    def _answer(self, method: str) -> None:
        if method in self._lost:
            self._lost.discard(method)
            raise UnknownOutcome(f"{method}: no answer (timed out)")

    def _call(self, method: str) -> None:
        self.calls.append(method)
        queued = self._next.get(method)
        if queued:
            raise queued.pop(0)


# --------------------------------------------------------------------------------------------
# HubSpot
# --------------------------------------------------------------------------------------------
@dataclass
class CrmPayment:
    """A HubSpot commerce payment and the invoice it is associated with."""

    payment: Payment
    invoice_id: str
    external_key: str | None = None
    archived: bool = False


class FakeCrm(_Failures):
    """A HubSpot portal's invoices and payments, as canonical records."""

    side = Side.HUBSPOT

    def __init__(self) -> None:
        super().__init__()
        self.invoices: dict[str, Invoice] = {}
        self.properties: dict[str, dict[str, str]] = {}  # the ledgerbridge_* sync properties
        self.payments: dict[str, CrmPayment] = {}
        self.deal_rollups: dict[str, DealRollup] = {}
        self.contacts: dict[str, Customer] = {}
        self.products: dict[str, Product] = {}
        self._ids = itertools.count(9001)
        self._versions = itertools.count(1)

    # ---- test helpers ----------------------------------------------------------------------
    def add_invoice(self, invoice: Invoice) -> str:
        invoice_id = str(next(self._ids))
        self.invoices[invoice_id] = replace(
            invoice, id=invoice_id, version=self._version(), origin=invoice.origin or Side.HUBSPOT
        )
        self.properties[invoice_id] = {}
        return invoice_id

    def edit_invoice(self, invoice_id: str, **changes: Any) -> None:
        """A user's edit in HubSpot: new values, a new modification date."""
        self.invoices[invoice_id] = replace(
            self.invoices[invoice_id],
            version=self._version(),
            **changes,
        )

    def _version(self) -> str:
        return f"2026-01-01T00:00:{next(self._versions):02d}Z"

    def _paid(self, invoice_id: str) -> Decimal:
        return sum(
            (
                p.payment.amount
                for p in self.payments.values()
                if p.invoice_id == invoice_id
                and not p.archived
                and p.payment.status not in ("refunded", "deleted")
            ),
            Decimal(0),
        )

    # ---- CrmPort ---------------------------------------------------------------------------
    async def ensure_sync_properties(self) -> None:
        self._call("ensure_sync_properties")

    async def changed_invoices(
        self, cursor: str | None, limit: int = 100, until: str | None = None
    ) -> ChangePage:
        self._call("changed_invoices")
        ids = sorted(self.invoices, key=lambda i: (self.invoices[i].version or "", i))
        after = [
            i
            for i in ids
            if (cursor is None or (self.invoices[i].version or "") > cursor)
            and (until is None or (self.invoices[i].version or "") <= until)
        ]
        page = after[:limit]
        last = self.invoices[page[-1]].version if page else cursor
        return ChangePage(page, last, done=len(after) <= limit)

    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        self._call("get_invoice")
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return None
        context = dict(invoice.context)
        for name, value in self.properties.get(invoice_id, {}).items():
            context[f"invoice.{name}"] = value
        paid = self._paid(invoice_id)
        return replace(
            invoice,
            context=context,
            amount_paid=paid,
            balance_due=invoice.total - paid,
            status=InvoiceStatus.PAID
            if invoice.status is InvoiceStatus.OPEN and paid >= invoice.total > 0
            else invoice.status,
        )

    async def get_invoices(self, invoice_ids: Sequence[str]) -> list[Invoice]:
        found = [await self.get_invoice(i) for i in invoice_ids]
        return [i for i in found if i is not None]

    async def upsert_invoice_from_ledger(
        self, invoice: Invoice, qbo_invoice_id: str
    ) -> WriteResult:
        self._call("upsert_invoice_from_ledger")
        existing = next(
            (i for i, p in self.properties.items() if p.get(QBO_ID_PROP) == qbo_invoice_id), None
        )
        invoice_id = existing or str(next(self._ids))
        self.invoices[invoice_id] = replace(
            invoice,
            id=invoice_id,
            version=self._version(),
            origin=Side.QUICKBOOKS,
            status=InvoiceStatus.OPEN if invoice.status is InvoiceStatus.PAID else invoice.status,
            amount_paid=Decimal(0),
            balance_due=None,
            context={},
        )
        self.properties[invoice_id] = {
            STATUS_PROP: SyncStatus.SYNCED.value,
            QBO_ID_PROP: qbo_invoice_id,
            QBO_NUMBER_PROP: invoice.number or "",
        }
        return WriteResult(
            invoice_id,
            self.invoices[invoice_id].version,
            invoice.number,
            created=existing is None,
        )

    async def update_invoice(
        self, invoice_id: str, invoice: Invoice, fields: Sequence[str]
    ) -> WriteResult:
        self._call("update_invoice")
        current = self.invoices[invoice_id]
        changes: dict[str, Any] = {}
        for name in fields:
            if name == "voided":
                changes["status"] = invoice.status
            elif hasattr(current, name):
                changes[name] = getattr(invoice, name)
        self.invoices[invoice_id] = replace(
            current,
            version=self._version(),
            **changes,
        )
        return WriteResult(invoice_id, self.invoices[invoice_id].version, created=False)

    async def set_sync_state(
        self,
        invoice_id: str,
        status: SyncStatus,
        error: str | None = None,
        qbo_invoice_id: str | None = None,
        qbo_doc_number: str | None = None,
    ) -> WriteResult:
        self._call("set_sync_state")
        props = self.properties.setdefault(invoice_id, {})
        props[STATUS_PROP] = status.value
        props[ERROR_PROP] = error or ""
        if qbo_invoice_id:
            props[QBO_ID_PROP] = qbo_invoice_id
        if qbo_doc_number:
            props[QBO_NUMBER_PROP] = qbo_doc_number
        # Setting a property is a modification in HubSpot: a new version.
        self.invoices[invoice_id] = replace(self.invoices[invoice_id], version=self._version())
        return WriteResult(invoice_id, self.invoices[invoice_id].version, created=False)

    # contacts and products after creation: kept in memory, no change feed of their own
    async def changed_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return ChangePage(ids=[], cursor=cursor)

    async def changed_products(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return ChangePage(ids=[], cursor=cursor)

    async def changed_company_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return ChangePage(ids=[], cursor=cursor)

    async def company_contact_ids(self, company_ids: Sequence[str]) -> list[str]:
        return []

    async def get_contact(self, contact_id: str) -> Customer | None:
        return self.contacts.get(contact_id)

    async def update_contact(
        self, contact_id: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        current = self.contacts[contact_id]
        self.contacts[contact_id] = replace(
            current, **{name: getattr(customer, name) for name in fields}
        )
        return self.contacts[contact_id]

    async def get_product(self, product_id: str) -> Product | None:
        return self.products.get(product_id)

    async def update_product(
        self, product_id: str, product: Product, fields: Sequence[str]
    ) -> Product:
        current = self.products[product_id]
        self.products[product_id] = replace(
            current, **{name: getattr(product, name) for name in fields}
        )
        return self.products[product_id]

    async def batch_set_sync_state(
        self,
        updates: Sequence[tuple[str, SyncStatus, str | None, str | None, str | None]],
    ) -> list[WriteResult | None]:
        return [
            await self.set_sync_state(*update) if update[0] in self.invoices else None
            for update in updates
        ]

    async def invoice_snapshot(self) -> FeedSnapshot:
        newest = max((inv.version or "" for inv in self.invoices.values()), default=None)
        return FeedSnapshot(len(self.invoices), newest or None)

    async def list_invoice_payments(self, invoice_id: str) -> list[Payment]:
        return [
            p.payment
            for p in self.payments.values()
            if p.invoice_id == invoice_id and not p.archived
        ]

    async def get_payment(self, payment_id: str) -> Payment | None:
        self._call("get_payment")
        found = self.payments.get(payment_id)
        return None if found is None or found.archived else found.payment

    async def set_payment_refund(self, payment_id: str, refunded: Decimal, note: str) -> Payment:
        self._call("set_payment_refund")
        found = self.payments[payment_id]
        status = "refunded" if refunded >= found.payment.amount else "partially_refunded"
        found.payment = replace(found.payment, refunded=refunded, status=status)
        return found.payment

    async def upsert_payment_from_ledger(
        self,
        payment: Payment,
        invoice_id: str,
        amount: Decimal,
        external_key: str,
        keep_refund: bool = False,
    ) -> WriteResult:
        self._call("upsert_payment_from_ledger")
        existing = next(
            (i for i, p in self.payments.items() if p.external_key == external_key), None
        )
        payment_id = existing or str(next(self._ids))
        status = payment.status
        if keep_refund and existing is not None:
            status = self.payments[existing].payment.status
        self.payments[payment_id] = CrmPayment(
            replace(
                payment,
                amount=amount,
                applications=(PaymentApplication(invoice_id, amount),),
                processor="quickbooks",
                status=status,
                id=payment_id,
                version=self._version(),
                origin=Side.QUICKBOOKS,
            ),
            invoice_id,
            external_key,
        )
        return WriteResult(
            payment_id, self.payments[payment_id].payment.version, None, existing is None
        )

    async def find_ledger_payments(self, external_keys: Sequence[str]) -> dict[str, Payment]:
        self._call("find_ledger_payments")
        return {
            p.external_key: p.payment
            for p in self.payments.values()
            if p.external_key is not None and p.external_key in external_keys and not p.archived
        }

    async def changed_payments(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return ChangePage([], cursor)

    async def related_invoice_ids(self, object_type: str, object_ids: Sequence[str]) -> list[str]:
        self._call("related_invoice_ids")
        if object_type == "payment":
            return [self.payments[i].invoice_id for i in object_ids if i in self.payments]
        # Line items and the like: their ids are "<invoice id>/<n>" in these fakes.
        return list(dict.fromkeys(i.split("/", 1)[0] for i in object_ids if "/" in i))

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        return {i: [] for i in invoice_ids}

    async def deal_invoice_ids(self, deal_id: str) -> list[str]:
        return []

    async def set_deal_rollup(self, deal_id: str, rollup: DealRollup) -> None:
        self.deal_rollups[deal_id] = rollup


# --------------------------------------------------------------------------------------------
# QuickBooks
# --------------------------------------------------------------------------------------------
@dataclass
class _Sent:
    """A write as the ledger received it (for tests that count what was sent)."""

    method: str
    request_id: str | None = None


class FakeLedger(_Failures):
    """A QBO company's customers, items, invoices and payments, as canonical records."""

    side = Side.QUICKBOOKS

    def __init__(self, home_currency: str = "USD", multicurrency: bool = False) -> None:
        super().__init__()
        self.home_currency = home_currency
        self.multicurrency = multicurrency
        self.tax = TaxSetup()  # no sales tax: tax lines book to the liability item
        self.customers: dict[str, Customer] = {}
        self.items: dict[str, Product] = {}
        self.invoices: dict[str, Invoice] = {}
        self.payments: dict[str, Payment] = {}
        self.expenses: dict[str, WriteResult] = {}
        self.refunds: dict[str, LedgerRefund] = {}
        # Sales receipts are numbered on their own, as QBO numbers each entity: their ids
        # collide with payment ids on purpose.
        self.receipts: dict[str, SalesReceiptRead] = {}
        self._receipt_ids = itertools.count(101)
        self.markers: dict[str, str] = {}  # external key -> record id
        self.requests: dict[str, str] = {}  # requestid -> record id (QBO's dedup)
        self.sent: list[_Sent] = []
        self._ids = itertools.count(101)
        self._numbers = itertools.count(1001)

    # ---- test helpers ----------------------------------------------------------------------
    def add_customer(self, customer: Customer) -> str:
        customer_id = str(next(self._ids))
        self.customers[customer_id] = replace(customer, id=customer_id)
        return customer_id

    def add_item(self, product: Product) -> str:
        item_id = str(next(self._ids))
        self.items[item_id] = replace(product, id=item_id)
        return item_id

    def add_invoice(self, invoice: Invoice, customer_id: str) -> str:
        """An invoice a user created in QuickBooks."""
        invoice_id = str(next(self._ids))
        self.invoices[invoice_id] = replace(
            invoice,
            id=invoice_id,
            version="0",
            number=invoice.number or str(next(self._numbers)),
            customer=self.customers[customer_id],
            origin=Side.QUICKBOOKS,
        )
        return invoice_id

    def add_payment(self, payment: Payment, customer_id: str) -> str:
        """A payment a user received in QuickBooks."""
        payment_id = str(next(self._ids))
        self.payments[payment_id] = replace(
            payment,
            id=payment_id,
            version="0",
            customer=self.customers[customer_id],
            origin=Side.QUICKBOOKS,
        )
        return payment_id

    def edit_invoice(self, invoice_id: str, **changes: Any) -> None:
        """A user's edit in QuickBooks: new values, the next SyncToken."""
        current = self.invoices[invoice_id]
        self.invoices[invoice_id] = replace(
            current,
            version=str(int(current.version or "0") + 1),
            **changes,
        )

    def _paid(self, invoice_id: str) -> Decimal:
        return sum(
            (
                a.amount
                for p in self.payments.values()
                for a in p.applications
                if a.invoice_id == invoice_id and p.status != "deleted"
            ),
            Decimal(0),
        )

    def _replayed(self, request_id: str) -> str | None:
        return self.requests.get(request_id)

    # ---- LedgerPort ------------------------------------------------------------------------
    async def company_currency(self) -> tuple[str, bool]:
        return self.home_currency, self.multicurrency

    async def custom_field_definitions(self) -> list[CustomFieldDef]:
        return []

    async def tax_setup(self) -> TaxSetup:
        return self.tax

    async def find_customer_by_email(
        self, email: str, currency: str | None = None
    ) -> Customer | None:
        self._call("find_customer_by_email")
        wanted = email.strip().lower()
        return next(
            (
                c
                for c in self.customers.values()
                if c.match_email == wanted and (currency is None or c.currency in (None, currency))
            ),
            None,
        )

    async def get_customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    async def update_customer(
        self, customer_id: str, version: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        current = self.customers[customer_id]
        self.customers[customer_id] = replace(
            current, **{name: getattr(customer, name) for name in fields}
        )
        return self.customers[customer_id]

    async def get_item(self, item_id: str) -> Product | None:
        return self.items.get(item_id)

    async def update_item(
        self, item_id: str, version: str, product: Product, fields: Sequence[str]
    ) -> Product:
        current = self.items[item_id]
        self.items[item_id] = replace(current, **{name: getattr(product, name) for name in fields})
        return self.items[item_id]

    async def display_name_taken(self, name: str) -> bool:
        return any(c.display_name == name for c in self.customers.values())

    async def create_customer(self, customer: Customer, request_id: str) -> WriteResult:
        self._call("create_customer")
        self.sent.append(_Sent("create_customer", request_id))
        replayed = self._replayed(request_id)
        if replayed is not None:
            return WriteResult(replayed, created=False)
        customer_id = self.add_customer(customer)
        self.requests[request_id] = customer_id
        return WriteResult(customer_id, "0")

    async def find_item(self, sku: str | None, name: str | None) -> Product | None:
        self._call("find_item")
        for item in self.items.values():
            if sku and item.sku == sku:
                return item
        return next((i for i in self.items.values() if name and i.name == name), None)

    async def create_item(self, product: Product, request_id: str) -> WriteResult:
        self._call("create_item")
        self.sent.append(_Sent("create_item", request_id))
        replayed = self._replayed(request_id)
        if replayed is not None:
            return WriteResult(replayed, created=False)
        item_id = self.add_item(product)
        self.requests[request_id] = item_id
        return WriteResult(item_id, "0")

    async def tax_item(self, name: str, account_name: str, request_id: str) -> WriteResult:
        found = await self.find_item(None, name)
        if found is not None and found.id:
            return WriteResult(found.id, created=False)
        return WriteResult(self.add_item(Product(name)), "0")

    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        self._call("get_invoice")
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return None
        voided = invoice.status is InvoiceStatus.VOIDED
        total = Decimal(0) if voided else invoice.total
        paid = self._paid(invoice_id)
        status = invoice.status
        if status is InvoiceStatus.OPEN and total > 0 and paid >= total:
            status = InvoiceStatus.PAID
        return replace(
            invoice,
            status=status,
            amount_paid=paid,
            balance_due=total - paid,
            context={**invoice.context, LEDGER_TOTAL: format(total, "f")},
        )

    async def find_invoice(
        self, doc_number: str | None, external_key: str | None
    ) -> Invoice | None:
        self._call("find_invoice")
        for invoice_id, invoice in self.invoices.items():
            marker = invoice.context.get(MARKER)
            same_number = bool(doc_number) and invoice.number == doc_number
            if same_number and (external_key is None or marker == external_key):
                return await self.get_invoice(invoice_id)
        if external_key and external_key in self.markers:
            return await self.get_invoice(self.markers[external_key])
        return None

    async def create_invoice(
        self,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
        request_id: str,
        external_key: str,
    ) -> WriteResult:
        self._call("create_invoice")
        self.sent.append(_Sent("create_invoice", request_id))
        replayed = self._replayed(request_id)
        if replayed is not None:
            stored = self.invoices[replayed]
            return WriteResult(replayed, stored.version, stored.number, created=False)
        invoice_id = str(next(self._ids))
        lines = tuple(
            replace(line, product_id=item_id)
            for line, item_id in zip(invoice.lines, item_ids, strict=True)
        )
        self.invoices[invoice_id] = replace(
            invoice,
            id=invoice_id,
            version="0",
            number=invoice.number or str(next(self._numbers)),
            customer=self.customers[customer_id],
            lines=lines,
            status=InvoiceStatus.OPEN,
            custom_fields=dict(custom_fields),
            amount_paid=Decimal(0),
            balance_due=None,
            context={MARKER: external_key},
            origin=Side.HUBSPOT,
        )
        self.markers[external_key] = invoice_id
        self.requests[request_id] = invoice_id
        self._answer("create_invoice")
        stored = self.invoices[invoice_id]
        return WriteResult(invoice_id, "0", stored.number, total=stored.total)

    async def update_invoice(
        self,
        invoice_id: str,
        version: str,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
    ) -> WriteResult:
        self._call("update_invoice")
        self.sent.append(_Sent("update_invoice"))
        current = self.invoices[invoice_id]
        if current.version != version:
            raise Conflict("stale SyncToken", hint="Read the invoice again")
        lines = tuple(
            replace(line, product_id=item_id)
            for line, item_id in zip(invoice.lines, item_ids, strict=True)
        )
        self.invoices[invoice_id] = replace(
            invoice,
            id=invoice_id,
            version=str(int(version) + 1),
            customer=self.customers[customer_id],
            lines=lines,
            custom_fields=dict(custom_fields),
            context=current.context,
            origin=current.origin,
        )
        stored = self.invoices[invoice_id]
        return WriteResult(invoice_id, stored.version, stored.number, False, stored.total)

    async def void_invoice(self, invoice_id: str, version: str) -> WriteResult:
        self._call("void_invoice")
        self.sent.append(_Sent("void_invoice"))
        current = self.invoices[invoice_id]
        self.invoices[invoice_id] = replace(
            current, status=InvoiceStatus.VOIDED, version=str(int(version) + 1)
        )
        return WriteResult(invoice_id, self.invoices[invoice_id].version, current.number, False)

    async def batch_create_invoices(
        self, items: Sequence[InvoiceCreate]
    ) -> list[WriteResult | SyncError]:
        out: list[WriteResult | SyncError] = []
        for item in items:
            try:
                out.append(
                    await self.create_invoice(
                        item.invoice,
                        item.customer_id,
                        item.item_ids,
                        item.custom_fields,
                        item.request_id,
                        item.external_key,
                    )
                )
            except SyncError as exc:
                out.append(exc)
        return out

    async def apply_payment_credit(
        self, payment_id: str, invoice_id: str, amount: Decimal
    ) -> WriteResult:
        """Apply more of a payment to an invoice (its unapplied credit)."""
        payment = self.payments[payment_id]
        applications = [
            replace(app, amount=app.amount + amount) if app.invoice_id == invoice_id else app
            for app in payment.applications
        ]
        self.payments[payment_id] = replace(payment, applications=tuple(applications))
        return WriteResult(payment_id, created=False)

    # refunds and payment removals (RefundReceipts, voids): kept in memory
    async def create_refund(
        self, refund: LedgerRefund, request_id: str, external_key: str
    ) -> WriteResult:
        self._call("create_refund")
        replayed = self._replayed(request_id)
        if replayed is not None:
            return WriteResult(replayed, created=False)
        refund_id = str(next(self._ids))
        self.refunds[refund_id] = refund
        self.requests[request_id] = refund_id
        self.markers[external_key] = refund_id
        return WriteResult(refund_id, created=True)

    async def find_refund(self, external_key: str) -> WriteResult | None:
        found = self.markers.get(external_key)
        return WriteResult(found, created=False) if found in self.refunds else None

    async def refund_total(self, refund_ids: Sequence[str]) -> Decimal:
        return sum((self.refunds[i].amount for i in refund_ids if i in self.refunds), Decimal(0))

    async def get_refund_receipt(self, receipt_id: str) -> RefundReceiptRead | None:
        return None  # refund receipts made by hand are not modelled here

    async def customer_payments(self, customer_id: str) -> list[LedgerPaymentFacts]:
        return []

    async def get_credit_memo(self, memo_id: str) -> CreditMemoRead | None:
        return None  # credit memos made by hand are not modelled here

    async def remove_payment(self, payment_id: str, how: str, kind: str = "") -> WriteResult | None:
        if kind == SALES_RECEIPT:
            receipt = self.receipts.pop(payment_id, None)
            if receipt is None:
                return None
            if how == "void":
                voided = replace(receipt.payment, status="voided", amount=Decimal(0))
                self.receipts[payment_id] = replace(receipt, payment=voided)
            return WriteResult(payment_id, created=False)
        payment = self.payments.pop(payment_id, None)
        if payment is None:
            return None
        if how == "void":
            self.payments[payment_id] = replace(payment, status="voided")
        return WriteResult(payment_id, created=False)

    async def create_sales_receipt(
        self, receipt: SalesReceiptRequest, request_id: str, external_key: str
    ) -> WriteResult:
        self._call("create_sales_receipt")
        self.sent.append(_Sent("create_sales_receipt", request_id))
        replayed = self._replayed(request_id)
        if replayed is not None:
            return WriteResult(replayed, created=False)
        receipt_id = str(next(self._receipt_ids))
        customer = self.customers.get(receipt.customer_id)
        self.receipts[receipt_id] = SalesReceiptRead(
            Payment(
                amount=receipt.amount,
                currency=receipt.currency,
                date=receipt.date,
                method=receipt.method,
                reference=receipt.reference,
                customer=customer,
                id=receipt_id,
                version="0",
            ),
            deposit_account_id=None,
            deposit_account_name=None,
        )
        self.requests[request_id] = receipt_id
        self.markers[external_key] = receipt_id
        self._answer("create_sales_receipt")
        return WriteResult(receipt_id, "0", created=True)

    async def find_sales_receipt(self, external_key: str) -> WriteResult | None:
        found = self.markers.get(external_key)
        return WriteResult(found, created=False) if found in self.receipts else None

    async def get_sales_receipt(self, receipt_id: str) -> SalesReceiptRead | None:
        return self.receipts.get(receipt_id)

    async def deposit_account_id(self, name: str) -> str | None:
        return None

    async def batch_create_customers(
        self, items: Sequence[tuple[Customer, str]]
    ) -> list[WriteResult | SyncError]:
        out: list[WriteResult | SyncError] = []
        for customer, request_id in items:
            try:
                out.append(await self.create_customer(customer, request_id))
            except SyncError as exc:
                out.append(exc)
        return out

    async def batch_create_items(
        self, items: Sequence[tuple[Product, str]]
    ) -> list[WriteResult | SyncError]:
        out: list[WriteResult | SyncError] = []
        for product, request_id in items:
            try:
                out.append(await self.create_item(product, request_id))
            except SyncError as exc:
                out.append(exc)
        return out

    @property
    def budget(self) -> None:
        return None  # unmetered

    async def prefetch_display_names(self) -> None:
        return None

    async def prefetch_items(self) -> None:
        return None

    def forget_display_names(self) -> None:
        return None

    async def get_payment(self, payment_id: str) -> Payment | None:
        self._call("get_payment")
        return self.payments.get(payment_id)

    async def create_payment(
        self, payment: Payment, customer_id: str, request_id: str, external_key: str
    ) -> WriteResult:
        self._call("create_payment")
        self.sent.append(_Sent("create_payment", request_id))
        replayed = self._replayed(request_id)
        if replayed is not None:
            return WriteResult(replayed, created=False)
        payment_id = self.add_payment(payment, customer_id)
        self.markers[external_key] = payment_id
        self.requests[request_id] = payment_id
        return WriteResult(payment_id, "0")

    async def find_payment(self, external_key: str) -> Payment | None:
        found = self.markers.get(external_key)
        return self.payments.get(found) if found else None

    async def create_fee_expense(
        self, fee: FeeExpense, request_id: str, external_key: str
    ) -> WriteResult:
        self._call("create_fee_expense")
        result = WriteResult(str(next(self._ids)), "0")
        self.expenses[external_key] = result
        return result

    async def find_fee_expense(self, external_key: str) -> WriteResult | None:
        return self.expenses.get(external_key)

    async def changes(self, since: dt.datetime, entities: Sequence[str]) -> dict[str, ChangePage]:
        return {name: ChangePage([], None) for name in entities}

    async def invoice_pdf(self, invoice_id: str) -> bytes:
        return b"%PDF-1.4 fake"

    def invalidate_settings(self) -> None:
        self._call("invalidate_settings")


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------
@dataclass
class _Dirty:
    reason: str
    not_before: dt.datetime | None
    claimed: bool = False
    remarked: bool = False


@dataclass
class _Intent:
    connection_id: int
    object_type: str
    target: Side
    source_id: str
    result_id: str | None = None


class FakeStore:
    """The store's queue, links, states, intents, cursors and audit log, in dictionaries."""

    def __init__(self) -> None:
        self.dirty: dict[RecordKey, _Dirty] = {}
        self.links: list[Link] = []
        self.states: dict[RecordKey, StoredSyncState] = {}
        self.intents: dict[str, _Intent] = {}
        self.cursors: dict[tuple[int, str], str] = {}
        self.audit_log: list[tuple[str, str, str, object, object, str]] = []

    # dirty keys
    def mark_dirty(
        self, key: RecordKey, reason: str, not_before: dt.datetime | None = None
    ) -> None:
        current = self.dirty.get(key)
        if current is None:
            self.dirty[key] = _Dirty(reason, not_before)
            return
        current.reason = reason
        if current.claimed:
            current.remarked = True
        if not_before is None or (
            current.not_before is not None and not_before < current.not_before
        ):
            current.not_before = not_before

    def claim_dirty(self, connection_id: int, limit: int, now: dt.datetime) -> list[DirtyKey]:
        due = [
            (key, entry)
            for key, entry in self.dirty.items()
            if key.connection_id == connection_id
            and not entry.claimed
            and (entry.not_before is None or entry.not_before <= now)
        ][:limit]
        for _, entry in due:
            entry.claimed, entry.remarked = True, False
        return [DirtyKey(key, entry.reason, entry.not_before) for key, entry in due]

    def release_dirty(self, key: RecordKey, retry_at: dt.datetime | None = None) -> None:
        entry = self.dirty.get(key)
        if entry is None:
            if retry_at is not None:
                self.dirty[key] = _Dirty("retry", retry_at)
            return
        if not entry.remarked:
            if retry_at is None:
                del self.dirty[key]
                return
            entry.not_before = retry_at
        entry.claimed = entry.remarked = False

    # links
    def get_link(
        self,
        connection_id: int,
        object_type: str,
        side: Side,
        source_id: str,
        qbo_kind: str = "",
    ) -> Link | None:
        for link in self.links:
            if link.connection_id != connection_id or link.object_type != object_type:
                continue
            if side is Side.HUBSPOT and link.hubspot_id == source_id:
                return link
            if side is Side.QUICKBOOKS and link.qbo_id == source_id and link.qbo_kind == qbo_kind:
                return link
        return None

    def save_link(self, link: Link) -> None:
        if link.hubspot_id is None and link.qbo_id is None:
            raise ValueError("a link needs a HubSpot id, a QBO id, or both")

        def same(other: Link) -> bool:
            if (other.connection_id, other.object_type) != (link.connection_id, link.object_type):
                return False
            return bool(
                (link.hubspot_id and other.hubspot_id == link.hubspot_id)
                or (link.qbo_id and other.qbo_id == link.qbo_id and other.qbo_kind == link.qbo_kind)
            )

        self.links = [other for other in self.links if not same(other)] + [link]

    # write intents
    def begin_intent(
        self, key: str, connection_id: int, object_type: str, target: Side, source_id: str
    ) -> str | None:
        intent = self.intents.setdefault(
            key, _Intent(connection_id, object_type, target, source_id)
        )
        return intent.result_id

    def complete_intent(self, key: str, result_id: str) -> None:
        self.intents[key].result_id = result_id

    def pending_intent(self, key: str) -> bool:
        intent = self.intents.get(key)
        return intent is not None and intent.result_id is None

    # sync states
    def get_state(self, key: RecordKey) -> StoredSyncState | None:
        return self.states.get(key)

    def set_state(self, state: StoredSyncState) -> None:
        previous = self.states.get(state.key)
        if previous is not None:
            state = replace(
                state,
                first_seen_at=state.first_seen_at or previous.first_seen_at,
                label=state.label if state.label is not None else previous.label,
                amount=state.amount if state.amount is not None else previous.amount,
                currency=state.currency if state.currency is not None else previous.currency,
            )
        self.states[state.key] = state

    def list_states(
        self,
        connection_id: int,
        status: SyncStatus | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[StoredSyncState]:
        found = [
            s
            for s in self.states.values()
            if s.key.connection_id == connection_id and (status is None or s.status is status)
        ]
        return found[offset : offset + limit]

    def count_states(self, connection_id: int) -> dict[SyncStatus, int]:
        counts = dict.fromkeys(SyncStatus, 0)
        for state in self.list_states(connection_id, limit=len(self.states) + 1):
            counts[state.status] += 1
        return counts

    def blocked_on(self, dependency: RecordKey) -> list[RecordKey]:
        text = dependency.as_text()
        return [
            s.key
            for s in self.states.values()
            if s.status is SyncStatus.BLOCKED and s.blocked_on == text
        ]

    # set-wise forms
    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        yield  # everything here is one in-memory state: nothing to group

    @contextmanager
    def reading(self) -> Iterator[None]:
        yield

    def get_links(
        self, connection_id: int, object_type: str, side: Side, source_ids: Sequence[str]
    ) -> dict[str, Link]:
        found = {i: self.get_link(connection_id, object_type, side, i) for i in source_ids}
        return {i: link for i, link in found.items() if link is not None}

    def save_links(self, links: Sequence[Link]) -> None:
        for link in links:
            self.save_link(link)

    def list_links(
        self, connection_id: int, object_type: str, updated_since: dt.datetime | None = None
    ) -> list[Link]:
        # the fake keeps no update times: every link of the type
        return [
            link
            for link in self.links
            if link.connection_id == connection_id and link.object_type == object_type
        ]

    def begin_intents(
        self, intents: Sequence[tuple[str, int, str, Side, str]]
    ) -> dict[str, str | None]:
        earlier = {k: self.intents[k].result_id for k, *_ in intents if k in self.intents}
        for key, conn, object_type, target, source_id in intents:
            if key not in earlier:
                self.begin_intent(key, conn, object_type, target, source_id)
        return earlier

    def complete_intents(self, results: Sequence[tuple[str, str]]) -> None:
        for key, result_id in results:
            self.complete_intent(key, result_id)

    def get_states(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredSyncState]:
        return {k: self.states[k] for k in keys if k in self.states}

    def set_states(self, states: Sequence[StoredSyncState]) -> None:
        for state in states:
            self.set_state(state)

    def blocked_on_many(
        self, dependencies: Sequence[RecordKey]
    ) -> dict[RecordKey, list[RecordKey]]:
        found = {dep: self.blocked_on(dep) for dep in dependencies}
        return {dep: keys for dep, keys in found.items() if keys}

    # cursors
    def get_cursor(self, connection_id: int, feed: str) -> str | None:
        return self.cursors.get((connection_id, feed))

    def set_cursor(self, connection_id: int, feed: str, value: str) -> None:
        self.cursors[(connection_id, feed)] = value

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
    ) -> None:
        self.audit_log.append((object_type, record, field_name, old, new, winner))


def as_ports(
    crm: FakeCrm, ledger: FakeLedger, store: FakeStore
) -> tuple[BatchCrmPort, BatchLedgerPort, StorePort]:
    """The fakes as the ports they stand for: `make lint` type-checks this module (mypy
    strict), so a fake that drifts from its port fails there."""
    return crm, ledger, store
