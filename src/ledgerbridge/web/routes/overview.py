"""Several connections in one deployment: /overview (every connection's lag, queue, failures
and last reconciliation) and the connection switcher in the top bar.

The chosen connection is kept in the session; a small middleware puts it in a contextvar for
the request, and `Console.bundle()` serves that connection (the first one when none is chosen),
so every existing per-connection page follows the switcher without changing.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.security import safe_next
from ledgerbridge.web.templating import flash, render

router = APIRouter()
selected_connection: ContextVar[int | None] = ContextVar("console_connection", default=None)
SESSION_KEY = "connection_id"


class _SelectedConnection:
    """Reads the session's chosen connection into `selected_connection` for the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = None
        if scope["type"] == "http":
            raw = (scope.get("session") or {}).get(SESSION_KEY)
            chosen = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None
        token = selected_connection.set(chosen)
        try:
            await self.app(scope, receive, send)
        finally:
            selected_connection.reset(token)


def switcher(request: Request) -> dict[str, Any]:
    """For the top bar: every connection, and which one the pages show."""
    console = console_of(request)
    connections = console.store.list_connections()
    current = selected_connection.get()
    ids = [c.id for c in connections]
    if current not in ids:
        current = min(console.runtime.connections) if console.runtime.connections else None
    return {"connections": connections, "current": current}


def install(app: FastAPI) -> None:
    """Add the routes, the middleware (inside the session middleware) and the template hook."""
    app.include_router(router)
    app.add_middleware(_SelectedConnection)
    app.state.templates.env.globals["connection_switcher"] = switcher


@router.post("/connections/select")
async def select(
    request: Request, connection_id: int = Form(...), next: str = Form("/invoices")
) -> Response:
    console = console_of(request)
    info = console.store.get_connection(connection_id)
    if info is None:
        flash(request, f"There is no connection {connection_id}.", "error")
    else:
        request.session[SESSION_KEY] = info.id
        if info.id not in console.runtime.connections:
            flash(request, f"{info.name} is not usable right now: {info.status_message}", "error")
    return RedirectResponse(safe_next(next, "/invoices"), status_code=303)


def _age(seconds: float) -> str:
    if seconds <= 0:
        return "up to date"
    if seconds < 120:
        return f"{seconds:.0f} s behind"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min behind"
    return f"{seconds / 3600:.1f} h behind"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


@router.get("/overview")
def overview(request: Request) -> Response:  # sync: its queries run in a thread
    console = console_of(request)
    now = dt.datetime.now(dt.UTC)
    figures = console.store.ops_figures(now)
    runs = console.store.last_reconcile_runs()
    rows = []
    for info in console.store.list_connections():
        f = figures.get(info.id)
        run = runs.get(info.id)
        rows.append(
            {
                "info": info,
                "queued": f.queue_depth if f else 0,
                "in_flight": f.in_flight if f else 0,
                "lag": _age(f.lag_seconds if f else 0.0),
                "behind": bool(f and f.lag_seconds > 0),
                "synced": (f.states.get("synced", 0) if f else 0),
                "failing": sum((f.failing_by_category if f else {}).values()),
                "categories": sorted((f.failing_by_category if f else {}).items()),
                "usable": info.id in console.runtime.connections,
                "reconcile": run,
                "reconcile_age": _ago((now - run.started_at).total_seconds()) if run else "",
                "out_of_sync": (run.diverged + run.orphans + run.duplicates) if run else 0,
            }
        )
    return render(request, "overview.html", {"rows": rows, "nav": "overview"})
