"""HubSpotConnector: the engine's CrmPort over the HubSpot CRM API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from ledgerbridge.connectors.auth import TokenProvider
from ledgerbridge.connectors.budget import Budget
from ledgerbridge.connectors.http import Pacer, RetryPolicy
from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot import translate_write as tw
from ledgerbridge.connectors.hubspot.api import API_BASE, HubSpotApi
from ledgerbridge.connectors.hubspot.deals import deal_properties
from ledgerbridge.connectors.hubspot.feed import SearchFeed
from ledgerbridge.connectors.hubspot.masterdata import MasterDataReader
from ledgerbridge.connectors.hubspot.own_properties import ensure_own_properties
from ledgerbridge.connectors.hubspot.payments import HubSpotPayments
from ledgerbridge.connectors.hubspot.reads import InvoiceReader
from ledgerbridge.connectors.hubspot.writes import Writer
from ledgerbridge.domain import (
    Customer,
    Invoice,
    InvoiceStatus,
    Product,
    Side,
    SyncStatus,
)
from ledgerbridge.engine.deals import DealRollup
from ledgerbridge.engine.ports import ChangePage, FeedSnapshot, WriteResult
from ledgerbridge.errors import SyncError

SYNC_ERROR_MAX = 2000
PROPERTY_CACHE_SECONDS = 600.0


class HubSpotConnector(HubSpotPayments):
    """The CrmPort over the HubSpot CRM API: invoices here, payments in HubSpotPayments."""

    side = Side.HUBSPOT

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str = API_BASE,
        retry: RetryPolicy | None = None,
        limiter: asyncio.Semaphore | None = None,
        max_in_flight: int = 10,
        search_pacer: Pacer | None = None,
        budget: Budget | None = None,
        settle_ms: int = 0,
        clock: Callable[[], float] = time.time,
        context_properties: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.api = HubSpotApi(
            http,
            tokens,
            base_url=base_url,
            retry=retry,
            limiter=limiter,
            max_in_flight=max_in_flight,
            search_pacer=search_pacer,
            budget=budget,
        )
        self.reader = InvoiceReader(self.api, context_properties)
        self.writer = Writer(self.api)
        self.invoice_feed = SearchFeed(self.api, "invoices", settle_ms=settle_ms, clock=clock)
        self.payment_feed = SearchFeed(
            self.api, "commerce_payments", settle_ms=settle_ms, clock=clock
        )
        self.masterdata = MasterDataReader(self.api, settle_ms=settle_ms, clock=clock)
        self.clock = clock
        self._invoice_props: tuple[list[str], float] | None = None

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    # -----------------------------------------------------------------------------------------
    # Properties
    # -----------------------------------------------------------------------------------------
    async def ensure_sync_properties(self) -> None:
        await ensure_own_properties(self.api)
        self._invoice_props = None

    def forget_invoice_properties(self) -> None:
        """Drop the cached list of invoice properties (a property was just created, e.g. in the
        console): the next read includes it."""
        self._invoice_props = None

    async def _invoice_property_names(self) -> list[str]:
        """Our known properties plus every custom invoice property (cached for 10 minutes)."""
        now = self.clock()
        if self._invoice_props is None or now - self._invoice_props[1] > PROPERTY_CACHE_SECONDS:
            names = list(tr.INVOICE_PROPERTIES)
            for prop in await self.api.properties("invoices"):
                name = str(prop.get("name") or "")
                if name and not name.startswith("hs_") and name not in names:
                    names.append(name)
            self._invoice_props = (names, now)
        return self._invoice_props[0]

    # -----------------------------------------------------------------------------------------
    # Invoices: read
    # -----------------------------------------------------------------------------------------
    async def changed_invoices(
        self, cursor: str | None, limit: int = 100, until: str | None = None
    ) -> ChangePage:
        return await self.invoice_feed.page(cursor, limit, int(until) if until else None)

    async def invoice_snapshot(self) -> FeedSnapshot:
        """How many invoices the portal holds and the newest one's modification time (one search
        call), for a backfill's progress and the bound of its walk; unknown on an error."""
        try:
            count, newest = await self.invoice_feed.newest()
        except SyncError:
            return FeedSnapshot(None, None)
        return FeedSnapshot(count, str(newest) if newest is not None else None)

    # ---- contacts and products after creation (masterdata.py) ----------------------------------
    async def changed_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self.masterdata.changed_contacts(cursor, limit)

    async def changed_products(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self.masterdata.changed_products(cursor, limit)

    async def changed_company_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self.masterdata.changed_company_contacts(cursor, limit)

    async def company_contact_ids(self, company_ids: Sequence[str]) -> list[str]:
        return await self.masterdata.company_contact_ids(company_ids)

    async def get_contact(self, contact_id: str) -> Customer | None:
        return await self.masterdata.get_contact(contact_id)

    async def update_contact(
        self, contact_id: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        return await self.masterdata.update_contact(contact_id, customer, fields)

    async def get_product(self, product_id: str) -> Product | None:
        return await self.masterdata.get_product(product_id)

    async def update_product(
        self, product_id: str, product: Product, fields: Sequence[str]
    ) -> Product:
        return await self.masterdata.update_product(product_id, product, fields)

    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        bundle = await self.reader.bundle_one(invoice_id, await self._invoice_property_names())
        return tr.invoice_from_wire(bundle) if bundle else None

    async def related_invoice_ids(self, object_type: str, object_ids: Sequence[str]) -> list[str]:
        """Invoices a changed child record belongs to (a webhook about a line item, discount,
        fee, tax or payment marks its invoice dirty)."""
        kind = {
            "line_item": "line_items",
            "discount": "discounts",
            "fee": "fees",
            "tax": "taxes",
            "payment": "commerce_payments",
        }.get(object_type)
        if kind is None or not object_ids:
            return []
        links = await self.api.associations(kind, "invoices", object_ids)
        return list(dict.fromkeys(i for ids in links.values() for i in ids))

    async def invoice_deals(self, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
        return await self.api.associations("invoices", "deals", invoice_ids)

    async def deal_invoice_ids(self, deal_id: str) -> list[str]:
        return (await self.api.associations("deals", "invoices", [deal_id])).get(deal_id, [])

    async def set_deal_rollup(self, deal_id: str, rollup: DealRollup) -> None:
        await self.api.update("deals", deal_id, deal_properties(rollup))

    async def get_invoices(self, invoice_ids: Sequence[str]) -> list[Invoice]:
        bundles = await self.reader.bundles(invoice_ids, await self._invoice_property_names())
        return [tr.invoice_from_wire(b) for b in bundles]

    # -----------------------------------------------------------------------------------------
    # Invoices: write
    # -----------------------------------------------------------------------------------------
    async def upsert_invoice_from_ledger(
        self, invoice: Invoice, qbo_invoice_id: str
    ) -> WriteResult:
        contact_id = await self.writer.ensure_contact(invoice.customer)
        known = set(await self._invoice_property_names())
        properties: dict[str, str] = {
            "hs_currency": invoice.currency,
            # What HubSpot's own data sync sets on the invoices it brings in: lists, filters and
            # the console's Source column tell them from invoices created in HubSpot.
            "hs_invoice_source": "data_sync",
            tr.QBO_DOC_NUMBER: invoice.number or "",
            tr.SYNC_STATUS: SyncStatus.SYNCED.value,
            tr.SYNC_ERROR: "",
        }
        for name, value in tw.invoice_properties(
            invoice, ["due_date", "issue_date", "po_number", "memo", "number"]
        ).items():
            if value:
                properties[name] = value
        if invoice.exchange_rate is not None:  # QBO's rate for a foreign-currency invoice
            properties["hs_exchange_rate"] = format(invoice.exchange_rate, "f")
        for name, value in invoice.custom_fields.items():
            if name in known and name not in tr.OWN_PROPERTIES and not name.startswith("hs_"):
                properties[name] = value
        upserted = (
            await self.api.batch_upsert(
                "invoices", tr.QBO_INVOICE_ID, [(qbo_invoice_id, properties)]
            )
        )[0]
        invoice_id = str(upserted["id"])
        created = bool(upserted.get("new"))
        await self._write_body(invoice_id, invoice, contact_id, lines=True)
        version = await self._write_status(
            invoice_id, invoice.status, (upserted.get("properties") or {}).get("hs_invoice_status")
        )
        return WriteResult(id=invoice_id, version=version, number=invoice.number, created=created)

    async def _write_body(
        self, invoice_id: str, invoice: Invoice, contact_id: str | None, lines: bool
    ) -> None:
        record = await self.api.get(
            "invoices",
            invoice_id,
            ["hs_invoice_status"],
            associations=["contacts", "line_items", "discounts", "fees", "taxes"],
        )
        assoc = (record or {}).get("associations") or {}

        def ids(kind: str) -> list[str]:
            return [str(r.get("id")) for r in (assoc.get(kind) or {}).get("results") or []]

        if contact_id is not None:
            await self.writer.set_contact(invoice_id, contact_id, ids("contacts"))
        if lines:
            wanted = [
                tw.line_to_wire(line, invoice.currency, n)
                for n, line in enumerate(tw.product_lines(invoice))
            ]
            await self.writer.reconcile_children(
                invoice_id,
                "line_items",
                wanted,
                tr.LINE_ITEM_PROPERTIES,
                tw.line_signature,
                ids("line_items"),
            )
            for kind, objects in tw.adjustments_to_wire(invoice).items():
                await self.writer.reconcile_children(
                    invoice_id,
                    kind,
                    objects,
                    tr.ADJUSTMENT_PROPERTIES,
                    tw.adjustment_signature,
                    ids(kind),
                )

    async def _write_status(
        self, invoice_id: str, status: InvoiceStatus, current: str | None
    ) -> str | None:
        """Open or void the invoice. `paid` is never written: HubSpot derives it from payments."""
        target = {
            InvoiceStatus.OPEN: "open",
            InvoiceStatus.PAID: "open",
            InvoiceStatus.VOIDED: "voided",
        }.get(status)
        if current is None:
            record = await self.api.get(
                "invoices", invoice_id, ["hs_invoice_status", "hs_lastmodifieddate"]
            )
            current = ((record or {}).get("properties") or {}).get("hs_invoice_status")
        if target is None or current == target or (target == "open" and current == "paid"):
            record = await self.api.get("invoices", invoice_id, ["hs_lastmodifieddate"])
            return ((record or {}).get("properties") or {}).get("hs_lastmodifieddate")
        updated = await self.api.update("invoices", invoice_id, {"hs_invoice_status": target})
        return (updated.get("properties") or {}).get("hs_lastmodifieddate")

    async def update_invoice(
        self, invoice_id: str, invoice: Invoice, fields: Sequence[str]
    ) -> WriteResult:
        wanted = set(fields)
        properties = tw.invoice_properties(invoice, [f for f in fields if f != "status"])
        if "custom_fields" in wanted:
            known = set(await self._invoice_property_names())
            properties = {k: v for k, v in properties.items() if k in known or k.startswith("hs_")}
        contact_id = None
        if "customer" in wanted:
            contact_id = await self.writer.ensure_contact(invoice.customer)
        if contact_id is not None or wanted & {"lines", "discount"}:
            await self._write_body(
                invoice_id, invoice, contact_id, lines=bool(wanted & {"lines", "discount"})
            )
        version = None
        if properties:
            updated = await self.api.update("invoices", invoice_id, properties)
            version = (updated.get("properties") or {}).get("hs_lastmodifieddate")
        if "status" in wanted:
            version = await self._write_status(invoice_id, invoice.status, None)
        if version is None:
            version = await self._version(invoice_id)
        return WriteResult(id=invoice_id, version=version, number=invoice.number, created=False)

    async def _version(self, invoice_id: str) -> str | None:
        record = await self.api.get("invoices", invoice_id, ["hs_lastmodifieddate"])
        return ((record or {}).get("properties") or {}).get("hs_lastmodifieddate")

    async def set_sync_state(
        self,
        invoice_id: str,
        status: SyncStatus,
        error: str | None = None,
        qbo_invoice_id: str | None = None,
        qbo_doc_number: str | None = None,
    ) -> WriteResult:
        properties = _sync_properties(status, error, qbo_invoice_id, qbo_doc_number)
        updated = await self.api.update("invoices", invoice_id, properties)
        return WriteResult(
            id=invoice_id,
            version=(updated.get("properties") or {}).get("hs_lastmodifieddate"),
            number=qbo_doc_number,
            created=False,
        )

    async def batch_set_sync_state(
        self,
        updates: Sequence[tuple[str, SyncStatus, str | None, str | None, str | None]],
    ) -> list[WriteResult | None]:
        """set_sync_state for many invoices through batch update (100 per request). One result
        per update, in order; None for an invoice that no longer exists."""
        rows = await self.api.batch_update(
            "invoices", [(u[0], _sync_properties(*u[1:])) for u in updates]
        )
        out: list[WriteResult | None] = []
        for invoice_id, _status, _error, _qbo_id, number in updates:
            row = rows.get(str(invoice_id))
            out.append(
                None
                if row is None
                else WriteResult(
                    id=str(invoice_id),
                    version=(row.get("properties") or {}).get("hs_lastmodifieddate"),
                    number=number,
                    created=False,
                )
            )
        return out


def _sync_properties(
    status: SyncStatus, error: str | None, qbo_invoice_id: str | None, qbo_doc_number: str | None
) -> dict[str, str]:
    properties = {tr.SYNC_STATUS: status.value, tr.SYNC_ERROR: (error or "")[:SYNC_ERROR_MAX]}
    if qbo_invoice_id is not None:
        properties[tr.QBO_INVOICE_ID] = qbo_invoice_id
    if qbo_doc_number is not None:
        properties[tr.QBO_DOC_NUMBER] = qbo_doc_number
    return properties
