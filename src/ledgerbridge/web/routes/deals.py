"""/deals: HubSpot deals with their invoices and totals invoiced, paid and outstanding."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services.deals import deals
from ledgerbridge.web.templating import render

router = APIRouter()


@router.get("/deals")
async def deal_list(request: Request) -> Response:
    q = str(request.query_params.get("q") or "").strip()[:200]
    raw_after = str(request.query_params.get("after") or "0")
    after = int(raw_after) if raw_after.isdigit() and int(raw_after) < 10_000 else 0
    page = await deals(console_of(request), q, after)
    return render(request, "deals.html", {"page": page})
