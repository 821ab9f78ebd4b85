"""/invoices/new: the create form, its pickers, and Save as draft / Finish."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ledgerbridge.errors import SyncError
from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services import invoice_create as svc
from ledgerbridge.web.services.invoice_index import CURRENCIES
from ledgerbridge.web.services.invoice_warnings import warnings as invoice_warnings
from ledgerbridge.web.templating import flash, render

router = APIRouter()


async def _form_page(
    request: Request,
    form: svc.InvoiceForm,
    status_code: int = 200,
    warnings: list[str] | None = None,
) -> Response:
    console = console_of(request)
    products = await svc.products(console)
    custom_defs = [d for d in await console.catalog.custom("invoices") if not d.read_only]
    related: dict[str, list[dict[str, str]]] = {"companies": [], "deals": []}
    if form.contact_id.isdigit():
        related = await svc.contact_related(console, form.contact_id)
    return render(
        request,
        "invoices/new.html",
        {
            "form": form,
            "products": products,
            "custom_defs": custom_defs,
            "currencies": CURRENCIES,
            "related": related,
            "warnings": warnings or [],
        },
        status_code=status_code,
    )


@router.get("/invoices/new")
async def new_invoice(request: Request) -> Response:
    form = svc.InvoiceForm.blank(console_of(request).clock().date())
    return await _form_page(request, form)


@router.post("/invoices/new")
async def create(request: Request) -> Response:
    console = console_of(request)
    custom_defs = [d for d in await console.catalog.custom("invoices") if not d.read_only]
    submitted = await request.form()
    form = svc.InvoiceForm.from_form(submitted, custom_defs)
    prepared = svc.prepare(form, await svc.products(console), custom_defs)
    if prepared is None:
        return await _form_page(request, form, status_code=400)
    doubts = invoice_warnings(form, prepared, console.clock().date())
    if doubts and submitted.get("confirm_warnings") != "1":
        return await _form_page(request, form, status_code=400, warnings=doubts)
    try:
        invoice_id = await svc.create_invoice(console, form, prepared)
    except SyncError as exc:
        form.errors.append(f"HubSpot refused the invoice: {exc.message}")
        return await _form_page(request, form, status_code=400)
    if form.action == "finish":
        flash(request, "Invoice finished. It syncs to QuickBooks in a moment.")
    else:
        flash(request, "Draft saved.")
    return RedirectResponse(f"/invoices?open={invoice_id}", status_code=303)


@router.post("/invoices/{invoice_id}/finish")
async def finish(request: Request, invoice_id: str) -> Response:
    """Finish a draft from its panel."""
    try:
        await svc.finish_invoice(console_of(request), invoice_id)
        flash(request, "Invoice finished. It syncs to QuickBooks in a moment.")
    except SyncError as exc:
        flash(request, f"HubSpot could not finish the invoice: {exc.message}", "error")
    return RedirectResponse(f"/invoices?open={invoice_id}", status_code=303)


@router.get("/invoices/new/contacts")
async def contacts(request: Request, q: str = "") -> Response:
    return JSONResponse(await svc.search_contacts(console_of(request), q))


@router.get("/invoices/new/contacts/{contact_id}/related")
async def related(request: Request, contact_id: str) -> Response:
    if not contact_id.isdigit():
        return JSONResponse({"companies": [], "deals": []})
    return JSONResponse(await svc.contact_related(console_of(request), contact_id))
