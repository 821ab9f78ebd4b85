"""The invoice index: one HubSpot search per page.

HubSpot is the system of record for invoices, so the index asks it directly (filters, `query`,
one sort, `after` paging) instead of keeping a local copy: a page costs one search request (two
when some rows lack a customer name) however many invoices the portal holds. The search API
stops at 10,000 results; the page says so and asks for narrower filters beyond that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.domain import SyncStatus
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.store import SqlStore
from ledgerbridge.web.formatting import decimal_or_zero, to_date
from ledgerbridge.web.services.party import party

SEARCH_CAP = 10_000
PAGE_SIZES = (25, 50, 100)
DATA_SYNC = "data_sync"  # hs_invoice_source of invoices the sync brought in from QuickBooks

INDEX_PROPERTIES = (
    "hs_number",
    "hs_title",
    "hs_currency",
    "hs_amount_billed",
    "hs_balance_due",
    "hs_amount_paid",
    "hs_invoice_status",
    "hs_payment_status",
    "hs_due_date",
    "hs_invoice_date",
    "hs_invoice_source",
    "hs_invoice_latest_contact_email",
    "hs_invoice_latest_company_name",
    "hs_createdate",
    tr.SYNC_STATUS,
    tr.QBO_DOC_NUMBER,
    tr.QBO_INVOICE_ID,
)
SORTS = {
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
STATUSES = ("draft", "open", "overdue", "partially_paid", "paid", "voided")
# A text search matches number, title and PO (HubSpot's `query`) and, by filters, the company
# name, the contact's email and the QuickBooks number. Search cannot OR `query` with filters,
# so each side is looked up first (ids only, newest first, up to this many each) and the page
# is then one search over those ids with the other filters, sort and paging.
TEXT_MATCH_CAP = 100
SYNC_FILTERS = ("synced", "failed", "diverged", "pending", "blocked", "excluded", "none")
DATE_FIELDS = {"invoice_date": "hs_invoice_date", "due_date": "hs_due_date"}
CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "NZD",
    "CHF",
    "JPY",
    "SEK",
    "NOK",
    "DKK",
    "MXN",
    "INR",
)


@dataclass
class InvoiceQuery:
    """The index's query string, parsed and bounded."""

    q: str = ""
    status: str = ""
    sync: str = ""
    source: str = ""
    currency: str = ""
    date_field: str = "invoice_date"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    sort: str = "created"
    direction: str = "desc"
    after: str = ""
    limit: int = 25
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Any) -> InvoiceQuery:
        query = cls()
        query.q = str(params.get("q") or "").strip()[:200]
        query.status = query._pick(params.get("status"), STATUSES, "Status")
        query.sync = query._pick(params.get("sync"), SYNC_FILTERS, "Sync status")
        query.source = query._pick(params.get("source"), ("hubspot", "quickbooks"), "Source")
        query.currency = query._pick(
            str(params.get("currency") or "").upper(), CURRENCIES, "Currency"
        )
        query.date_field = (
            query._pick(params.get("date_field"), tuple(DATE_FIELDS), "Date field")
            or "invoice_date"
        )
        query.date_from = query._date(params.get("date_from"), "From date")
        query.date_to = query._date(params.get("date_to"), "To date")
        query.amount_min = query._amount(params.get("amount_min"), "Minimum amount")
        query.amount_max = query._amount(params.get("amount_max"), "Maximum amount")
        query.sort = _choice(params.get("sort"), tuple(SORTS)) or "created"
        query.direction = "asc" if params.get("dir") == "asc" else "desc"
        after = str(params.get("after") or "")
        query.after = after if after.isdigit() else ""
        try:
            limit = int(params.get("limit") or 25)
        except ValueError:
            limit = 25
        query.limit = limit if limit in PAGE_SIZES else 25
        return query

    def _pick(self, raw: Any, allowed: tuple[str, ...], name: str) -> str:
        """The value if allowed; otherwise a problem shown on the page (never silently ignored:
        a list that looks filtered but is not would mislead)."""
        text = str(raw or "")
        if text and text not in allowed:
            self.problems.append(
                f"{name} {text!r} is not one of: {', '.join(allowed)}. The filter was not applied."
            )
            return ""
        return text

    def _date(self, raw: Any, name: str) -> dt.date | None:
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            self.problems.append(f"{name} is not a date")
            return None

    def _amount(self, raw: Any, name: str) -> Decimal | None:
        if raw in (None, ""):
            return None
        try:
            value = Decimal(str(raw).replace(",", "").strip())
        except InvalidOperation:
            self.problems.append(f"{name} is not an amount")
            return None
        return value if value.is_finite() else None

    @property
    def advanced(self) -> bool:
        """True when a filter from the advanced panel is in use (the panel opens)."""
        return bool(
            self.source
            or self.currency
            or self.date_from
            or self.date_to
            or self.amount_min is not None
            or self.amount_max is not None
        )

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "q": self.q,
            "status": self.status,
            "sync": self.sync,
            "source": self.source,
            "currency": self.currency,
            "date_field": self.date_field if (self.date_from or self.date_to) else "",
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "amount_min": "" if self.amount_min is None else format(self.amount_min, "f"),
            "amount_max": "" if self.amount_max is None else format(self.amount_max, "f"),
            "sort": self.sort if self.sort != "created" else "",
            "dir": self.direction if self.direction != "desc" else "",
            "limit": str(self.limit) if self.limit != 25 else "",
            "after": self.after,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return "/invoices" + ("?" + urlencode(params) if params else "")

    def sort_url(self, key: str) -> str:
        direction = "asc" if self.sort == key and self.direction == "desc" else "desc"
        return self.url(sort=key, dir=direction, after="")

    # ---- HubSpot search body -----------------------------------------------------------------
    def filters(self, today: dt.date | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.status == "overdue":  # open with a due date before today, as the rows show it
            day = (today or dt.date.today()).isoformat()
            out.append({"propertyName": "hs_invoice_status", "operator": "EQ", "value": "open"})
            out.append(
                {"propertyName": "hs_due_date", "operator": "LT", "value": f"{day}T00:00:00.000Z"}
            )
        elif self.status == "partially_paid":
            out.append(
                {"propertyName": "hs_payment_status", "operator": "EQ", "value": "partially_paid"}
            )
        elif self.status:
            out.append(
                {"propertyName": "hs_invoice_status", "operator": "EQ", "value": self.status}
            )
        if self.sync == "none":
            out.append({"propertyName": tr.SYNC_STATUS, "operator": "NOT_HAS_PROPERTY"})
        elif self.sync:
            out.append({"propertyName": tr.SYNC_STATUS, "operator": "EQ", "value": self.sync})
        if self.source == "quickbooks":
            out.append({"propertyName": "hs_invoice_source", "operator": "EQ", "value": DATA_SYNC})
        elif self.source == "hubspot":
            out.append({"propertyName": "hs_invoice_source", "operator": "NEQ", "value": DATA_SYNC})
        if self.currency:
            out.append({"propertyName": "hs_currency", "operator": "EQ", "value": self.currency})
        if self.amount_min is not None:
            out.append(
                {
                    "propertyName": "hs_amount_billed",
                    "operator": "GTE",
                    "value": format(self.amount_min, "f"),
                }
            )
        if self.amount_max is not None:
            out.append(
                {
                    "propertyName": "hs_amount_billed",
                    "operator": "LTE",
                    "value": format(self.amount_max, "f"),
                }
            )
        prop = DATE_FIELDS[self.date_field]
        if self.date_from:
            out.append(
                {
                    "propertyName": prop,
                    "operator": "GTE",
                    "value": f"{self.date_from.isoformat()}T00:00:00.000Z",
                }
            )
        if self.date_to:
            out.append(
                {
                    "propertyName": prop,
                    "operator": "LTE",
                    "value": f"{self.date_to.isoformat()}T23:59:59.999Z",
                }
            )
        return out

    def search_body(
        self, today: dt.date | None = None, ids: list[str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "properties": list(INDEX_PROPERTIES),
            "sorts": [
                {
                    "propertyName": SORTS[self.sort],
                    "direction": "ASCENDING" if self.direction == "asc" else "DESCENDING",
                }
            ],
            "limit": self.limit,
        }
        filters = self.filters(today)
        if ids is not None:  # the text search's matches (see TEXT_MATCH_CAP)
            filters.append({"propertyName": "hs_object_id", "operator": "IN", "values": ids})
        if filters:
            body["filterGroups"] = [{"filters": filters}]
        if self.q and ids is None:
            body["query"] = self.q
        if self.after:
            body["after"] = self.after
        return body


@dataclass
class InvoiceRow:
    id: str
    number: str
    customer: str  # the company, else the contact (services/party.py)
    contact: str  # the contact beside the company; empty when the contact is the customer
    amount: Decimal
    balance: Decimal
    currency: str
    status: str
    payment_status: str
    due_date: dt.date | None
    source: str  # "HubSpot" | "QuickBooks"
    sync_status: str
    qbo_number: str
    overdue: bool


@dataclass
class InvoicePage:
    rows: list[InvoiceRow]
    total: int
    next_after: str | None
    prev_after: str | None
    capped: bool
    first: int
    last: int


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value or "")
    return text if text in allowed else ""


def row_from_record(
    record: dict[str, Any], today: dt.date, contacts: dict[str, dict[str, Any]]
) -> InvoiceRow:
    p = record.get("properties") or {}
    currency = str(p.get("hs_currency") or "USD")
    status = str(p.get("hs_invoice_status") or "draft")
    due = to_date(p.get("hs_due_date"))
    who = party(
        p.get("hs_invoice_latest_company_name"),
        contacts.get(str(record["id"])),
        p.get("hs_invoice_latest_contact_email"),
    )
    return InvoiceRow(
        id=str(record["id"]),
        number=str(p.get("hs_number") or f"#{record['id']}"),
        customer=who.primary,
        contact=who.secondary,
        amount=decimal_or_zero(p.get("hs_amount_billed")),
        balance=decimal_or_zero(p.get("hs_balance_due")),
        currency=currency,
        status=status,
        payment_status=str(p.get("hs_payment_status") or ""),
        due_date=due,
        source="QuickBooks" if p.get("hs_invoice_source") == DATA_SYNC else "HubSpot",
        sync_status=str(p.get(tr.SYNC_STATUS) or ""),
        qbo_number=str(p.get(tr.QBO_DOC_NUMBER) or ""),
        overdue=status == "open" and due is not None and due < today,
    )


async def _contacts(api: HubSpotApi, invoice_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each invoice's first contact (name, email, company), for the page's rows: two calls
    whatever the page size."""
    if not invoice_ids:
        return {}
    links = await api.associations("invoices", "contacts", invoice_ids)
    contact_ids = list(dict.fromkeys(c[0] for c in links.values() if c))
    if not contact_ids:
        return {}
    records = await api.batch_read(
        "contacts", contact_ids, ["firstname", "lastname", "email", "company"]
    )
    out: dict[str, dict[str, Any]] = {}
    for invoice_id, ids in links.items():
        record = records.get(ids[0]) if ids else None
        if record is not None:
            out[invoice_id] = dict(record.get("properties") or {})
    return out


def _text_groups(q: str) -> list[dict[str, Any]]:
    """Filter groups (ORed) for what `query` does not search: company name, contact email, and
    the QuickBooks number (exactly: "1047" is QBO 1047, not every number containing 1047)."""
    token = q.replace("*", "")
    groups = [
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
        groups.append(
            {"filters": [{"propertyName": tr.QBO_DOC_NUMBER, "operator": "EQ", "value": q}]}
        )
    return groups


async def text_matches(api: HubSpotApi, q: str) -> tuple[list[str], bool]:
    """Ids of invoices the text matches anywhere (newest first), and whether either lookup had
    more than TEXT_MATCH_CAP matches."""
    newest = [{"propertyName": "hs_createdate", "direction": "DESCENDING"}]
    base = {"properties": ["hs_number"], "sorts": newest, "limit": TEXT_MATCH_CAP}
    by_query, by_fields = await asyncio.gather(
        api.search("invoices", {**base, "query": q}),
        api.search("invoices", {**base, "filterGroups": _text_groups(q)}),
    )
    ids: dict[str, None] = {}
    capped = False
    for data in (by_query, by_fields):
        ids.update((str(r["id"]), None) for r in data.get("results") or [])
        capped = capped or int(data.get("total") or 0) > TEXT_MATCH_CAP
    return list(ids), capped


async def search_invoices(api: HubSpotApi, query: InvoiceQuery, today: dt.date) -> InvoicePage:
    ids: list[str] | None = None
    if query.q:
        ids, capped = await text_matches(api, query.q)
        if capped:
            query.problems.append(
                f"More than {TEXT_MATCH_CAP} invoices match {query.q!r}; the newest are shown. "
                "Type more of the name or number, or add filters."
            )
        if not ids:
            return InvoicePage([], 0, None, None, False, 0, 0)
    data = await api.search("invoices", query.search_body(today, ids))
    results = list(data.get("results") or [])
    total = int(data.get("total") or 0)
    contacts = await _contacts(api, [str(r["id"]) for r in results])
    rows = [row_from_record(r, today, contacts) for r in results]
    next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
    if next_after is not None and str(next_after).isdigit() and int(next_after) >= SEARCH_CAP:
        next_after = None  # HubSpot refuses to page past 10,000: narrower filters reach the rest
    offset = int(query.after or 0)
    prev_after = None
    if offset > 0:
        prev_after = str(max(0, offset - query.limit))
    return InvoicePage(
        rows=rows,
        total=total,
        next_after=str(next_after) if next_after else None,
        prev_after=prev_after,
        capped=total > SEARCH_CAP,
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
    )


def failing_invoice_count(store: SqlStore, connection_id: int) -> int:
    return store.find_states(
        connection_id, status=SyncStatus.FAILED, object_type=INVOICE, limit=1
    ).total


def diverged_invoice_count(store: SqlStore, connection_id: int) -> int:
    return store.find_states(
        connection_id, status=SyncStatus.DIVERGED, object_type=INVOICE, limit=1
    ).total
