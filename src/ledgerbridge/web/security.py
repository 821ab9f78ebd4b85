"""Login sessions and CSRF protection.

The session lives in a signed cookie (Starlette's SessionMiddleware, itsdangerous). It holds the
user name and one random CSRF token. Every request that changes something (any method but GET,
HEAD and OPTIONS) must carry that token, as the form field `csrf_token` or the header
`X-CSRF-Token`, or it gets 403: a page on another site cannot post to the console with the
user's cookie, because it cannot read the token. Every page except the login page requires a
logged-in user.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from fastapi import HTTPException, Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
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


def current_user(request: Request) -> str | None:
    user = request.session.get("user")
    return str(user) if user else None


def start_session(request: Request, username: str) -> None:
    """A fresh session on login (a token planted before login is worthless after it)."""
    request.session.clear()
    request.session["user"] = username
    request.session["csrf"] = secrets.token_urlsafe(32)


def end_session(request: Request) -> None:
    request.session.clear()


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
    if request.url.path not in PUBLIC_PATHS and current_user(request) is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target if request.method in SAFE_METHODS else "/invoices")


def safe_next(value: str | None, default: str = "/invoices") -> str:
    """Only local paths: a login link cannot send the user to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")
