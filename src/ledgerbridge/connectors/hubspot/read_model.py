"""The console's reads of HubSpot, as typed records.

The invoice index, the invoice cards of contact and company pages, the payments report and the
property catalog read HubSpot directly (HubSpot is the system of record for invoices). Which
properties hold what, how HubSpot's search is asked (filter groups, one sort, `after` paging,
the 10,000-result cap) and how its values are parsed stay here; the console works with
`InvoiceSummary`, `PaymentSummary` and `PropertyDef` (connectors/hubspot/summaries.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.hubspot.summaries import (
    DATA_SYNC,
    INVOICE_SUMMARY_PROPERTIES,
    PAYMENT_SUMMARY_PROPERTIES,
    InvoiceSummary,
    PaymentSummary,
    PropertyDef,
)

SEARCH_CAP = 10_000  # HubSpot's search returns no result past this many
REPORT_PAGE = 200  # search page size for the report's range reads

# The orders the index offers, by the property HubSpot sorts on.
SORT_PROPERTIES = {
    "number": "hs_number",
    "customer": "hs_invoice_latest_company_name",
    "amount": "hs_amount_billed",
    "balance": "hs_balance_due",
    "status": "hs_invoice_status",
    "due_date": "hs_due_date",
    "invoice_date": "hs_invoice_date",
    "created": "hs_createdate",
    "sync": tr.SYNC_STATUS,
}
DATE_PROPERTIES = {"invoice_date": "hs_invoice_date", "due_date": "hs_due_date"}


@dataclass(frozen=True)
class InvoiceFilter:
    """What the invoice index narrows to; empty fields do not filter."""

    status: str = ""  # draft | open | paid | voided | overdue | partially_paid
    sync: str = ""  # a sync status, or "none" (never synced)
    source: str = ""  # hubspot | quickbooks
    currency: str = ""
    date_field: str = "invoice_date"  # invoice_date | due_date
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    today: dt.date | None = None  # what "overdue" is measured against

    def search_filters(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.status == "overdue":  # open with a due date before today, as the rows show it
            day = (self.today or dt.date.today()).isoformat()
            out.append(_eq("hs_invoice_status", "open"))
            out.append({"propertyName": "hs_due_date", "operator": "LT", "value": _start(day)})
        elif self.status == "partially_paid":
            out.append(_eq("hs_payment_status", "partially_paid"))
        elif self.status:
            out.append(_eq("hs_invoice_status", self.status))
        if self.sync == "none":
            out.append({"propertyName": tr.SYNC_STATUS, "operator": "NOT_HAS_PROPERTY"})
        elif self.sync:
            out.append(_eq(tr.SYNC_STATUS, self.sync))
        if self.source == "quickbooks":
            out.append(_eq("hs_invoice_source", DATA_SYNC))
        elif self.source == "hubspot":
            out.append({"propertyName": "hs_invoice_source", "operator": "NEQ", "value": DATA_SYNC})
        if self.currency:
            out.append(_eq("hs_currency", self.currency))
        if self.amount_min is not None:
            out.append(_bound("hs_amount_billed", "GTE", format(self.amount_min, "f")))
        if self.amount_max is not None:
            out.append(_bound("hs_amount_billed", "LTE", format(self.amount_max, "f")))
        prop = DATE_PROPERTIES.get(self.date_field, "hs_invoice_date")
        if self.date_from:
            out.append(_bound(prop, "GTE", _start(self.date_from.isoformat())))
        if self.date_to:
            out.append(_bound(prop, "LTE", _end(self.date_to.isoformat())))
        return out


def _eq(prop: str, value: str) -> dict[str, Any]:
    return {"propertyName": prop, "operator": "EQ", "value": value}


def _bound(prop: str, operator: str, value: str) -> dict[str, Any]:
    return {"propertyName": prop, "operator": operator, "value": value}


def _start(day: str) -> str:
    return f"{day}T00:00:00.000Z"


def _end(day: str) -> str:
    return f"{day}T23:59:59.999Z"


@dataclass(frozen=True)
class InvoiceSearchPage:
    """One page of an invoice search: the invoices, how many match in all, the next page."""

    invoices: list[InvoiceSummary]
    total: int
    next_after: str | None  # None past the last page, or past HubSpot's 10,000 cap


def _text_groups(q: str) -> list[dict[str, Any]]:
    """Filter groups (ORed) for what `query` does not search: company name, contact email, and
    the QuickBooks number (exactly: "1047" is QBO 1047, not every number containing 1047)."""
    token = q.replace("*", "")
    groups: list[dict[str, Any]] = [
        {
            "filters": [
                {
                    "propertyName": "hs_invoice_latest_company_name",
                    "operator": "CONTAINS_TOKEN",
                    "value": f"*{token}*",
                }
            ]
        },
        {
            "filters": [
                {
                    "propertyName": "hs_invoice_latest_contact_email",
                    "operator": "CONTAINS_TOKEN",
                    "value": f"*{token}*",
                }
            ]
        },
    ]
    if " " not in q:
        groups.append({"filters": [_eq(tr.QBO_DOC_NUMBER, q)]})
    return groups


class HubSpotReadModel:
    """The console's HubSpot reads (search, batch reads, associations, property definitions),
    answered as typed records."""

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api

    # ---- invoices -----------------------------------------------------------------------------
    async def search_invoices(
        self,
        where: InvoiceFilter,
        *,
        ids: Sequence[str] | None = None,
        text: str = "",
        sort: str = "created",
        descending: bool = True,
        limit: int = 25,
        after: str = "",
    ) -> InvoiceSearchPage:
        """One page of invoices; `ids`: only these (a text search's matches), `text`: HubSpot's
        own `query` (number, title, PO)."""
        body: dict[str, Any] = {
            "properties": list(INVOICE_SUMMARY_PROPERTIES),
            "sorts": [
                {
                    "propertyName": SORT_PROPERTIES.get(sort, "hs_createdate"),
                    "direction": "DESCENDING" if descending else "ASCENDING",
                }
            ],
            "limit": limit,
        }
        filters = where.search_filters()
        if ids is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "IN", "values": list(ids)})
        if filters:
            body["filterGroups"] = [{"filters": filters}]
        if text:
            body["query"] = text
        if after:
            body["after"] = after
        data = await self.api.search("invoices", body)
        invoices = [InvoiceSummary.from_record(r) for r in data.get("results") or []]
        next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if next_after is not None and str(next_after).isdigit() and int(next_after) >= SEARCH_CAP:
            next_after = (
                None  # HubSpot refuses to page past 10,000: narrower filters reach the rest
            )
        return InvoiceSearchPage(
            invoices, int(data.get("total") or 0), str(next_after) if next_after else None
        )

    async def invoice_text_matches(self, q: str, cap: int) -> tuple[list[str], bool]:
        """Ids of invoices the text matches anywhere (number, title, PO, company name, contact
        email, QuickBooks number), newest first, and whether either lookup had more than `cap`.
        Search cannot OR `query` with filters, so it is two searches."""
        newest = [{"propertyName": "hs_createdate", "direction": "DESCENDING"}]
        base = {"properties": ["hs_number"], "sorts": newest, "limit": cap}
        by_query, by_fields = await asyncio.gather(
            self.api.search("invoices", {**base, "query": q}),
            self.api.search("invoices", {**base, "filterGroups": _text_groups(q)}),
        )
        ids: dict[str, None] = {}
        capped = False
        for data in (by_query, by_fields):
            ids.update((str(r["id"]), None) for r in data.get("results") or [])
            capped = capped or int(data.get("total") or 0) > cap
        return list(ids), capped

    async def invoice_contacts(self, invoice_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each invoice's first contact (firstname, lastname, email, company), for a page of
        the index: two calls whatever the page size."""
        if not invoice_ids:
            return {}
        links = await self.api.associations("invoices", "contacts", list(invoice_ids))
        contact_ids = list(dict.fromkeys(c[0] for c in links.values() if c))
        if not contact_ids:
            return {}
        records = await self.api.batch_read(
            "contacts", contact_ids, ["firstname", "lastname", "email", "company"]
        )
        out: dict[str, dict[str, Any]] = {}
        for invoice_id, ids in links.items():
            record = records.get(ids[0]) if ids else None
            if record is not None:
                out[invoice_id] = dict(tr.props(record))
        return out

    async def invoices(self, invoice_ids: Sequence[str]) -> dict[str, InvoiceSummary]:
        """The invoices that exist among `invoice_ids`, by id."""
        if not invoice_ids:
            return {}
        records = await self.api.batch_read(
            "invoices", list(invoice_ids), list(INVOICE_SUMMARY_PROPERTIES)
        )
        return {i: InvoiceSummary.from_record(r) for i, r in records.items()}

    async def invoices_between(
        self, date_from: dt.date, date_to: dt.date
    ) -> tuple[list[InvoiceSummary], bool]:
        """Invoices dated in the range (inclusive), oldest first; True when capped."""
        records, capped = await self._range(
            "invoices", "hs_invoice_date", date_from, date_to, INVOICE_SUMMARY_PROPERTIES
        )
        return [InvoiceSummary.from_record(r) for r in records], capped

    # ---- payments -----------------------------------------------------------------------------
    async def payments_between(
        self, date_from: dt.date, date_to: dt.date
    ) -> tuple[list[PaymentSummary], bool]:
        """Commerce payments initiated in the range (inclusive), oldest first; True when capped."""
        records, capped = await self._range(
            "commerce_payments",
            "hs_initiated_date",
            date_from,
            date_to,
            PAYMENT_SUMMARY_PROPERTIES,
        )
        return [PaymentSummary.from_record(r) for r in records], capped

    async def payment_invoice_ids(self, payment_ids: Sequence[str]) -> dict[str, list[str]]:
        """The invoices each payment is associated with."""
        if not payment_ids:
            return {}
        return await self.api.associations("commerce_payments", "invoices", list(payment_ids))

    # ---- properties ---------------------------------------------------------------------------
    async def property_definitions(self, object_type: str = "invoices") -> list[PropertyDef]:
        return [PropertyDef.from_wire(p) for p in await self.api.properties(object_type)]

    async def _range(
        self,
        object_type: str,
        prop: str,
        date_from: dt.date,
        date_to: dt.date,
        properties: Sequence[str],
    ) -> tuple[list[dict[str, Any]], bool]:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        _bound(prop, "GTE", _start(date_from.isoformat())),
                        _bound(prop, "LTE", _end(date_to.isoformat())),
                    ]
                }
            ],
            "properties": list(properties),
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "limit": REPORT_PAGE,
        }
        out: list[dict[str, Any]] = []
        while True:
            data = await self.api.search(object_type, body)
            out.extend(data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after or len(out) >= SEARCH_CAP:
                return out, bool(after)
            body["after"] = after
