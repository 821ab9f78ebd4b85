"""`create_app(runtime)`: the console as a FastAPI app.

Every route depends on `guard` (CSRF on unsafe methods, login everywhere but /login), added
app-wide so that a new route cannot forget it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.errors import SyncError
from ledgerbridge.web.audit import ActionAudit
from ledgerbridge.web.context import Console, NotConnected
from ledgerbridge.web.routes import (
    activity,
    auth,
    connections,
    dashboard,
    deals,
    directory,
    invoice_new,
    invoices,
    overview,
    payments,
    properties,
    reconcile,
    records,
    reports,
    settings_sync,
    users,
)
from ledgerbridge.web.security import SESSION_TTL, LoginRequired, guard, login_url
from ledgerbridge.web.services.connections import can_create
from ledgerbridge.web.templating import STATIC_DIR, make_templates, render

log = logging.getLogger(__name__)

SESSION_COOKIE = "ledgerbridge_session"
SESSION_MAX_AGE = int(SESSION_TTL.total_seconds())
# Everything the pages load comes from the console itself: no CDN, no inline script.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(runtime: Any, *, secure_cookies: bool = False) -> FastAPI:
    """The console for the runtime's (first) connection. `runtime` is what
    `ledgerbridge.bootstrap.build_runtime` returns (or a ready `Console`, for tests).
    `secure_cookies`: send the session cookie over HTTPS only (behind a TLS proxy)."""
    console = runtime if isinstance(runtime, Console) else Console(runtime)
    app = FastAPI(
        title="ledgerbridge console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.console = console
    app.state.templates = make_templates()

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.headers.get("accept", "").startswith("application/json"):
            return PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "title": _title(exc.status_code), "message": exc.detail},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        # A hand-edited link (?page=abc): say which value, not FastAPI's JSON.
        message = _validation_message(exc)
        if request.headers.get("accept", "").startswith("application/json"):
            return PlainTextResponse(message, status_code=400)
        return render(
            request,
            "error.html",
            {
                "status": 400,
                "title": "This link has a value the page cannot use",
                "message": message,
            },
            status_code=400,
        )

    @app.exception_handler(NotConnected)
    async def not_connected(request: Request, exc: NotConnected) -> Response:
        starting = not console.runtime.ready
        return render(
            request,
            "connect.html",
            {
                "starting": starting,
                "info": console.any_connection(),
                "can_create": can_create(console),
            },
            status_code=503,
        )

    @app.exception_handler(SyncError)
    async def upstream_error(request: Request, exc: SyncError) -> Response:
        # HubSpot or QuickBooks refused or could not be reached: say which, and what to do.
        log.warning("console request %s failed: %s", request.url.path, exc)
        return render(
            request,
            "error.html",
            {
                "status": 502,
                "title": "The other system did not answer as expected",
                "message": exc.message,
                "hint": exc.hint,
                "category": exc.category,
            },
            status_code=502,
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    # invoice_new before invoices: /invoices/new must not be taken for an invoice id.
    for module in (
        auth,
        connections,
        invoice_new,
        invoices,
        payments,
        records,
        settings_sync,
        properties,
        reports,
        reconcile,
        users,
        activity,
        dashboard,
        directory,
        deals,
    ):
        app.include_router(module.router)
    overview.install(app)  # /overview, the connection switcher (inside the session middleware)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    # Without a configured secret, sessions are signed with a key made for this process: they
    # end on restart, which is safe, and the user simply logs in again.
    app.add_middleware(ActionAudit, console=console)
    app.add_middleware(
        SessionMiddleware,
        secret_key=console.session_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    return app


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = str(error.get("loc", ("", "value"))[-1])
        value = error.get("input")
        expected = "a whole number" if "int" in str(error.get("type", "")) else "a valid value"
        shown = f"'{value}'" if isinstance(value, str) else "missing"
        parts.append(f"{name} is {shown}, not {expected}")
    return "; ".join(parts or ["a value is not valid"]) + ". Open the page again from the menu."


def _title(status: int) -> str:
    return {403: "Not allowed", 404: "Not found", 400: "Check the form"}.get(
        status, "Something went wrong"
    )
