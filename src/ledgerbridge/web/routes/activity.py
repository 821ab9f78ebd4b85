"""/activity: what happened across all records (sync steps, conflict decisions, console
actions), with filters and a CSV export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services import history as hist
from ledgerbridge.web.templating import render

router = APIRouter()


@router.get("/activity")
async def activity_page(request: Request) -> Response:
    console = console_of(request)
    query = hist.ActivityQuery.from_params(request.query_params)
    entries = hist.activity(console, query)
    export = "/activity.csv" + ("?" + request.url.query if request.url.query else "")
    users = [u.username for u in console.store.list_users()]
    return render(
        request,
        "activity.html",
        {
            "query": query,
            "entries": entries,
            "kinds": hist.kinds_for_filter(),
            "users": users,
            "export": export,
            "kind_words": hist.KINDS,
        },
        status_code=400 if query.problems else 200,
    )


@router.get("/activity.csv")
async def activity_csv(request: Request) -> Response:
    console = console_of(request)
    query = hist.ActivityQuery.from_params(request.query_params)
    body = hist.activity_csv(hist.activity(console, query, limit=10_000))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="activity.csv"'},
    )
