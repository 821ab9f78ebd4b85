"""Contact, company and deal pages (each with its Invoices card), and the read-only view of a
QuickBooks record used when the QuickBooks web app is not available (local sandbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerbridge.web.context import Console
from ledgerbridge.web.services.invoice_index import InvoiceRow, invoice_row

CONTACT_FIELDS = (
    ("firstname", "First name"),
    ("lastname", "Last name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("company", "Company name"),
    ("jobtitle", "Job title"),
    ("lifecyclestage", "Lifecycle stage"),
    ("address", "Street address"),
    ("city", "City"),
    ("state", "State"),
    ("zip", "Postal code"),
    ("country", "Country"),
)
COMPANY_FIELDS = (
    ("name", "Name"),
    ("domain", "Domain"),
    ("phone", "Phone"),
    ("industry", "Industry"),
    ("address", "Street address"),
    ("city", "City"),
    ("state", "State"),
    ("zip", "Postal code"),
    ("country", "Country"),
)
DEAL_FIELDS = (
    ("dealname", "Name"),
    ("dealstage", "Stage"),
    ("pipeline", "Pipeline"),
    ("amount", "Amount"),
    ("closedate", "Close date"),
    # The roll-ups ledgerbridge keeps on the deal (engine/deals.py).
    ("ledgerbridge_invoice_count", "Invoices"),
    ("ledgerbridge_total_invoiced", "Total invoiced"),
    ("ledgerbridge_total_paid", "Total paid"),
    ("ledgerbridge_total_outstanding", "Outstanding"),
    ("ledgerbridge_invoice_currency", "Currency of the totals"),
    ("ledgerbridge_invoice_status", "Latest invoice status"),
    ("ledgerbridge_invoice_number", "Latest invoice"),
)


@dataclass
class RecordPage:
    kind: str  # contact | company | deal
    id: str
    title: str
    subtitle: str
    fields: list[tuple[str, str]]
    related: list[tuple[str, str, str]]  # (url, name, detail)
    related_title: str
    invoices: list[InvoiceRow]


async def _invoices(
    console: Console, from_type: str, record_id: str, also: list[str] | None = None
) -> list[InvoiceRow]:
    """The record's invoices; `also`: contact ids whose invoices belong here too (a company's
    page lists its contacts' invoices, including ones made in QuickBooks)."""
    ids = (await console.hubspot.associations(from_type, "invoices", [record_id])).get(
        record_id, []
    )
    if also:
        by_contact = await console.hubspot.associations("contacts", "invoices", also)
        ids = list(dict.fromkeys([*ids, *(i for c in also for i in by_contact.get(c, []))]))
    if not ids:
        return []
    invoices = await console.hubspot_reads.invoices(ids)
    today = console.clock().date()
    rows = [invoice_row(invoices[i], today) for i in ids if i in invoices]
    rows.sort(key=lambda r: (r.due_date is None, r.due_date), reverse=True)
    return rows


async def contact_page(console: Console, contact_id: str) -> RecordPage | None:
    record = await console.hubspot.get("contacts", contact_id, [f for f, _ in CONTACT_FIELDS])
    if record is None or record.get("archived"):
        return None
    p = record.get("properties") or {}
    company_ids = (await console.hubspot.associations("contacts", "companies", [contact_id])).get(
        contact_id, []
    )
    companies = (
        await console.hubspot.batch_read("companies", company_ids, ["name", "domain"])
        if company_ids
        else {}
    )
    related = [
        (
            f"/companies/{i}",
            str((companies[i].get("properties") or {}).get("name") or i),
            str((companies[i].get("properties") or {}).get("domain") or ""),
        )
        for i in company_ids
        if i in companies
    ]
    name = (
        " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x)
        or p.get("email")
        or f"Contact {contact_id}"
    )
    return RecordPage(
        "contact",
        contact_id,
        str(name),
        str(p.get("email") or ""),
        [(label, str(p[f])) for f, label in CONTACT_FIELDS if p.get(f)],
        related,
        "Companies",
        await _invoices(console, "contacts", contact_id),
    )


async def _contacts_of(
    console: Console, kind: str, record_id: str
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """A company's or deal's contact ids, and the first 100 of them read (name and email)."""
    ids = (await console.hubspot.associations(kind, "contacts", [record_id])).get(record_id, [])
    if not ids:
        return ids, {}
    read = await console.hubspot.batch_read(
        "contacts", ids[:100], ["firstname", "lastname", "email"]
    )
    return ids, read


async def company_page(console: Console, company_id: str) -> RecordPage | None:
    record = await console.hubspot.get("companies", company_id, [f for f, _ in COMPANY_FIELDS])
    if record is None or record.get("archived"):
        return None
    p = record.get("properties") or {}
    contact_ids, contacts = await _contacts_of(console, "companies", company_id)
    related = []
    for i in contact_ids:
        if i not in contacts:
            continue
        cp = contacts[i].get("properties") or {}
        name = (
            " ".join(x for x in (cp.get("firstname"), cp.get("lastname")) if x)
            or cp.get("email")
            or i
        )
        related.append((f"/contacts/{i}", str(name), str(cp.get("email") or "")))
    return RecordPage(
        "company",
        company_id,
        str(p.get("name") or f"Company {company_id}"),
        str(p.get("domain") or ""),
        [(label, str(p[f])) for f, label in COMPANY_FIELDS if p.get(f)],
        related,
        "Contacts",
        await _invoices(console, "companies", company_id, also=contact_ids[:100]),
    )


async def deal_page(console: Console, deal_id: str) -> RecordPage | None:
    record = await console.hubspot.get("deals", deal_id, [f for f, _ in DEAL_FIELDS])
    if record is None or record.get("archived"):
        return None
    p = record.get("properties") or {}
    contact_ids, contacts = await _contacts_of(console, "deals", deal_id)
    related = []
    for i in contact_ids:
        if i in contacts:
            cp = contacts[i].get("properties") or {}
            name = " ".join(x for x in (cp.get("firstname"), cp.get("lastname")) if x)
            related.append((f"/contacts/{i}", name or str(cp.get("email") or i), ""))
    return RecordPage(
        "deal",
        deal_id,
        str(p.get("dealname") or f"Deal {deal_id}"),
        str(p.get("dealstage") or ""),
        [(label, str(p[f])) for f, label in DEAL_FIELDS if p.get(f) not in (None, "")],
        related,
        "Contacts",
        await _invoices(console, "deals", deal_id),
    )


async def quickbooks_record(console: Console, entity: str, record_id: str) -> dict[str, Any] | None:
    """The record as QuickBooks' API returns it (Invoice or Payment)."""
    api = getattr(console.ledger, "api", None)
    if api is None:
        return None
    return await api.read(entity, record_id)  # type: ignore[no-any-return]
