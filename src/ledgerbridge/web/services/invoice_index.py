"""The invoice index: one HubSpot search per page.

HubSpot is the system of record for invoices, so the index asks it directly (filters, `query`,
one sort, `after` paging) instead of keeping a local copy: a page costs one search request (two
when some rows lack a customer name) however many invoices the portal holds. The search API
stops at 10,000 results; the page says so and asks for narrower filters beyond that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from ledgerbridge.connectors.hubspot.read_model import (
    DATE_PROPERTIES,
    SEARCH_CAP,
    SORT_PROPERTIES,
    HubSpotReadModel,
    InvoiceFilter,
)
from ledgerbridge.connectors.hubspot.summaries import InvoiceSummary
from ledgerbridge.domain import SyncStatus
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.store import SqlStore
from ledgerbridge.web.services.party import party

PAGE_SIZES = (25, 50, 100)

SORTS = tuple(SORT_PROPERTIES)
STATUSES = ("draft", "open", "overdue", "partially_paid", "paid", "voided")
# A text search matches number, title and PO (HubSpot's `query`) and, by filters, the company
# name, the contact's email and the QuickBooks number. Search cannot OR `query` with filters,
# so each side is looked up first (ids only, newest first, up to this many each) and the page
# is then one search over those ids with the other filters, sort and paging.
TEXT_MATCH_CAP = 100
SYNC_FILTERS = ("synced", "failed", "diverged", "pending", "blocked", "excluded", "none")
DATE_FIELDS = tuple(DATE_PROPERTIES)
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
            query._pick(params.get("date_field"), DATE_FIELDS, "Date field") or "invoice_date"
        )
        query.date_from = query._date(params.get("date_from"), "From date")
        query.date_to = query._date(params.get("date_to"), "To date")
        query.amount_min = query._amount(params.get("amount_min"), "Minimum amount")
        query.amount_max = query._amount(params.get("amount_max"), "Maximum amount")
        # Backwards ranges match nothing: say so rather than show an empty list unexplained.
        if query.date_from and query.date_to and query.date_to < query.date_from:
            query.problems.append("The To date is before the From date, so no invoice matches.")
        if (
            query.amount_min is not None
            and query.amount_max is not None
            and query.amount_max < query.amount_min
        ):
            query.problems.append(
                "The maximum amount is below the minimum amount, so no invoice matches."
            )
        query.sort = _choice(params.get("sort"), SORTS) or "created"
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
        if not value.is_finite():
            self.problems.append(f"{name} is not an amount")
            return None
        return value

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

    def where(self, today: dt.date | None = None) -> InvoiceFilter:
        """The filters of this query, for the HubSpot read model."""
        return InvoiceFilter(
            status=self.status,
            sync=self.sync,
            source=self.source,
            currency=self.currency,
            date_field=self.date_field,
            date_from=self.date_from,
            date_to=self.date_to,
            amount_min=self.amount_min,
            amount_max=self.amount_max,
            today=today,
        )


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


def invoice_row(
    invoice: InvoiceSummary, today: dt.date, contacts: dict[str, dict[str, Any]] | None = None
) -> InvoiceRow:
    """An index row; `contacts`: each invoice's first contact (name, email, company)."""
    who = party(invoice.company_name, (contacts or {}).get(invoice.id), invoice.contact_email)
    due = invoice.due_date
    return InvoiceRow(
        id=invoice.id,
        number=invoice.number or f"#{invoice.id}",
        customer=who.primary,
        contact=who.secondary,
        amount=invoice.amount_billed,
        balance=invoice.balance_due,
        currency=invoice.currency,
        status=invoice.status,
        payment_status=invoice.payment_status,
        due_date=due,
        source="QuickBooks" if invoice.from_quickbooks else "HubSpot",
        sync_status=invoice.sync_status,
        qbo_number=invoice.qbo_number,
        overdue=invoice.status == "open" and due is not None and due < today,
    )


async def search_invoices(
    reads: HubSpotReadModel, query: InvoiceQuery, today: dt.date
) -> InvoicePage:
    ids: list[str] | None = None
    if query.q:
        ids, capped = await reads.invoice_text_matches(query.q, TEXT_MATCH_CAP)
        if capped:
            query.problems.append(
                f"More than {TEXT_MATCH_CAP} invoices match {query.q!r}; the newest are shown. "
                "Type more of the name or number, or add filters."
            )
        if not ids:
            return InvoicePage([], 0, None, None, False, 0, 0)
    found = await reads.search_invoices(
        query.where(today),
        ids=ids,
        sort=query.sort,
        descending=query.direction != "asc",
        limit=query.limit,
        after=query.after,
    )
    contacts = await reads.invoice_contacts([i.id for i in found.invoices])
    rows = [invoice_row(i, today, contacts) for i in found.invoices]
    offset = int(query.after or 0)
    prev_after = None
    if offset > 0:
        prev_after = str(max(0, offset - query.limit))
    return InvoicePage(
        rows=rows,
        total=found.total,
        next_after=found.next_after,
        prev_after=prev_after,
        capped=found.total > SEARCH_CAP,
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
