"""QuickBooksConnector: the engine's LedgerPort over the QBO Accounting API v3."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from ledgerbridge.connectors.auth import TokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.quickbooks import settings
from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks import translate_payments as tp
from ledgerbridge.connectors.quickbooks.api import PRODUCTION_BASE, QboApi, is_not_queryable
from ledgerbridge.connectors.quickbooks.batch import BatchCreate, batch_create
from ledgerbridge.connectors.quickbooks.changes import ChangeFeed
from ledgerbridge.connectors.quickbooks.errors import MULTICURRENCY_HINT
from ledgerbridge.connectors.quickbooks.lookups import CustomerIndex, MarkerIndex
from ledgerbridge.domain import Customer, Invoice, Payment, Product, Side
from ledgerbridge.engine.ports import ChangePage, CustomFieldDef, WriteResult
from ledgerbridge.errors import ConfigError, Invalid, NotFound, SyncError

# Item types an invoice line can use through SalesItemLineDetail.
SELLABLE_TYPES = {"Service", "NonInventory", "Inventory"}
# Canonical payment method → QBO PaymentMethod names to try (QBO's default list).
METHOD_NAMES = {
    "check": ("Check",),
    "cash": ("Cash",),
    "credit_card": ("Credit Card", "Visa"),
    "ach": ("ACH", "Bank Transfer", "EFT"),
    "wire_transfer": ("Wire", "Wire Transfer"),
}


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
        )
        self.customers = CustomerIndex(
            self.api, refresh_interval=customer_refresh_interval, clock=monotonic
        )
        self.markers = MarkerIndex(self.api, lookback_days=marker_lookback_days, clock=now)
        self.feed = ChangeFeed(self.api, clock=now)
        self.item_type = item_type
        self._income_account_id = income_account_id
        self._prefs: dict[str, Any] | None = None
        self._method_ids: dict[str, str | None] = {}
        self._sku_queryable = True
        # Items matched recently: a backfill asks for the same few items thousands of times.
        self.item_cache_seconds = item_cache_seconds
        self._monotonic = monotonic
        self._items: dict[tuple[str | None, str | None], tuple[float, Product]] = {}

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    # -----------------------------------------------------------------------------------------
    # Company settings
    # -----------------------------------------------------------------------------------------
    async def _preferences(self) -> dict[str, Any]:
        if self._prefs is None:
            self._prefs = await self.api.preferences()
        return self._prefs

    def invalidate_settings(self) -> None:
        """Forget cached preferences (e.g. after the user enabled a custom field)."""
        self._prefs = None

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
    async def find_customer_by_email(self, email: str) -> Customer | None:
        row = await self.customers.find(email)
        return tr.customer_from_wire(row) if row else None

    async def display_name_taken(self, name: str) -> bool:
        """DisplayName is unique across Customer, Vendor and Employee, inactive ones included."""
        literal = tr.quote(tr.safe_name(name))
        statements = [
            f"SELECT * FROM {entity} WHERE DisplayName = {literal} AND Active IN (true, false)"
            for entity in ("Customer", "Vendor", "Employee")
        ]
        pages = await asyncio.gather(*(self.api.query(s) for s in statements))
        return any(page.rows for page in pages)

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

        lookup = _Recovery(recover)
        row = await self.api.create("Customer", body, request_id, recover=lookup)
        self.customers.add(row)
        return _result(row, created=not lookup.found)

    # -----------------------------------------------------------------------------------------
    # Items
    # -----------------------------------------------------------------------------------------
    async def find_item(self, sku: str | None, name: str | None) -> Product | None:
        cached = self._items.get((sku, name))
        if cached is not None and self._monotonic() - cached[0] < self.item_cache_seconds:
            return cached[1]
        found = await self._find_item(sku, name)
        if found is not None:
            self._items[(sku, name)] = (self._monotonic(), found)
        return found

    def forget_items(self) -> None:
        """Drop matched items (e.g. after QBO said an item is inactive)."""
        self._items.clear()

    async def _find_item(self, sku: str | None, name: str | None) -> Product | None:
        if sku and self._sku_queryable:
            try:
                row = await self._one_item(f"Sku = {tr.quote(sku)}")
            except SyncError as error:
                if not is_not_queryable(error):
                    raise
                self._sku_queryable = False
            else:
                if row is not None:
                    return tr.item_from_wire(row)
        if sku and not self._sku_queryable:
            rows, _ = await self.api.query_pages("Item", "Active = true", "Id")
            for row in rows:
                if row.get("Sku") == sku and row.get("Type") in SELLABLE_TYPES:
                    return tr.item_from_wire(row)
        if name:
            row = await self._one_item(f"Name = {tr.quote(tr.safe_name(name, tr.ITEM_NAME_MAX))}")
            if row is not None:
                return tr.item_from_wire(row)
        return None

    async def _one_item(self, where: str) -> dict[str, Any] | None:
        page = await self.api.query(f"SELECT * FROM Item WHERE {where} AND Active = true")
        rows = sorted(
            (r for r in page.rows if r.get("Type") in SELLABLE_TYPES),
            key=lambda r: int(r.get("Id") or 0),
        )
        return rows[0] if rows else None

    async def _income_account(self) -> str:
        if self._income_account_id is None:
            page = await self.api.query(
                "SELECT * FROM Account WHERE AccountType = 'Income' AND Active = true"
            )
            preferred = ("Services", "Sales of Product Income", "Sales", "Income")
            rows = sorted(page.rows, key=lambda r: int(r.get("Id") or 0))
            chosen = next(
                (r for p in preferred for r in rows if r.get("Name") == p),
                rows[0] if rows else None,
            )
            if chosen is None:
                raise ConfigError(
                    message="QuickBooks has no active Income account for new items",
                    hint="Create an Income account in QuickBooks (Chart of accounts), or choose the "
                    "'use a default item' product policy in Settings → Sync.",
                )
            self._income_account_id = str(chosen["Id"])
        return self._income_account_id

    async def create_item(self, product: Product, request_id: str) -> WriteResult:
        body = tr.item_to_wire(product, await self._income_account(), self.item_type)

        async def recover() -> dict[str, Any] | None:
            return await self._one_item(f"Name = {tr.quote(body['Name'])}")

        lookup = _Recovery(recover)
        row = await self.api.create("Item", body, request_id, recover=lookup)
        self._items[(product.sku, product.name)] = (self._monotonic(), tr.item_from_wire(row))
        return _result(row, created=not lookup.found)

    # -----------------------------------------------------------------------------------------
    # Invoices
    # -----------------------------------------------------------------------------------------
    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        row = await self.api.read("Invoice", invoice_id)
        if row is None:
            return None
        self.markers.remember("Invoice", row)
        home, _ = await self.company_currency()
        return await self._with_customer(tr.invoice_from_wire(row, home))

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
                    return tr.invoice_from_wire(row, home)
        if external_key:
            row = await self.markers.find("Invoice", external_key)
            if row is not None:
                return tr.invoice_from_wire(row, home)
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
        fields = await self._resolve_custom_fields(custom_fields)
        return tr.invoice_to_wire(
            invoice, customer_id, item_ids, fields, external_key=external_key, currency=currency
        )

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

        lookup = _Recovery(recover)
        try:
            row = await self.api.create("Invoice", body, request_id, recover=lookup)
        except NotFound:
            self.forget_items()  # an item it used may have been made inactive
            raise
        self.markers.remember("Invoice", row)
        return _result(row, created=not lookup.found)

    async def batch_create_invoices(
        self, items: Sequence[BatchCreate]
    ) -> list[WriteResult | SyncError]:
        """Backfill helper: /batch in chunks of 30; per-item results in input order."""
        prepared = []
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
        return await batch_create(self.api, self.markers, prepared)

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
        # Sparse: only what we send changes; PrivateNote (our marker) is left alone. The Line
        # array always replaces every line, so it is sent complete.
        body.update({"Id": str(invoice_id), "SyncToken": str(version), "sparse": True})
        return _result(await self.api.update("Invoice", body))

    async def void_invoice(self, invoice_id: str, version: str) -> WriteResult:
        row = await self.api.update(
            "Invoice", {"Id": str(invoice_id), "SyncToken": str(version)}, operation="void"
        )
        return _result(row)

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

        lookup = _Recovery(recover)
        row = await self.api.create("Payment", body, request_id, recover=lookup)
        self.markers.remember("Payment", row)
        return _result(row, created=not lookup.found)

    async def find_payment(self, external_key: str) -> Payment | None:
        row = await self.markers.find("Payment", external_key)
        if row is None:
            return None
        home, _ = await self.company_currency()
        return tp.payment_from_wire(row, home)

    # -----------------------------------------------------------------------------------------
    # Change feed
    # -----------------------------------------------------------------------------------------
    async def changes(self, since: dt.datetime, entities: Sequence[str]) -> dict[str, ChangePage]:
        return await self.feed.changes(since, entities)


class _Recovery:
    """Wraps a natural-key lookup so the caller can tell a found record from a new one."""

    def __init__(self, lookup: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
        self.lookup = lookup
        self.found = False

    async def __call__(self) -> dict[str, Any] | None:
        row = await self.lookup()
        self.found = row is not None
        return row


def _result(row: Mapping[str, Any], created: bool = True) -> WriteResult:
    return WriteResult(
        id=str(row["Id"]),
        version=str(row["SyncToken"]) if row.get("SyncToken") is not None else None,
        number=row.get("DocNumber") or None,
        created=created,
    )
