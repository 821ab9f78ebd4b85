"""Connecting and reconnecting: /connect, /settings/connections/..., /oauth/{side}/callback."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.errors import SyncError
from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services import connections as svc
from ledgerbridge.web.templating import flash, render

router = APIRouter()


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _check_side(side: str) -> None:
    if side not in svc.SIDES:
        raise HTTPException(404, "There is no such connection.")


@router.get("/connect")
async def connect_page(request: Request) -> Response:
    console = console_of(request)
    info = console.any_connection()
    if info is not None and console.connected:
        return RedirectResponse("/settings/sync", status_code=303)
    return render(
        request,
        "connect.html",
        {"starting": False, "info": info, "can_create": svc.can_create(console)},
    )


@router.post("/connect")
async def connect(request: Request) -> Response:
    """A first connection: HubSpot's consent, then QuickBooks' (the callback chains them)."""
    console = console_of(request)
    try:
        info = svc.create_connection(console, _base(request))
        url = svc.start_authorization(
            console, request.session, info, svc.missing_side(console, info) or "hubspot"
        )
    except SyncError as exc:
        flash(request, f"{exc.message}. {exc.hint}", "error")
        return RedirectResponse("/connect", status_code=303)
    return RedirectResponse(url, status_code=303)


@router.get("/settings/connections/{side}/reconnect")
async def reconnect_page(request: Request, side: str) -> Response:
    _check_side(side)
    console = console_of(request)
    info = console.any_connection()
    if info is None:
        return RedirectResponse("/connect", status_code=303)
    try:
        oauth = svc.client_for(console, info, side) is not None
    except SyncError:
        oauth = False
    return render(
        request,
        "settings/reconnect.html",
        {
            "side": side,
            "title": "HubSpot" if side == "hubspot" else "QuickBooks Online",
            "info": info,
            "private_app": side == "hubspot" and info.hubspot_auth_kind == "private_app",
            "sandbox": svc.is_sandbox(info),
            "oauth": oauth,
            "tab": "settings",
        },
    )


@router.get("/settings/connections/{side}/authorize")
async def authorize(request: Request, side: str) -> Response:
    _check_side(side)
    console = console_of(request)
    info = console.any_connection()
    if info is None:
        return RedirectResponse("/connect", status_code=303)
    try:
        url = svc.start_authorization(console, request.session, info, side)
    except SyncError as exc:
        flash(request, f"{exc.message}. {exc.hint}", "error")
        return RedirectResponse(f"/settings/connections/{side}/reconnect", status_code=303)
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/{side}/callback")
async def callback(request: Request, side: str) -> Response:
    _check_side(side)
    console = console_of(request)
    try:
        info = await svc.finish_authorization(
            console, request.session, side, dict(request.query_params)
        )
    except SyncError as exc:
        flash(request, f"{exc.message}. {exc.hint}", "error")
        return RedirectResponse(f"/settings/connections/{side}/reconnect", status_code=303)
    missing = svc.missing_side(console, info)
    if missing is not None:
        return RedirectResponse(
            svc.start_authorization(console, request.session, info, missing), status_code=303
        )
    flash(request, f"{'HubSpot' if side == 'hubspot' else 'QuickBooks'} is connected.")
    return RedirectResponse("/settings/sync", status_code=303)


@router.post("/settings/connections/hubspot/token")
async def save_token(request: Request, token: str = Form("")) -> Response:
    """A rotated HubSpot private-app token, pasted by the user."""
    console = console_of(request)
    info = console.any_connection()
    token = token.strip()
    if info is None or len(token) < 8:
        flash(request, "Paste the whole private app access token.", "error")
        return RedirectResponse("/settings/connections/hubspot/reconnect", status_code=303)
    try:
        await svc.save_private_app_token(console, info, token)
    except SyncError as exc:
        flash(request, f"{exc.message}. {exc.hint}", "error")
        return RedirectResponse("/settings/connections/hubspot/reconnect", status_code=303)
    flash(request, "Token saved. The sync uses it from now on.")
    return RedirectResponse("/settings/sync", status_code=303)


@router.post("/settings/connections/sandbox")
async def reconnect_sandbox(request: Request) -> Response:
    """The demo's sandboxes consent at once: reconnect both sides in one step."""
    console = console_of(request)
    info = console.any_connection()
    if info is None or not svc.is_sandbox(info):
        raise HTTPException(404, "This connection is not to the local sandboxes.")
    try:
        await svc.reconnect_sandboxes(console, info, _base(request))
    except SyncError as exc:
        flash(request, f"{exc.message}. {exc.hint}", "error")
        return RedirectResponse("/settings/sync", status_code=303)
    flash(request, "Reconnected to the HubSpot and QuickBooks sandboxes.")
    return RedirectResponse("/settings/sync", status_code=303)
