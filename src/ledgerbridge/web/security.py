"""Login sessions, roles and CSRF protection.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous) and holds a random
session token and one random CSRF token. The session itself lives in the store
(`user_sessions`): logout, a password change or an expired session deletes it there, so a
copied cookie stops working at once. Each request looks the session up and checks the user's
role against what the request does (web/roles.py). Every request that changes something (any method but GET,
HEAD and OPTIONS) must carry that token, as the form field `csrf_token` or the header
`X-CSRF-Token`, or it gets 403: a page on another site cannot post to the console with the
user's cookie, because it cannot read the token. Every page except the login page requires a
logged-in user.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from urllib.parse import quote

from fastapi import HTTPException, Request

from ledgerbridge.store import UserInfo
from ledgerbridge.web.roles import refusal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
# An invitation link is opened by someone who has no login yet.
PUBLIC_PREFIXES = ("/invite/",)
SESSION_TTL = dt.timedelta(hours=12)
_UNRESOLVED = object()
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """Raised by the guard; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _store(request: Request) -> object:
    return request.app.state.console.store


def console_user(request: Request) -> UserInfo | None:
    """The logged-in user, looked up in the store once per request."""
    cached = getattr(request.state, "console_user", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached  # type: ignore[return-value]
    token = request.session.get("sid") if "session" in request.scope else None
    user = _store(request).session_user(str(token)) if token else None  # type: ignore[attr-defined]
    if token and user is None:
        request.session.clear()  # ended elsewhere (logout, password change) or expired
    request.state.console_user = user
    return user


def current_user(request: Request) -> str | None:
    user = console_user(request)
    return user.username if user else None


def start_session(request: Request, username: str) -> None:
    """A fresh session on login (a token planted before login is worthless after it)."""
    old = request.session.get("sid")
    if old:
        _store(request).end_session(str(old))  # type: ignore[attr-defined]
    token = _store(request).create_session(username, SESSION_TTL)  # type: ignore[attr-defined]
    request.session.clear()
    request.session["sid"] = token
    request.session["csrf"] = secrets.token_urlsafe(32)
    request.state.console_user = _store(request).get_user(username)  # type: ignore[attr-defined]


def end_session(request: Request) -> None:
    token = request.session.get("sid")
    if token:
        _store(request).end_session(str(token))  # type: ignore[attr-defined]
    request.session.clear()
    request.state.console_user = None


async def _submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached on the request: the route reads it again for free
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def guard(request: Request) -> None:
    """App-wide dependency: CSRF on every unsafe method, then login on every non-public path."""
    if request.method not in SAFE_METHODS:
        expected = request.session.get("csrf")
        submitted = await _submitted_token(request)
        if not expected or not submitted or not hmac.compare_digest(str(expected), submitted):
            raise HTTPException(
                status_code=403,
                detail="Missing or invalid CSRF token. Reload the page and try again.",
            )
    path = request.url.path
    user = console_user(request)
    if is_public(path):
        return
    if user is None:
        target = path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target if request.method in SAFE_METHODS else "/invoices")
    refused = refusal(user.role, request.method, path)
    if refused:
        raise HTTPException(status_code=403, detail=refused)


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """Only local paths: a login link cannot send the user to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")
