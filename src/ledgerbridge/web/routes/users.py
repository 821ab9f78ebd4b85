"""Users: the admin's list with roles and one-time invitation links, a user's own password
change, and the invitation page a new user opens."""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.store.users import ROLES
from ledgerbridge.web.deps import client_address, console_of
from ledgerbridge.web.roles import ROLE_WORDS
from ledgerbridge.web.security import console_user, start_session
from ledgerbridge.web.templating import flash, render

router = APIRouter()

INVITE_TTL = dt.timedelta(days=7)
MIN_PASSWORD = 10


def _password_problem(password: str, confirm: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Choose a password of at least {MIN_PASSWORD} characters."
    if password != confirm:
        return "The two passwords differ; type the same one twice."
    return None


def _users_page(
    request: Request, invite_link: str | None = None, status_code: int = 200
) -> Response:
    store = console_of(request).store
    return render(
        request,
        "users/index.html",
        {
            "users": store.list_users(),
            "roles": ROLES,
            "role_words": ROLE_WORDS,
            "invite_link": invite_link,
            "invite_days": INVITE_TTL.days,
        },
        status_code=status_code,
    )


@router.get("/users")
async def users_page(request: Request) -> Response:
    return _users_page(request)


@router.post("/users/invite")
async def invite(request: Request, role: str = Form("viewer")) -> Response:
    if role not in ROLES:
        raise HTTPException(400, f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
    me = console_user(request)
    assert me is not None  # the guard let only a logged-in admin through
    token = console_of(request).store.create_invite(role, me.username, INVITE_TTL)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    # Shown once, on this response only: the store keeps just the token's hash.
    return _users_page(request, invite_link=link)


def _other_user(request: Request, username: str) -> None:
    me = console_user(request)
    if me is not None and me.username == username:
        raise HTTPException(
            400, "You cannot change your own role or remove yourself; ask another admin."
        )


@router.post("/users/{username}/role")
async def change_role(request: Request, username: str, role: str = Form(...)) -> Response:
    _other_user(request, username)
    if role not in ROLES:
        raise HTTPException(400, f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
    if not console_of(request).store.set_role(username, role):
        raise HTTPException(404, f"There is no user {username!r}.")
    flash(request, f"{username} is now {role}.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}/delete")
async def remove_user(request: Request, username: str) -> Response:
    _other_user(request, username)
    if not console_of(request).store.delete_user(username):
        raise HTTPException(404, f"There is no user {username!r}.")
    flash(request, f"{username} was removed; their sessions have ended.")
    return RedirectResponse("/users", status_code=303)


# ---- one's own account -------------------------------------------------------------------------
@router.get("/account")
async def account_page(request: Request) -> Response:
    return render(request, "users/account.html", {"error": None, "min_password": MIN_PASSWORD})


@router.post("/account/password")
async def change_password(
    request: Request,
    current: str = Form(""),
    password: str = Form(""),
    confirm: str = Form(""),
) -> Response:
    store = console_of(request).store
    me = console_user(request)
    assert me is not None
    problem = _password_problem(password, confirm)
    if problem is None and not await asyncio.to_thread(store.verify_password, me.username, current):
        problem = "Your current password is not right."
    if problem:
        return render(
            request,
            "users/account.html",
            {"error": problem, "min_password": MIN_PASSWORD},
            status_code=400,
        )
    store.set_password(me.username, password)  # ends every session of this user ...
    start_session(request, me.username)  # ... and this browser gets a new one
    flash(request, "Password changed. You were logged out everywhere else.")
    return RedirectResponse("/account", status_code=303)


# ---- invitation links (public: the invited person has no login yet) ----------------------------
def _invite_page(
    request: Request, token: str, role: str | None, error: str | None, username: str = ""
) -> Response:
    return render(
        request,
        "users/invite.html",
        {
            "token": token,
            "role": role,
            "role_words": ROLE_WORDS,
            "error": error,
            "username": username,
            "min_password": MIN_PASSWORD,
        },
        status_code=200 if role and not error else 400 if role else 404,
    )


@router.get("/invite/{token}")
async def invite_page(request: Request, token: str) -> Response:
    role = console_of(request).store.invite_role(token)
    return _invite_page(request, token, role, None)


@router.post("/invite/{token}")
async def accept_invite(
    request: Request,
    token: str,
    username: str = Form(""),
    password: str = Form(""),
    confirm: str = Form(""),
) -> Response:
    store = console_of(request).store
    role = store.invite_role(token)
    if role is None:
        return _invite_page(request, token, None, None)
    problem = _password_problem(password, confirm)
    if problem:
        return _invite_page(request, token, role, problem, username)
    try:
        user = await asyncio.to_thread(store.accept_invite, token, username, password)
    except ValueError as exc:
        return _invite_page(request, token, role, str(exc), username)
    store.record_event(
        "Accepted an invitation",
        username=user.username,
        detail={"role": user.role},
        client=client_address(request),
    )
    start_session(request, user.username)
    flash(request, f"Welcome, {user.username}. You are signed in as {user.role}.")
    return RedirectResponse("/", status_code=303)
