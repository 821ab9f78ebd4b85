"""Contacts and Companies lists: search, how many invoices each has, and what they still owe.

One HubSpot search per page (25 records), one association read for the page, one batch read of
those invoices: the cost of a page does not grow with the portal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.web.context import Console
from ledgerbridge.web.formatting import decimal_or_zero

PAGE = 25
KINDS = {
    "contacts": {
        "properties": ["firstname", "lastname", "email", "company"],
        "sort": "lastname",
        "singular": "contact",
    },
    "companies": {
        "properties": ["name", "domain", "city"],
        "sort": "name",
        "singular": "company",
    },
}


@dataclass
class DirectoryRow:
    id: str
    name: str
    detail: str
    invoices: int
    open_invoices: int
    outstanding: dict[str, Decimal] = field(default_factory=dict)  # per currency


@dataclass
class DirectoryPage:
    kind: str
    q: str
    rows: list[DirectoryRow]
    total: int
    after: int
    next_after: int | None


def _name(kind: str, p: dict[str, Any], record_id: str) -> tuple[str, str]:
    if kind == "contacts":
        name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x)
        return (name or p.get("email") or f"Contact {record_id}"), str(p.get("email") or "")
    return str(p.get("name") or f"Company {record_id}"), str(p.get("domain") or "")


async def directory(console: Console, kind: str, q: str, after: int) -> DirectoryPage:
    spec = KINDS[kind]
    body: dict[str, Any] = {
        "properties": spec["properties"],
        "sorts": [{"propertyName": spec["sort"], "direction": "ASCENDING"}],
        "limit": PAGE,
    }
    if q:
        body["query"] = q
    if after:
        body["after"] = str(after)
    data = await console.hubspot.search(kind, body)
    results = list(data.get("results") or [])
    ids = [str(r["id"]) for r in results]
    links = await console.hubspot.associations(kind, "invoices", ids) if ids else {}
    invoice_ids = list(dict.fromkeys(i for v in links.values() for i in v))
    invoices = (
        await console.hubspot.batch_read(
            "invoices",
            invoice_ids,
            ["hs_balance_due", "hs_currency", "hs_invoice_status"],
        )
        if invoice_ids
        else {}
    )
    rows = []
    for record in results:
        record_id = str(record["id"])
        name, detail = _name(kind, record.get("properties") or {}, record_id)
        owed: dict[str, Decimal] = defaultdict(Decimal)
        open_count = 0
        mine = [invoices[i] for i in links.get(record_id, []) if i in invoices]
        for inv in mine:
            p = inv.get("properties") or {}
            if p.get("hs_invoice_status") == "open":
                open_count += 1
                owed[str(p.get("hs_currency") or "USD")] += decimal_or_zero(p.get("hs_balance_due"))
        rows.append(DirectoryRow(record_id, name, detail, len(mine), open_count, dict(owed)))
    total = int(data.get("total") or 0)
    next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
    return DirectoryPage(
        kind=kind,
        q=q,
        rows=rows,
        total=total,
        after=after,
        next_after=int(next_after) if next_after and str(next_after).isdigit() else None,
    )
