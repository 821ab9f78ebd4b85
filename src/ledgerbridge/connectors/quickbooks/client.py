"""QuickBooksConnector: the engine's LedgerPort over the QBO Accounting API v3."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx

from ledgerbridge.connectors.auth import TokenProvider
from ledgerbridge.connectors.budget import Budget
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.quickbooks import settings, standard_fields, tax
from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks import translate_payments as tp
from ledgerbridge.connectors.quickbooks.api import PRODUCTION_BASE, QboApi
from ledgerbridge.connectors.quickbooks.batch import (
    BatchCreate,
    Prepared,
    batch_create,
    batch_create_customers,
)
from ledgerbridge.connectors.quickbooks.changes import ChangeFeed
from ledgerbridge.connectors.quickbooks.errors import MULTICURRENCY_HINT
from ledgerbridge.connectors.quickbooks.expenses import FeeBooks
from ledgerbridge.connectors.quickbooks.items import ItemCatalog
from ledgerbridge.connectors.quickbooks.lookups import CustomerIndex, MarkerIndex
from ledgerbridge.connectors.quickbooks.receipts import ReceiptBooks, ReceiptRead
from ledgerbridge.connectors.quickbooks.refunds import RefundBooks
from ledgerbridge.connectors.quickbooks.results import Recovery, with_invoice, write_result
from ledgerbridge.domain import Customer, Invoice, Payment, Product, Side
from ledgerbridge.engine.ports import (
    ChangePage,
    CreditMemoRead,
    CustomFieldDef,
    FeeExpense,
    LedgerPaymentFacts,
    LedgerRefund,
    RefundReceiptRead,
    SalesReceiptRequest,
    TaxCode,
    TaxSetup,
    WriteResult,
)
from ledgerbridge.errors import Invalid, NotFound, SyncError, UnknownOutcome

# Canonical payment method → QBO PaymentMethod names to try (QBO's default list).
METHOD_NAMES = {
    "check": ("Check",),
    "cash": ("Cash",),
    "credit_card": ("Credit Card", "Visa"),
    "ach": ("ACH", "Bank Transfer", "EFT"),
    "wire_transfer": ("Wire", "Wire Transfer"),
}


# Seconds company preferences are reused before they are read again (see _preferences).
PREFERENCES_TTL = 60.0


class QuickBooksConnector:
    side = Side.QUICKBOOKS

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        realm_id: str,
        *,
        base_url: str = PRODUCTION_BASE,
        retry: RetryPolicy | None = None,
        limiter: asyncio.Semaphore | None = None,
        max_in_flight: int = 10,
        budget: Budget | None = None,
        income_account_id: str | None = None,
        item_type: str = "Service",
        customer_refresh_interval: float = 5.0,
        item_cache_seconds: float = 60.0,
        marker_lookback_days: int = 30,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.api = QboApi(
            http,
            tokens,
            realm_id,
            base_url=base_url,
            retry=retry,
            limiter=limiter,
            max_in_flight=max_in_flight,
            budget=budget,
        )
        self.customers = CustomerIndex(
            self.api, refresh_interval=customer_refresh_interval, clock=monotonic
        )
        self.markers = MarkerIndex(self.api, lookback_days=marker_lookback_days, clock=now)
        self.feed = ChangeFeed(self.api, clock=now)
        self.items = ItemCatalog(
            self.api,
            income_account_id=income_account_id,
            item_type=item_type,
            cache_seconds=item_cache_seconds,
            monotonic=monotonic,
        )
        self.fees = FeeBooks(self.api, self.markers, self._currency_ref)
        self.refunds = RefundBooks(self.api, self.markers)

        self.receipts = ReceiptBooks(
            self.api,
            self.markers,
            self._currency_ref,
            self._payment_method_id,
            self._home_currency,
        )
        # Company preferences (currency, multicurrency, custom field definitions): read again
        # after PREFERENCES_TTL seconds, or at once after invalidate_settings (a retry, the
        # settings page), so "fix it in QuickBooks, then retry" works without a restart.
        self._prefs: dict[str, Any] | None = None
        self._prefs_at = 0.0
        self._monotonic = monotonic
        self._terms: dict[str, str] | None = None  # payment term id -> name
        self._tax_codes: tuple[TaxCode, ...] | None = None  # sales tax codes, when used
        # QBO's exchange rates by (currency, date), forgotten with the settings.
        self._rates: dict[tuple[str, str | None], Decimal | None] = {}
        self._method_ids: dict[str, str | None] = {}
        # Every DisplayName in the realm, while a backfill holds them (prefetch_display_names).
        self._display_names: set[str] | None = None

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    # -----------------------------------------------------------------------------------------
    # Company settings
    # -----------------------------------------------------------------------------------------
    async def _preferences(self) -> dict[str, Any]:
        now = self._monotonic()
        if self._prefs is None or now - self._prefs_at > PREFERENCES_TTL:
            self._prefs = await self.api.preferences()
            self._prefs_at = now
        return self._prefs

    def invalidate_settings(self) -> None:
        """Forget cached preferences (e.g. after the user enabled a custom field or turned on
        multicurrency) and look at changed customers again (a fix hint may have the user set up
        a customer): the engine calls this before a retry the user asked for."""
        self._prefs = None
        self._terms = None
        self._tax_codes = None
        self._rates = {}
        self.customers.expire()

    async def tax_setup(self) -> TaxSetup:
        """Tax codes and rates are read once a company uses them; forgotten with the settings."""
        uses, automated = tax.setup_from_preferences(await self._preferences())
        if not uses:
            return TaxSetup()
        if self._tax_codes is None:
            codes, _ = await self.api.query_pages("TaxCode", "Active = true", "Id")
            rates, _ = await self.api.query_pages("TaxRate", None, "Id")
            self._tax_codes = tax.codes_from_rows(codes, rates)
        return TaxSetup(uses_tax_codes=True, automated=automated, codes=self._tax_codes)

    async def _term_names(self) -> dict[str, str]:
        """Payment terms by id (for SalesTermRef mappings); forgotten with the settings."""
        if self._terms is None:
            rows, _ = await self.api.query_pages("Term", "Active = true", "Id")
            self._terms = {str(r["Id"]): str(r.get("Name") or "") for r in rows}
        return self._terms

    async def _from_wire(self, row: Mapping[str, Any], home: str) -> Invoice:
        """An invoice read from QBO (SalesTermRef shown by the term's name)."""
        term_names = await self._term_names() if row.get("SalesTermRef") else {}
        return tr.invoice_from_wire(row, home, term_names)

    async def company_currency(self) -> tuple[str, bool]:
        return settings.currency_from_preferences(await self._preferences())

    async def custom_field_definitions(self) -> list[CustomFieldDef]:
        return settings.custom_fields_from_preferences(await self._preferences())

    async def _currency_ref(self, currency: str) -> str | None:
        """CurrencyRef to send, or raise when the company cannot hold this currency (nothing is
        created in QBO: the invoice fails visibly with the multicurrency hint)."""
        home, multi = await self.company_currency()
        if currency.upper() == home.upper():
            return currency.upper() if multi else None
        if not multi:
            raise Invalid(
                message=f"The invoice is in {currency} but this QuickBooks company only uses "
                f"{home} (multicurrency is off)",
                hint=MULTICURRENCY_HINT,
                code="currency",
            )
        return currency.upper()

    # -----------------------------------------------------------------------------------------
    # Customers
    # -----------------------------------------------------------------------------------------
    async def find_customer_by_email(
        self, email: str, currency: str | None = None
    ) -> Customer | None:
        home = None
        if currency is not None:
            home, multi = await self.company_currency()
            if not multi:
                currency = None  # one currency for every customer: any match will do
        row = await self.customers.find(email, currency, home)
        return tr.customer_from_wire(row) if row else None

    async def exchange_rate(self, currency: str, on: dt.date | None) -> Decimal | None:
        """QBO's rate (home units per one `currency` unit) as of a date: the ExchangeRate
        entity, which holds the company's own rates and, where it has none, QBO's feed."""
        key = (currency.upper(), on.isoformat() if on else None)
        if key in self._rates:  # a backfill of many invoices of one day asks once
            return self._rates[key]
        params = {"sourcecurrencycode": key[0]}
        if key[1] is not None:
            params["asofdate"] = key[1]
        row = await self.api.exchange_rate(params)
        rate = tr.dec((row or {}).get("Rate"))
        self._rates[key] = rate if rate is not None and rate > 0 else None
        return self._rates[key]

    async def display_name_taken(self, name: str) -> bool:
        """DisplayName is unique across Customer, Vendor and Employee, inactive ones included."""
        if self._display_names is not None:
            return _name_key(tr.safe_name(name)) in self._display_names
        literal = tr.quote(tr.safe_name(name))
        statements = [
            f"SELECT * FROM {entity} WHERE DisplayName = {literal} AND Active IN (true, false)"
            for entity in ("Customer", "Vendor", "Employee")
        ]
        pages = await asyncio.gather(*(self.api.query(s) for s in statements))
        return any(page.rows for page in pages)

    @property
    def budget(self) -> Budget | None:
        """The realm's rate budget the transport draws from (None: unmetered)."""
        return self.api.transport.budget

    async def prefetch_display_names(self) -> None:
        """Backfills: read every DisplayName once (customers, vendors, employees, inactive ones
        included; paged) so that display_name_taken answers from memory instead of three
        queries per new customer. Names this connector creates are added; a name someone else
        takes meanwhile makes the create fail with 6240, and the next candidate is tried."""
        names: set[str] = set()
        for entity in ("Customer", "Vendor", "Employee"):
            rows, _ = await self.api.query_pages(entity, "Active IN (true, false)", "Id")
            names.update(_name_key(str(r.get("DisplayName") or "")) for r in rows)
        self._display_names = names

    def forget_display_names(self) -> None:
        self._display_names = None
        self.items.forget_prefetched()

    async def prefetch_items(self) -> None:
        """Backfills: the active item catalog in memory (see ItemCatalog.prefetch)."""
        await self.items.prefetch()

    async def create_customer(self, customer: Customer, request_id: str) -> WriteResult:
        body = tr.customer_to_wire(customer)

        async def recover() -> dict[str, Any] | None:
            page = await self.api.query(
                f"SELECT * FROM Customer WHERE DisplayName = {tr.quote(body['DisplayName'])}"
                " AND Active IN (true, false)"
            )
            for row in page.rows:
                email = (row.get("PrimaryEmailAddr") or {}).get("Address")
                if (email or "").strip().lower() == (customer.email or "").strip().lower():
                    return row
            return None

        lookup = Recovery(recover)
        row = await self.api.create("Customer", body, request_id, recover=lookup)
        self.customers.add(row)
        if self._display_names is not None:
            self._display_names.add(_name_key(str(row.get("DisplayName") or "")))
        return write_result(row, created=not lookup.found)

    async def batch_create_customers(
        self, items: Sequence[tuple[Customer, str]]
    ) -> list[WriteResult | SyncError]:
        """create_customer for many (customer with its display name chosen, request id), through
        /batch; one result per item, in order. After a lost answer the customer index is
        expired, so the next lookup by email sees what QuickBooks did create."""
        rows = await batch_create_customers(
            self.api, [(tr.customer_to_wire(customer), rid) for customer, rid in items]
        )
        out: list[WriteResult | SyncError] = []
        for row in rows:
            if isinstance(row, SyncError):
                if isinstance(row, UnknownOutcome):
                    self.customers.expire()
                out.append(row)
                continue
            self.customers.add(row)
            if self._display_names is not None:
                self._display_names.add(_name_key(str(row.get("DisplayName") or "")))
            out.append(write_result(row, created=True))
        return out

    # -----------------------------------------------------------------------------------------
    # Items (items.py)
    # -----------------------------------------------------------------------------------------
    async def find_item(self, sku: str | None, name: str | None) -> Product | None:
        return await self.items.find(sku, name)

    async def create_item(self, product: Product, request_id: str) -> WriteResult:
        return await self.items.create(product, request_id)

    async def batch_create_items(
        self, items: Sequence[tuple[Product, str]]
    ) -> list[WriteResult | SyncError]:
        """create_item for many (product, request id) through /batch (see ItemCatalog)."""
        return await self.items.batch_create(items)

    def forget_items(self) -> None:
        self.items.forget()

    # -----------------------------------------------------------------------------------------
    # Customers and items after creation (engine/masterdata.py)
    # -----------------------------------------------------------------------------------------
    async def get_customer(self, customer_id: str) -> Customer | None:
        row = await self.api.read("Customer", customer_id)
        return tr.customer_from_wire(row) if row else None

    async def update_customer(
        self, customer_id: str, version: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        body = tr.customer_update_to_wire(customer, fields)
        body.update({"Id": str(customer_id), "SyncToken": str(version), "sparse": True})
        row = await self.api.update("Customer", body)
        self.customers.add(row)  # a new email is matched at once
        return tr.customer_from_wire(row)

    async def get_item(self, item_id: str) -> Product | None:
        row = await self.api.read("Item", item_id)
        return tr.item_from_wire(row) if row else None

    async def update_item(
        self, item_id: str, version: str, product: Product, fields: Sequence[str]
    ) -> Product:
        body = tr.item_update_to_wire(product, fields)
        body.update({"Id": str(item_id), "SyncToken": str(version), "sparse": True})
        row = await self.api.update("Item", body)
        self.items.forget()  # matching by name / SKU must see the new name or state
        return tr.item_from_wire(row)

    async def tax_item(self, name: str, account_name: str, request_id: str) -> WriteResult:
        return await self.items.tax_item(name, account_name, request_id)

    # -----------------------------------------------------------------------------------------
    # Invoices
    # -----------------------------------------------------------------------------------------
    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        row = await self.api.read("Invoice", invoice_id)
        if row is None:
            return None
        self.markers.remember("Invoice", row)
        home, _ = await self.company_currency()
        return await self._with_customer(await self._from_wire(row, home))

    async def _with_customer(self, invoice: Invoice) -> Invoice:
        """An invoice made through the API (or a bookkeeper who cleared "Bill to email") has no
        BillEmail: the customer's own email and name are what matching needs, so read them."""
        customer = invoice.customer
        if customer is None or customer.email or not customer.id:
            return invoice
        row = await self.api.read("Customer", customer.id)
        if row is None:
            return invoice
        full = tr.customer_from_wire(row)
        return replace(invoice, customer=replace(full, id=customer.id))

    async def find_invoice(
        self, doc_number: str | None, external_key: str | None
    ) -> Invoice | None:
        home, _ = await self.company_currency()
        if doc_number:
            page = await self.api.query(
                f"SELECT * FROM Invoice WHERE DocNumber = {tr.quote(doc_number)}"
            )
            for row in page.rows:
                self.markers.remember("Invoice", row)
                key = tr.extract_marker(row.get("PrivateNote"))
                # A match carrying another record's key is a different invoice (a number clash).
                if external_key is None or key == external_key:
                    return await self._from_wire(row, home)
        if external_key:
            marked = await self.markers.find("Invoice", external_key)
            if marked is not None:
                return await self._from_wire(marked, home)
        return None

    async def _resolve_custom_fields(
        self, custom_fields: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        if not custom_fields:
            return []
        return settings.resolve_custom_fields(await self.custom_field_definitions(), custom_fields)

    async def _invoice_body(
        self,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
        external_key: str | None,
    ) -> dict[str, Any]:
        if invoice.number and len(invoice.number) > tr.DOC_NUMBER_MAX:
            raise Invalid(
                message=f"Invoice number {invoice.number!r} is longer than QuickBooks allows "
                f"({tr.DOC_NUMBER_MAX} characters)",
                hint="Use a shorter number prefix, or let QuickBooks assign numbers (Settings → Sync).",
                code="2050",
            )
        currency = await self._currency_ref(invoice.currency)
        rate = None
        home, _ = await self.company_currency()
        if currency is not None and currency != home.upper():
            # HubSpot's rate when the invoice has one, else QBO's for the invoice date; sent
            # explicitly so the rate the books use is the one verified afterwards.
            rate = invoice.exchange_rate or await self.exchange_rate(currency, invoice.issue_date)
        standard, custom = standard_fields.split(custom_fields)
        fields = await self._resolve_custom_fields(custom)
        untaxed, line_ids, tax_code, tax_amount = tax.split_tax_lines(invoice, item_ids)
        body = tr.invoice_to_wire(
            untaxed,
            customer_id,
            line_ids,
            fields,
            external_key=external_key,
            currency=currency,
            exchange_rate=rate,
        )
        tax.apply_tax(body, tax_code, tax_amount, await self.tax_setup(), invoice.currency)
        if standard:
            terms = await self._term_names() if "SalesTermRef" in standard else {}
            term_ids = {name.lower(): term_id for term_id, name in terms.items()}
            body.update(standard_fields.to_wire(standard, term_ids))
        return body

    async def create_invoice(
        self,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
        request_id: str,
        external_key: str,
    ) -> WriteResult:
        body = await self._invoice_body(invoice, customer_id, item_ids, custom_fields, external_key)

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find("Invoice", external_key)

        lookup = Recovery(recover)
        try:
            row = await self.api.create("Invoice", body, request_id, recover=lookup)
        except NotFound:
            self.forget_items()  # an item it used may have been made inactive
            raise
        self.markers.remember("Invoice", row)
        return await self._invoice_result(row, created=not lookup.found)

    async def _invoice_result(self, row: Mapping[str, Any], created: bool = True) -> WriteResult:
        home, _ = await self.company_currency()
        result = with_invoice(write_result(row, created=created), row, home)
        if result.record is not None and row.get("SalesTermRef"):
            result = replace(result, record=await self._from_wire(row, home))
        return result

    async def batch_create_invoices(
        self, items: Sequence[BatchCreate]
    ) -> list[WriteResult | SyncError]:
        """Backfill helper: /batch in chunks of 30; per-item results in input order."""
        prepared: list[Prepared] = []
        for item in items:
            try:
                body = await self._invoice_body(
                    item.invoice,
                    item.customer_id,
                    item.item_ids,
                    item.custom_fields,
                    item.external_key,
                )
            except SyncError as error:
                prepared.append((item, error))
            else:
                prepared.append((item, body))
        home, _ = await self.company_currency()
        return await batch_create(self.api, self.markers, prepared, home)

    async def update_invoice(
        self,
        invoice_id: str,
        version: str,
        invoice: Invoice,
        customer_id: str,
        item_ids: Sequence[str],
        custom_fields: Mapping[str, str],
    ) -> WriteResult:
        body = await self._invoice_body(invoice, customer_id, item_ids, custom_fields, None)
        if invoice.exchange_rate is None:
            body.pop("ExchangeRate", None)  # no rate from HubSpot: QBO keeps the one it has
        # Sparse: only what we send changes; PrivateNote (our marker) is left alone. The Line
        # array always replaces every line, so it is sent complete.
        body.update({"Id": str(invoice_id), "SyncToken": str(version), "sparse": True})
        return await self._invoice_result(await self.api.update("Invoice", body))

    async def void_invoice(self, invoice_id: str, version: str) -> WriteResult:
        row = await self.api.update(
            "Invoice", {"Id": str(invoice_id), "SyncToken": str(version)}, operation="void"
        )
        return await self._invoice_result(row)

    async def invoice_pdf(self, invoice_id: str) -> bytes:
        return await self.api.pdf("Invoice", invoice_id)

    # -----------------------------------------------------------------------------------------
    # Payments
    # -----------------------------------------------------------------------------------------
    async def get_payment(self, payment_id: str) -> Payment | None:
        row = await self.api.read("Payment", payment_id)
        if row is None:
            return None
        self.markers.remember("Payment", row)
        home, _ = await self.company_currency()
        return tp.payment_from_wire(row, home)

    async def _payment_method_id(self, method: str | None) -> str | None:
        if not method:
            return None
        if method not in self._method_ids:
            found = None
            for name in METHOD_NAMES.get(method, (method.replace("_", " ").title(),)):
                page = await self.api.query(
                    f"SELECT * FROM PaymentMethod WHERE Name = {tr.quote(name)}"
                )
                if page.rows:
                    found = str(page.rows[0]["Id"])
                    break
            self._method_ids[method] = found
        return self._method_ids[method]

    async def create_payment(
        self, payment: Payment, customer_id: str, request_id: str, external_key: str
    ) -> WriteResult:
        currency = await self._currency_ref(payment.currency)
        body = tp.payment_to_wire(
            payment,
            customer_id,
            external_key=external_key,
            currency=currency,
            method_id=await self._payment_method_id(payment.method),
        )

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find("Payment", external_key)

        lookup = Recovery(recover)
        row = await self.api.create("Payment", body, request_id, recover=lookup)
        self.markers.remember("Payment", row)
        return write_result(row, created=not lookup.found)

    async def apply_payment_credit(
        self, payment_id: str, invoice_id: str, amount: Decimal
    ) -> WriteResult:
        """Apply `amount` more of the payment to the invoice (from its UnappliedAmt). The Line
        array replaces every line, so it is sent complete; TotalAmt does not change."""
        row = await self.api.read("Payment", payment_id)
        if row is None:
            raise NotFound(
                f"QuickBooks payment {payment_id} no longer exists",
                hint="Check the payment in QuickBooks",
            )
        lines = [dict(line) for line in row.get("Line") or []]
        for line in lines:
            linked = line.get("LinkedTxn") or []
            if any(
                str(t.get("TxnId")) == str(invoice_id) and t.get("TxnType") == "Invoice"
                for t in linked
            ):
                line["Amount"] = str(Decimal(str(line.get("Amount") or 0)) + amount)
                break
        else:
            lines.append(
                {
                    "Amount": str(amount),
                    "LinkedTxn": [{"TxnId": str(invoice_id), "TxnType": "Invoice"}],
                }
            )
        body = {"Id": str(payment_id), "SyncToken": str(row["SyncToken"]), "sparse": True}
        updated = await self.api.update("Payment", {**body, "Line": lines})
        self.markers.remember("Payment", updated)
        return write_result(updated, created=False)

    async def find_payment(self, external_key: str) -> Payment | None:
        row = await self.markers.find("Payment", external_key)
        if row is None:
            return None
        home, _ = await self.company_currency()
        return tp.payment_from_wire(row, home)

    # -----------------------------------------------------------------------------------------
    # Processing fees (expenses.py)
    # -----------------------------------------------------------------------------------------
    async def create_fee_expense(
        self, fee: FeeExpense, request_id: str, external_key: str
    ) -> WriteResult:
        return await self.fees.create(fee, request_id, external_key)

    async def find_fee_expense(self, external_key: str) -> WriteResult | None:
        return await self.fees.find(external_key)

    # -----------------------------------------------------------------------------------------
    # Refunds and removals of payments (refunds.py)
    # -----------------------------------------------------------------------------------------
    async def create_refund(
        self, refund: LedgerRefund, request_id: str, external_key: str
    ) -> WriteResult:
        return await self.refunds.create(refund, request_id, external_key)

    async def find_refund(self, external_key: str) -> WriteResult | None:
        return await self.refunds.find(external_key)

    async def refund_total(self, refund_ids: Sequence[str]) -> Decimal:
        return await self.refunds.total(list(refund_ids))

    async def remove_payment(self, payment_id: str, how: str, kind: str = "") -> WriteResult | None:
        return await self.refunds.remove_payment(payment_id, how, kind)

    async def get_refund_receipt(self, receipt_id: str) -> RefundReceiptRead | None:
        return await self.refunds.read_receipt(receipt_id)

    async def customer_payments(self, customer_id: str) -> list[LedgerPaymentFacts]:
        return await self.refunds.customer_payments(customer_id)

    async def get_credit_memo(self, memo_id: str) -> CreditMemoRead | None:
        return await self.refunds.read_credit_memo(memo_id)

    # Sales receipts (receipts.py)
    # -----------------------------------------------------------------------------------------
    async def create_sales_receipt(
        self, receipt: SalesReceiptRequest, request_id: str, external_key: str
    ) -> WriteResult:
        return await self.receipts.create(receipt, request_id, external_key)

    async def find_sales_receipt(self, external_key: str) -> WriteResult | None:
        return await self.receipts.find(external_key)

    async def get_sales_receipt(self, receipt_id: str) -> ReceiptRead | None:
        return await self.receipts.read(receipt_id)

    async def deposit_account_id(self, name: str) -> str | None:
        return await self.receipts.deposit_account_id(name)

    async def _home_currency(self) -> str:
        home, _ = await self.company_currency()
        return home

    # -----------------------------------------------------------------------------------------
    # Change feed
    # -----------------------------------------------------------------------------------------
    async def changes(self, since: dt.datetime, entities: Sequence[str]) -> dict[str, ChangePage]:
        return await self.feed.changes(since, entities)


def _name_key(name: str) -> str:
    """DisplayName uniqueness is case-insensitive, and an inactive record's name carries
    " (deleted)": compare the way QBO does."""
    if name.endswith(" (deleted)"):
        name = name[: -len(" (deleted)")]
    return " ".join(name.split()).casefold()
