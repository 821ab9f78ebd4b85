"""/contacts and /companies: the lists (search, invoices, outstanding balance)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services.directory import directory
from ledgerbridge.web.templating import render

router = APIRouter()


async def _list(request: Request, kind: str) -> Response:
    q = str(request.query_params.get("q") or "").strip()[:200]
    raw_after = str(request.query_params.get("after") or "0")
    after = int(raw_after) if raw_after.isdigit() and int(raw_after) < 10_000 else 0
    page = await directory(console_of(request), kind, q, after)
    return render(request, "directory.html", {"page": page})


@router.get("/contacts")
async def contacts(request: Request) -> Response:
    return await _list(request, "contacts")


@router.get("/companies")
async def companies(request: Request) -> Response:
    return await _list(request, "companies")
