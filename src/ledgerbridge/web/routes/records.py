"""/contacts/{id}, /companies/{id}, and /quickbooks/{invoices|payments|salesreceipts|purchases|...}/{id}."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services.records import (
    company_page,
    contact_page,
    deal_page,
    quickbooks_record,
)
from ledgerbridge.web.templating import render

router = APIRouter()


@router.get("/contacts/{contact_id}")
async def contact(request: Request, contact_id: str) -> Response:
    page = await contact_page(console_of(request), contact_id) if contact_id.isdigit() else None
    if page is None:
        raise HTTPException(404, f"HubSpot has no contact {contact_id}.")
    return render(request, "records/record.html", {"page": page})


@router.get("/companies/{company_id}")
async def company(request: Request, company_id: str) -> Response:
    page = await company_page(console_of(request), company_id) if company_id.isdigit() else None
    if page is None:
        raise HTTPException(404, f"HubSpot has no company {company_id}.")
    return render(request, "records/record.html", {"page": page})


@router.get("/deals/{deal_id}")
async def deal(request: Request, deal_id: str) -> Response:
    page = await deal_page(console_of(request), deal_id) if deal_id.isdigit() else None
    if page is None:
        raise HTTPException(404, f"HubSpot has no deal {deal_id}.")
    return render(request, "records/record.html", {"page": page})


@router.get("/quickbooks/{kind}/{record_id}")
async def quickbooks(request: Request, kind: str, record_id: str) -> Response:
    entity = {
        "invoices": "Invoice",
        "payments": "Payment",
        "salesreceipts": "SalesReceipt",
        "purchases": "Purchase",
        "refundreceipts": "RefundReceipt",
        "creditmemos": "CreditMemo",
    }.get(kind)
    if entity is None or not record_id.isdigit():
        raise HTTPException(404, "There is no such QuickBooks record.")
    console = console_of(request)
    record = await quickbooks_record(console, entity, record_id)
    if record is None:
        raise HTTPException(404, f"QuickBooks has no {entity.lower()} {record_id}.")
    hubspot_id = None
    if entity == "Invoice":
        link = console.store.get_link(console.connection_id, INVOICE, Side.QUICKBOOKS, record_id)
        hubspot_id = link.hubspot_id if link else None
    return render(
        request,
        "records/quickbooks.html",
        {"entity": entity, "record": record, "hubspot_id": hubspot_id},
    )
