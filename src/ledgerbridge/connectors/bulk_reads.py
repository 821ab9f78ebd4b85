"""Bulk reads of both sides for reconciliation (the engine's BulkReader), over the connectors.

Every call goes through the connectors' own transports, so their pacing applies: QBO's 500
requests per minute and 10 in flight per realm, HubSpot's burst and daily limits, 429 handling
with Retry-After. Reads are as wide as each API allows:

- HubSpot invoices: batch read (100 per call) plus one association read per child type, the
  same path the sync steps use (`get_invoices`);
- QBO invoices and payments: `SELECT * FROM Invoice WHERE Id IN (...)` (100 ids per query),
  customers missing a BillEmail read the same way (`Customer WHERE Id IN`), one query each;
- HubSpot payment copies: batch read by the unique `ledgerbridge_payment_key`;
- full sweeps: every QBO invoice and payment by paged queries (1,000 per page), every HubSpot
  invoice id by the search feed (100 per page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ledgerbridge.connectors.hubspot import translate as hs_tr
from ledgerbridge.connectors.hubspot import translate_payments as hs_pay
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.hubspot.feed import encode_cursor
from ledgerbridge.connectors.quickbooks import translate as qb_tr
from ledgerbridge.connectors.quickbooks import translate_payments as qb_pay
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.connectors.quickbooks.receipts import receipt_from_wire
from ledgerbridge.domain import Invoice, Payment

ID_CHUNK = 100  # ids per QBO query and per HubSpot batch read


def _chunks(ids: Sequence[str], size: int = ID_CHUNK) -> list[list[str]]:
    unique = [i for i in dict.fromkeys(ids) if i]
    return [unique[n : n + size] for n in range(0, len(unique), size)]


def _in_list(ids: Sequence[str]) -> str:
    return "(" + ", ".join("'" + i.replace("'", "\\'") + "'" for i in ids) + ")"


class ConnectorBulkReader:
    def __init__(self, crm: HubSpotConnector, ledger: QuickBooksConnector) -> None:
        self.crm = crm
        self.ledger = ledger

    def api_calls(self) -> int:
        return int(self.crm.requests_sent) + int(self.ledger.requests_sent)

    # ---- HubSpot ---------------------------------------------------------------------------
    async def hubspot_invoices(self, ids: Sequence[str]) -> dict[str, Invoice]:
        out: dict[str, Invoice] = {}
        for part in _chunks(ids):
            for invoice in await self.crm.get_invoices(part):
                if invoice.id:
                    out[invoice.id] = invoice
        return out

    async def hubspot_payments(self, ids: Sequence[str]) -> dict[str, Payment]:
        if not [i for i in ids if i]:
            return {}
        records = await self.crm.api.batch_read(
            "commerce_payments", [i for i in ids if i], hs_tr.PAYMENT_PROPERTIES
        )
        return {
            key: hs_pay.payment_from_wire(record, [])
            for key, record in records.items()
            if not record.get("archived")
        }

    async def hubspot_payment_copies(self, keys: Sequence[str]) -> dict[str, Payment]:
        out: dict[str, Payment] = {}
        for part in _chunks(keys):
            out.update(await self.crm.find_ledger_payments(part))
        return out

    async def hubspot_changed_invoices(self, since: dt.datetime | None) -> dict[str, str | None]:
        cursor = encode_cursor(int(since.timestamp() * 1000), 0) if since else None
        out: dict[str, str | None] = {}
        while True:
            page = await self.crm.changed_invoices(cursor, 100)
            for i in page.ids:
                out[str(i)] = page.versions.get(str(i))
            if page.done or page.cursor in (None, cursor):
                return out
            cursor = page.cursor

    # ---- QuickBooks ------------------------------------------------------------------------
    async def _query_ids(self, entity: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for part in _chunks(ids):
            found, _ = await self.ledger.api.query_pages(entity, f"Id IN {_in_list(part)}")
            rows.extend(found)
        return rows

    async def ledger_invoices(self, ids: Sequence[str]) -> dict[str, Invoice]:
        home, _ = await self.ledger.company_currency()
        invoices = [
            qb_tr.invoice_from_wire(row, home) for row in await self._query_ids("Invoice", ids)
        ]
        # API-made invoices have no BillEmail: the customer's own email is what compares.
        need = [
            i.customer.id for i in invoices if i.customer and i.customer.id and not i.customer.email
        ]
        customers = {
            str(row.get("Id")): qb_tr.customer_from_wire(row)
            for row in await self._query_ids("Customer", [c for c in need if c])
        }
        out: dict[str, Invoice] = {}
        for inv in invoices:
            cust = inv.customer
            if cust is not None and cust.id in customers and not cust.email:
                inv = replace(inv, customer=replace(customers[cust.id], id=cust.id))
            if inv.id:
                out[inv.id] = inv
        return out

    async def ledger_payments(self, ids: Sequence[str]) -> dict[str, Payment]:
        home, _ = await self.ledger.company_currency()
        out: dict[str, Payment] = {}
        for row in await self._query_ids("Payment", ids):
            payment = qb_pay.payment_from_wire(row, home)
            if payment.id:
                out[payment.id] = payment
        return out

    async def ledger_sales_receipts(self, ids: Sequence[str]) -> dict[str, Payment]:
        home, _ = await self.ledger.company_currency()
        out: dict[str, Payment] = {}
        for row in await self._query_ids("SalesReceipt", ids):
            payment = receipt_from_wire(row, home).payment
            if payment.id:
                out[payment.id] = payment
        return out

    async def ledger_changed(self, since: dt.datetime) -> dict[str, dict[str, str | None]]:
        pages = await self.ledger.changes(since, ["Invoice", "Payment", "SalesReceipt"])
        out: dict[str, dict[str, str | None]] = {}
        for entity, page in pages.items():
            versions: dict[str, str | None] = {str(i): page.versions.get(str(i)) for i in page.ids}
            versions.update({str(i): None for i in page.deleted_ids})
            out[entity] = versions
        return out

    async def all_ledger_invoices(self) -> list[Invoice]:
        home, _ = await self.ledger.company_currency()
        rows, _ = await self.ledger.api.query_pages("Invoice", order_by="Id")
        return [qb_tr.invoice_from_wire(row, home) for row in rows]

    async def all_ledger_payments(self) -> list[Payment]:
        home, _ = await self.ledger.company_currency()
        rows, _ = await self.ledger.api.query_pages("Payment", order_by="Id")
        return [qb_pay.payment_from_wire(row, home) for row in rows]
