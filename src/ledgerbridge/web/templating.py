"""Jinja2 templates with the console's filters, and flash messages kept in the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from ledgerbridge.web import formatting
from ledgerbridge.web.security import console_user, csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(formatting.filters())
    env.globals["csrf_field"] = "csrf_token"
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A message shown once, on the next page rendered for this session."""
    messages = list(request.session.get("flash") or [])
    messages.append([kind, message])
    request.session["flash"] = messages[-5:]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    who = console_user(request)
    values: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf_token(request),
        "user": who.username if who else None,
        "role": who.role if who else None,
        "flashes": request.session.pop("flash", []) or [],
        "nav": request.url.path.split("/")[1] if request.url.path != "/" else "",
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
