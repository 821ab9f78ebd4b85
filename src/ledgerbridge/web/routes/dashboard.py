"""/dashboard: the landing page (sync health at a glance)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services import dashboard as dash
from ledgerbridge.web.templating import render

router = APIRouter()


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    console = console_of(request)
    board = dash.build(console, console.clock())
    # JSON inside a non-executed script element: the page's script reads it (CSP allows no
    # inline script). "</" is escaped so a label cannot close the element.
    data = json.dumps(dash.chart_data(board)).replace("</", "<\\/")
    return render(request, "dashboard.html", {"board": board, "chart_json": data})
