"""The Deals list: search HubSpot deals, each with its invoices and what they add up to.

Totals are counted here from the invoices themselves (the same rule as the deal roll-up in
engine/deals.py: drafts and voided invoices left out), one sum per currency, so a deal whose
invoices have not synced yet, or were billed in two currencies, still adds up. One HubSpot
search per page (25 deals), one association read, one batch read of those invoices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.web.context import Console
from ledgerbridge.web.formatting import decimal_or_zero

PAGE = 25
DEAL_PROPERTIES = ["dealname", "dealstage", "amount", "closedate"]
INVOICE_PROPERTIES = [
    "hs_number",
    "hs_invoice_status",
    "hs_currency",
    "hs_amount_billed",
    "hs_amount_paid",
    "hs_balance_due",
    tr.QBO_DOC_NUMBER,
]
NOT_COUNTED = ("draft", "voided")
# HubSpot's default sales pipeline stages, in the words its own pages use.
STAGE_WORDS = {
    "appointmentscheduled": "Appointment scheduled",
    "qualifiedtobuy": "Qualified to buy",
    "presentationscheduled": "Presentation scheduled",
    "decisionmakerboughtin": "Decision maker bought in",
    "contractsent": "Contract sent",
    "closedwon": "Closed won",
    "closedlost": "Closed lost",
}


@dataclass
class DealInvoice:
    id: str
    number: str
    qbo_number: str
    status: str
    currency: str
    amount: Decimal
    balance: Decimal


@dataclass
class DealTotals:
    invoiced: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    outstanding: Decimal = Decimal(0)


@dataclass
class DealRow:
    id: str
    name: str
    stage: str
    invoices: list[DealInvoice]
    totals: dict[str, DealTotals] = field(default_factory=dict)  # per currency


@dataclass
class DealPage:
    q: str
    rows: list[DealRow]
    total: int
    after: int
    next_after: int | None


def _invoice(record: dict[str, Any]) -> DealInvoice:
    p = record.get("properties") or {}
    return DealInvoice(
        id=str(record["id"]),
        number=str(p.get("hs_number") or f"#{record['id']}"),
        qbo_number=str(p.get(tr.QBO_DOC_NUMBER) or ""),
        status=str(p.get("hs_invoice_status") or "draft"),
        currency=str(p.get("hs_currency") or "USD"),
        amount=decimal_or_zero(p.get("hs_amount_billed")),
        balance=decimal_or_zero(p.get("hs_balance_due")),
    )


def totals(records: list[dict[str, Any]]) -> dict[str, DealTotals]:
    out: dict[str, DealTotals] = defaultdict(DealTotals)
    for record in records:
        p = record.get("properties") or {}
        if str(p.get("hs_invoice_status") or "draft") in NOT_COUNTED:
            continue
        t = out[str(p.get("hs_currency") or "USD")]
        t.invoiced += decimal_or_zero(p.get("hs_amount_billed"))
        t.paid += decimal_or_zero(p.get("hs_amount_paid"))
        t.outstanding += decimal_or_zero(p.get("hs_balance_due"))
    return dict(out)


async def deals(console: Console, q: str, after: int) -> DealPage:
    body: dict[str, Any] = {
        "properties": DEAL_PROPERTIES,
        "sorts": [{"propertyName": "hs_createdate", "direction": "DESCENDING"}],
        "limit": PAGE,
    }
    if q:
        body["query"] = q
    if after:
        body["after"] = str(after)
    data = await console.hubspot.search("deals", body)
    results = list(data.get("results") or [])
    ids = [str(r["id"]) for r in results]
    links = await console.hubspot.associations("deals", "invoices", ids) if ids else {}
    invoice_ids = list(dict.fromkeys(i for v in links.values() for i in v))
    invoices = (
        await console.hubspot.batch_read("invoices", invoice_ids, INVOICE_PROPERTIES)
        if invoice_ids
        else {}
    )
    rows = []
    for record in results:
        deal_id = str(record["id"])
        p = record.get("properties") or {}
        mine = [invoices[i] for i in links.get(deal_id, []) if i in invoices]
        rows.append(
            DealRow(
                id=deal_id,
                name=str(p.get("dealname") or f"Deal {deal_id}"),
                stage=STAGE_WORDS.get(str(p.get("dealstage") or ""), str(p.get("dealstage") or "")),
                invoices=sorted((_invoice(r) for r in mine), key=lambda i: i.number),
                totals=totals(mine),
            )
        )
    next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
    return DealPage(
        q=q,
        rows=rows,
        total=int(data.get("total") or 0),
        after=after,
        next_after=int(next_after) if next_after and str(next_after).isdigit() else None,
    )
