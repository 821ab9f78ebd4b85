"""/reconciliation (runs, findings, CSV, Run now), /settings/sync/out-of-sync, and the
per-field choice on a diverged invoice."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.errors import SyncError
from ledgerbridge.reconciliation import reconcile_connection
from ledgerbridge.web.deps import back, console_of
from ledgerbridge.web.routes.settings_sync import MAX_PAGE, _record_link
from ledgerbridge.web.services.reconcile import (
    difference_rows,
    finding_views,
    findings_csv,
    resolve_field,
)
from ledgerbridge.web.templating import flash, render

router = APIRouter()
log = logging.getLogger(__name__)
RUNS_SHOWN = 20
FINDINGS_SHOWN = 500
OUT_OF_SYNC_PAGE = 25
RUN_WAIT = 20.0  # seconds "Run now" waits for the sweep before answering


@router.get("/reconciliation")
async def page(request: Request, run: int | None = None) -> Response:
    console = console_of(request)
    runs = console.store.list_reconcile_runs(console.connection_id, limit=RUNS_SHOWN)
    selected = None
    if run is not None:
        selected = console.store.get_reconcile_run(run)
        if selected is None or selected.connection_id != console.connection_id:
            raise HTTPException(404, f"There is no reconciliation run {run}.")
    elif runs:
        selected = runs[0]
    findings = []
    total = 0
    if selected is not None:
        total = console.store.count_reconcile_findings(selected.id)
        findings = finding_views(
            console, console.store.list_reconcile_findings(selected.id, limit=FINDINGS_SHOWN)
        )
    return render(
        request,
        "reconcile/index.html",
        {
            "nav": "reconciliation",
            "runs": runs,
            "selected": selected,
            "findings": findings,
            "findings_total": total,
            "settings": console.runtime.settings,
        },
    )


@router.get("/reconciliation/{run_id}.csv")
async def export(request: Request, run_id: int) -> Response:
    console = console_of(request)
    run = console.store.get_reconcile_run(run_id)
    if run is None or run.connection_id != console.connection_id:
        raise HTTPException(404, f"There is no reconciliation run {run_id}.")
    body = findings_csv(console.store.list_reconcile_findings(run_id, limit=1_000_000))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{run_id}.csv"'},
    )


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reconciliation from the console failed", exc_info=task.exception())


@router.post("/reconciliation/run")
async def run_now(request: Request, repair: str = Form("")) -> Response:
    """A full sweep now. The page waits for it up to RUN_WAIT seconds; a longer sweep goes on
    in the background and its figures appear here when it is done."""
    console = console_of(request)
    running: asyncio.Task[Any] | None = getattr(request.app.state, "reconcile_task", None)
    if running is not None and not running.done():
        flash(request, "A reconciliation is already running; its figures appear here when done.")
        return back(None, "/reconciliation")
    task = asyncio.create_task(
        reconcile_connection(console.runtime, console.bundle(), repair=repair == "on")
    )
    request.app.state.reconcile_task = task  # kept: a sweep outlives a slow request
    task.add_done_callback(_log_failure)
    done, _ = await asyncio.wait({task}, timeout=RUN_WAIT)
    if not done:
        flash(request, "The reconciliation is running; reload this page to see its figures.")
        return back(None, "/reconciliation")
    try:
        run_id, report = task.result()
    except SyncError as exc:
        flash(request, f"Reconciliation stopped: {exc.message}", "error")
        return back(None, "/reconciliation")
    flash(
        request,
        f"Reconciliation done: {report.checked} checked, {report.in_sync} in sync, "
        f"{report.repaired} repaired, {report.diverged} diverged, {report.orphans} orphans, "
        f"{report.duplicates} duplicates.",
    )
    return back(f"/reconciliation?run={run_id}", "/reconciliation")


@router.get("/settings/sync/out-of-sync")
async def out_of_sync(request: Request, page: int = 1) -> Response:
    console = console_of(request)
    page = min(max(1, page), MAX_PAGE)  # a huge ?page= would overflow the SQL offset
    result = console.store.find_states(
        console.connection_id,
        status=SyncStatus.DIVERGED,
        limit=OUT_OF_SYNC_PAGE,
        offset=(page - 1) * OUT_OF_SYNC_PAGE,
    )
    rows = [
        (row, *_record_link(console, row.state), difference_rows(row.state.differences))
        for row in result.rows
    ]
    return render(
        request,
        "settings/out_of_sync.html",
        {
            "rows": rows,
            "total": result.total,
            "page": page,
            "pages": max(1, (result.total + OUT_OF_SYNC_PAGE - 1) // OUT_OF_SYNC_PAGE),
            # Failing records are not "out of sync" but their two books may differ as well.
            "failing": console.store.list_failures(console.connection_id, limit=1).total,
            "tab": "out_of_sync",
        },
    )


@router.post("/invoices/{invoice_id}/resolve")
async def resolve(
    request: Request,
    invoice_id: str,
    field: str = Form(...),
    use: str = Form(...),
    next: str = Form(""),
) -> Response:
    if not invoice_id.isdigit() or use not in ("hubspot", "quickbooks"):
        raise HTTPException(400, "Choose HubSpot's or QuickBooks' value.")
    try:
        message = await resolve_field(console_of(request), invoice_id, field, Side(use))
    except (ValueError, SyncError) as exc:
        flash(request, getattr(exc, "message", None) or str(exc), "error")
    else:
        flash(request, message)
    return back(next, f"/invoices/{invoice_id}")
