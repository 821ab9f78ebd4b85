"""/invoices (the index), /invoices/{id} (the panel), retry, sync now, the deal association
of a QuickBooks-created invoice, and the PDF."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import back, console_of
from ledgerbridge.web.security import current_user
from ledgerbridge.web.services import invoice_index as idx
from ledgerbridge.web.services.deal_link import DealLinkError, associate_deal, deal_picker
from ledgerbridge.web.services.history import invoice_history
from ledgerbridge.web.services.invoice_detail import invoice_state, load_invoice
from ledgerbridge.web.services.pdf import invoice_pdf
from ledgerbridge.web.templating import flash, render

router = APIRouter()


@router.get("/invoices")
async def index(request: Request) -> Response:
    console = console_of(request)
    query = idx.InvoiceQuery.from_params(request.query_params)
    page = await idx.search_invoices(console.hubspot_reads, query, console.clock().date())
    failing = idx.failing_invoice_count(console.store, console.connection_id)
    diverged = idx.diverged_invoice_count(console.store, console.connection_id)
    open_id = request.query_params.get("open")
    panel = await load_invoice(console, open_id) if open_id and open_id.isdigit() else None
    history = await invoice_history(console, panel.id) if panel else []
    return render(
        request,
        "invoices/index.html",
        {
            "query": query,
            "page": page,
            "failing": failing,
            "diverged": diverged,
            "panel": panel,
            "history": history,
            "deal_choices": await deal_picker(console, panel) if panel else None,
            "statuses": idx.STATUSES,
            "sync_filters": idx.SYNC_FILTERS,
            "currencies": idx.CURRENCIES,
            "page_sizes": idx.PAGE_SIZES,
            "here": str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        },
    )


@router.get("/invoices/{invoice_id}")
async def panel(request: Request, invoice_id: str, panel: int = 0) -> Response:
    if not invoice_id.isdigit():
        raise HTTPException(404, "There is no such invoice.")
    console = console_of(request)
    view = await load_invoice(console, invoice_id)
    if view is None:
        raise HTTPException(404, f"HubSpot has no invoice {invoice_id} (it may have been deleted).")
    template = "invoices/_panel.html" if panel else "invoices/detail.html"
    return render(
        request,
        template,
        {
            "invoice": view,
            "here": f"/invoices/{invoice_id}",
            "in_panel": bool(panel),
            "history": await invoice_history(console, invoice_id),
            "deal_choices": await deal_picker(console, view),
        },
    )


@router.post("/invoices/{invoice_id}/retry")
async def retry(request: Request, invoice_id: str, next: str = Form("")) -> Response:
    """Retry a failed invoice (or sync one the engine has not seen yet): the engine's next pass
    reads it again."""
    console = console_of(request)
    state, _link, key = invoice_state(console, invoice_id)
    if state is not None:
        console.store.retry(key)
        flash(request, "Retry requested. The invoice syncs again in a moment.")
    else:
        console.mark_invoice_dirty(invoice_id, "console: sync now")
        flash(request, "Sync requested.")
    return back(next, f"/invoices/{invoice_id}")


@router.post("/invoices/{invoice_id}/deal")
async def link_deal(
    request: Request, invoice_id: str, deal_id: str = Form(""), next: str = Form("")
) -> Response:
    """Associate a QuickBooks-created invoice with a deal (accountant or admin: the role
    check refuses a viewer before this runs; the activity log records who did it)."""
    if not invoice_id.isdigit():
        raise HTTPException(404, "There is no such invoice.")
    try:
        message = await associate_deal(
            console_of(request), invoice_id, deal_id, current_user(request) or "unknown user"
        )
    except DealLinkError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, message)
    return back(next, f"/invoices/{invoice_id}")


@router.get("/invoices/{invoice_id}/pdf")
async def pdf(request: Request, invoice_id: str) -> Response:
    if not invoice_id.isdigit():
        raise HTTPException(404, "There is no such invoice.")
    document = await invoice_pdf(console_of(request), invoice_id)
    if document is None:
        raise HTTPException(404, f"HubSpot has no invoice {invoice_id}.")
    content, filename, origin = document
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Ledgerbridge-Pdf-Source": origin,
        },
    )
