"""/login and /logout."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.security import current_user, end_session, safe_next, start_session
from ledgerbridge.web.templating import render

router = APIRouter()


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if current_user(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/invoices"),
) -> Response:
    store = console_of(request).store
    # scrypt takes tens of milliseconds: off the event loop, so other users are not stalled.
    ok = await asyncio.to_thread(store.verify_password, username, password)
    if not ok:
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "username": username,
                "error": "That user name and password do not match.",
            },
            status_code=401,
        )
    start_session(request, username.strip())
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)
