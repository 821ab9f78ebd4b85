"""/login and /logout, with login throttling.

Failed logins are counted per account and per client address (ThrottlePolicy): after a few,
each further failure blocks the key for a doubling delay, and enough of them lock it for the
window. While a key is blocked no password is checked at all, so the right password does not
log in either; every refusal is in the activity log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.store.access import ThrottlePolicy
from ledgerbridge.web.deps import client_address, console_of
from ledgerbridge.web.security import current_user, end_session, safe_next, start_session
from ledgerbridge.web.templating import render

router = APIRouter()

# An account is a narrow target (a few guesses, then doubling waits, locked at 10); an address
# may be a whole office behind one NAT, so it gets more room before it is slowed down.
ACCOUNT_POLICY = ThrottlePolicy(free=3, lockout=10)
ADDRESS_POLICY = ThrottlePolicy(free=10, lockout=50)


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if current_user(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"account:{username.strip().lower()}", f"address:{address}"


def _wait_words(wait: dt.timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


@router.post("/login")
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/dashboard"),
) -> Response:
    console = console_of(request)
    store = console.store
    address = client_address(request)
    account_key, address_key = _keys(username, address)
    name = username.strip()[:100] or None

    def refuse(message: str, status: int) -> Response:
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "username": username, "error": message},
            status_code=status,
        )

    blocked = store.login_wait([account_key, address_key])
    if blocked is not None:
        store.record_event(
            "Login refused: too many failed attempts",
            username=name,
            outcome="throttled",
            client=address,
        )
        wait = _wait_words(blocked)
        return refuse(
            f"Too many failed attempts. Wait {wait} and try again "
            "(an admin can also set a new password).",
            429,
        )
    # scrypt takes tens of milliseconds: off the event loop, so other users are not stalled.
    ok = await asyncio.to_thread(store.verify_password, username, password)
    if not ok:
        failures = store.record_login_failure(account_key, ACCOUNT_POLICY)
        store.record_login_failure(address_key, ADDRESS_POLICY)
        store.record_event(
            "Login failed: wrong user name or password",
            username=name,
            outcome="failed",
            detail={"failures": failures},
            client=address,
        )
        return refuse("That user name and password do not match.", 401)
    store.clear_login_failures(account_key)
    start_session(request, username.strip())
    store.record_event("Logged in", username=username.strip(), client=address)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    user = current_user(request)
    end_session(request)
    if user:
        console_of(request).store.record_event(
            "Logged out", username=user, client=client_address(request)
        )
    return RedirectResponse("/login", status_code=303)
