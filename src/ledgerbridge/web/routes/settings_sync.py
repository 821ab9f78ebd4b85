"""/settings/sync (health, objects, filters, mappings, policies) and /settings/sync/failing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.connectors.quickbooks.standard_fields import STANDARD_FIELDS
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, LEDGER_CREDIT, LEDGER_REFUND, PAYMENT
from ledgerbridge.errors import SyncError
from ledgerbridge.web.deps import back, console_of
from ledgerbridge.web.services import sync_settings as forms
from ledgerbridge.web.services.health import connection_health
from ledgerbridge.web.services.links import qbo_url
from ledgerbridge.web.templating import flash, render

router = APIRouter()
FAILING_PAGE = 50
MAX_PAGE = 1_000_000


async def _qbo_field_names(request: Request) -> list[str]:
    """The sales-form custom fields QBO has, then the standard invoice fields a mapping can
    target (TrackingNum, ShipDate, ShipMethodRef, ShipAddr, SalesTermRef)."""
    try:
        custom = [f.name for f in await console_of(request).ledger.custom_field_definitions()]
    except SyncError:
        return []
    return custom + [name for name in STANDARD_FIELDS if name not in custom]


async def _page(
    request: Request,
    settings: SyncSettings | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    rule_rows: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    settings = settings or console.sync_settings()
    custom_props = await console.catalog.custom("invoices")
    mappable = [
        d
        for d in await console.catalog.all("invoices")
        if d.custom
        or d.name in ("hs_purchase_order_number", "hs_title", "hs_comments", "hs_tax_id")
    ]
    return render(
        request,
        "settings/sync.html",
        {
            "settings": settings,
            "health": await connection_health(console),
            "errors": errors or {},
            "objects": forms.OBJECTS,
            "rules": rule_rows if rule_rows is not None else forms.rule_rows(settings),
            "filter_fields": forms.filter_fields(),
            "custom_props": custom_props,
            "ops": forms.OP_LABELS,
            "directions": forms.DIRECTION_LABELS,
            "doc_numbers": forms.DOC_NUMBER_LABELS,
            "doc_number_meanings": forms.DOC_NUMBER_MEANINGS,
            "product_policies": forms.PRODUCT_POLICY_LABELS,
            "match_keys": forms.MATCH_KEYS,
            "tax_code_mapping": forms.tax_code_mapping_text(settings),
            "mappable": mappable,
            "qbo_fields": await _qbo_field_names(request),
            "tab": "settings",
        },
        status_code=status_code,
    )


@router.get("/settings/sync")
async def sync_page(request: Request) -> Response:
    return await _page(request)


def _saved(request: Request, settings: SyncSettings, message: str, anchor: str) -> Response:
    console_of(request).save_sync_settings(settings)
    flash(request, message)
    return RedirectResponse(f"/settings/sync#{anchor}", status_code=303)


@router.post("/settings/sync/objects")
async def save_objects(request: Request) -> Response:
    result = forms.objects_from_form(console_of(request).sync_settings(), await request.form())
    assert result.settings is not None
    return _saved(request, result.settings, "Sync directions saved.", "objects")


@router.post("/settings/sync/filters")
async def save_filters(request: Request) -> Response:
    result, rows = forms.filters_from_form(
        console_of(request).sync_settings(), await request.form()
    )
    if result.settings is None:
        return await _page(
            request, errors={"filters": result.errors}, rule_rows=rows, status_code=400
        )
    return _saved(
        request,
        result.settings,
        "Invoice filters saved. They apply to invoices from now on.",
        "filters",
    )


@router.post("/settings/sync/mappings")
async def save_mappings(request: Request) -> Response:
    result = forms.mappings_from_form(
        console_of(request).sync_settings(), await request.form(), await _qbo_field_names(request)
    )
    if result.settings is None:
        return await _page(request, errors={"mappings": result.errors}, status_code=400)
    return _saved(request, result.settings, "Field mappings saved.", "mappings")


@router.post("/settings/sync/policies")
async def save_policies(request: Request) -> Response:
    result = forms.policies_from_form(console_of(request).sync_settings(), await request.form())
    if result.settings is None:
        return await _page(request, errors={"policies": result.errors}, status_code=400)
    return _saved(
        request,
        result.settings,
        "Sync rules saved. Retry failing invoices to apply them.",
        "policies",
    )


# ---- Failing to sync ----------------------------------------------------------------------------
def _record_link(console: Any, state: Any) -> tuple[str | None, bool]:
    """(url, external) of the record a failure is about."""
    key = state.key
    connection = console.connection()
    if key.object_type == INVOICE:
        if key.side is Side.HUBSPOT:
            return f"/invoices/{key.source_id}", False
        link = console.store.get_link(
            console.connection_id, INVOICE, Side.QUICKBOOKS, key.source_id
        )
        if link is not None and link.hubspot_id:
            return f"/invoices/{link.hubspot_id}", False
        url = qbo_url(connection, "invoice", key.source_id)
        return url, bool(url and url.startswith("http"))
    if key.object_type == PAYMENT and key.side is Side.QUICKBOOKS:
        url = qbo_url(connection, "payment", key.source_id)
        return url, bool(url and url.startswith("http"))
    if key.object_type in (LEDGER_REFUND, LEDGER_CREDIT):
        kind = "refundreceipt" if key.object_type == LEDGER_REFUND else "creditmemo"
        url = qbo_url(connection, kind, key.source_id)
        return url, bool(url and url.startswith("http"))
    if key.object_type == CUSTOMER:
        # A linked customer after creation: the contact's page (its id before any "@EUR").
        link = console.store.get_link(console.connection_id, CUSTOMER, key.side, key.source_id)
        contact = link.hubspot_id if link is not None else None
        if contact:
            return f"/contacts/{contact.split('@', 1)[0]}", False
    return None, False


async def _record_names(console: Any, rows: Any) -> dict[str, str]:
    """Invoice numbers for failures recorded before the engine knew the record's label (an
    error raised mid-step), read in one batch from HubSpot."""
    ids = [
        row.state.key.source_id
        for row in rows
        if row.state.key.object_type == INVOICE
        and row.state.key.side is Side.HUBSPOT
        and not row.state.label
    ]
    if not ids:
        return {}
    try:
        records = await console.hubspot.batch_read("invoices", ids, ["hs_number"])
    except SyncError:
        return {}
    # The bare number, as the rows labelled by the engine show it ("INV-1061").
    return {i: str((r.get("properties") or {}).get("hs_number") or i) for i, r in records.items()}


@router.get("/settings/sync/failing")
async def failing(request: Request, page: int = 1) -> Response:
    console = console_of(request)
    page = min(max(1, page), MAX_PAGE)  # a huge ?page= would overflow the SQL offset
    result = console.store.list_failures(
        console.connection_id, limit=FAILING_PAGE, offset=(page - 1) * FAILING_PAGE
    )
    rows = [(row, *_record_link(console, row.state)) for row in result.rows]
    return render(
        request,
        "settings/failing.html",
        {
            "rows": rows,
            "total": result.total,
            "page": page,
            "names": await _record_names(console, result.rows),
            "pages": max(1, (result.total + FAILING_PAGE - 1) // FAILING_PAGE),
            "tab": "failing",
        },
    )


@router.post("/settings/sync/failing/{state_id}/retry")
async def retry_one(request: Request, state_id: int, next: str = Form("")) -> Response:
    key = console_of(request).store.retry_by_id(state_id)
    if key is None:
        flash(request, "That record is no longer failing.", "error")
    else:
        flash(request, "Retry requested. It syncs again in a moment.")
    return back(next, "/settings/sync/failing")


@router.post("/settings/sync/failing/retry-all")
async def retry_all(request: Request, next: str = Form("")) -> Response:
    console = console_of(request)
    count = console.store.retry_all(console.connection_id)
    flash(request, f"Retry requested for {count} record{'s' if count != 1 else ''}.")
    return back(next, "/settings/sync/failing")
