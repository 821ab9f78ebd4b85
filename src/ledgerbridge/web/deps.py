"""Small helpers the routes share."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from ledgerbridge.web.context import Console
from ledgerbridge.web.security import safe_next


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def back(next_path: str | None, default: str) -> RedirectResponse:
    """303 to where the form came from (a local path only)."""
    return RedirectResponse(safe_next(next_path, default), status_code=303)


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: the proxy's, unless uvicorn's --proxy-headers
    trusts it and rewrites the client)."""
    return request.client.host if request.client else "unknown"
