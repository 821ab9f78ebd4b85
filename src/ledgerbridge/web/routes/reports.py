"""/reports/payments and its CSV export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.domain import Side
from ledgerbridge.engine.payments import FEE_EXPENSE_ID
from ledgerbridge.engine.ports import PAYMENT, Link
from ledgerbridge.web.deps import console_of
from ledgerbridge.web.services.links import qbo_url
from ledgerbridge.web.services.reports import PaymentsReport, payments_csv, payments_report
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


async def _report(request: Request, date_from: dt.date, date_to: dt.date) -> PaymentsReport:
    """The report, with each payment's QuickBooks record and, where the sync booked its fees,
    the QuickBooks fee expense (read from the payments' links)."""
    console = console_of(request)
    connection = console.connection()

    def links(ids: Sequence[str]) -> Mapping[str, Link]:
        return console.store.get_links(console.connection_id, PAYMENT, Side.HUBSPOT, ids)

    def expenses(payment_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        out: dict[str, tuple[str, str | None]] = {}
        for payment_id, link in links(payment_ids).items():
            expense = link.extra.get(FEE_EXPENSE_ID)
            if expense:
                out[payment_id] = (str(expense), qbo_url(connection, "purchase", str(expense)))
        return out

    return await payments_report(
        console.hubspot_reads,
        date_from,
        date_to,
        payment_links=links,
        qbo_link=lambda kind, qbo_id: qbo_url(connection, kind, qbo_id),
        fee_expenses=expenses,
    )


@router.get("/reports/payments")
async def payments(request: Request) -> Response:
    date_from, date_to, errors = _range(request)
    report = await _report(request, date_from, date_to)
    return render(request, "reports/payments.html", {"report": report, "errors": errors})


@router.get("/reports/payments.csv")
async def payments_export(request: Request) -> Response:
    date_from, date_to, errors = _range(request)
    if errors:
        # A file is not read on screen: a range the page would correct and say so is refused
        # here, rather than exporting other dates than the ones asked for.
        return Response(
            "The payments export was not made: "
            + " ".join(errors)
            + " Use dates as YYYY-MM-DD, from before to, at most three years apart.\n",
            status_code=400,
            media_type="text/plain; charset=utf-8",
        )
    report = await _report(request, date_from, date_to)
    filename = f"payments-{date_from.isoformat()}-to-{date_to.isoformat()}.csv"
    return Response(
        payments_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
