"""The payments report's payout periods (pure): a payout date makes a period; payments without
one fall in the week of their date; only counted payments add up, per currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerbridge.web.services.reports import PaymentLine, payout_periods


def _line(
    pid: str,
    day: str,
    amount: str,
    *,
    payout: str | None = None,
    fee: str = "0",
    status: str = "succeeded",
    currency: str = "USD",
) -> PaymentLine:
    return PaymentLine(
        id=pid,
        date=dt.date.fromisoformat(day),
        invoices=[],
        customer="",
        processor="hs_payments",
        method="card",
        status=status,
        reference="",
        currency=currency,
        amount=Decimal(amount),
        processing_fee=Decimal(fee),
        platform_fee=Decimal(0),
        refunds=Decimal(0),
        payout_date=dt.date.fromisoformat(payout) if payout else None,
    )


def test_payments_group_by_payout_date_else_by_week() -> None:
    lines = [
        _line("1", "2027-03-02", "300.00", payout="2027-03-05", fee="8.70"),
        _line("2", "2027-03-03", "200.00", payout="2027-03-05", fee="5.80"),
        _line("3", "2027-03-10", "100.00"),  # Wednesday: the week of Monday 2027-03-08
        _line("4", "2027-03-14", "50.00"),  # Sunday: the same week
        _line("5", "2027-03-11", "70.00", status="failed"),  # not counted
        _line("6", "2027-03-04", "90.00", payout="2027-03-05", currency="EUR"),
    ]
    periods = payout_periods(lines)
    assert [(p.label, p.currency) for p in periods] == [
        ("Payout 2027-03-05", "EUR"),
        ("Payout 2027-03-05", "USD"),
        ("Week of 2027-03-08", "USD"),
    ]
    usd = periods[1]
    assert (usd.payments, usd.gross, usd.fees, usd.net) == (
        2,
        Decimal("500.00"),
        Decimal("14.50"),
        Decimal("485.50"),
    )
    week = periods[2]
    assert (week.payments, week.gross, week.net) == (2, Decimal("150.00"), Decimal("150.00"))
    assert lines[2].period_label == "Week of 2027-03-08"
