"""/reports/payments and its CSV export."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services.reports import payments_csv, payments_report
from ledgerbridge.web.templating import render

router = APIRouter()
MAX_RANGE = dt.timedelta(days=3 * 366)


def _range(request: Request) -> tuple[dt.date, dt.date, list[str]]:
    today = console_of(request).clock().date()
    errors: list[str] = []
    default_from = today.replace(day=1) - dt.timedelta(days=90)

    def parse(name: str, default: dt.date) -> dt.date:
        raw = request.query_params.get(name)
        if not raw:
            return default
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors.append(f"'{raw}' is not a date.")
            return default

    date_from, date_to = parse("from", default_from), parse("to", today)
    if date_to < date_from:
        errors.append("The end date is before the start date.")
        date_from, date_to = date_to, date_from
    if date_to - date_from > MAX_RANGE:
        errors.append("Report on at most three years at a time.")
        date_from = date_to - MAX_RANGE
    return date_from, date_to, errors


@router.get("/reports/payments")
async def payments(request: Request) -> Response:
    date_from, date_to, errors = _range(request)
    report = await payments_report(console_of(request).hubspot_reads, date_from, date_to)
    return render(request, "reports/payments.html", {"report": report, "errors": errors})


@router.get("/reports/payments.csv")
async def payments_export(request: Request) -> Response:
    date_from, date_to, _errors = _range(request)
    report = await payments_report(console_of(request).hubspot_reads, date_from, date_to)
    filename = f"payments-{date_from.isoformat()}-to-{date_to.isoformat()}.csv"
    return Response(
        payments_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
