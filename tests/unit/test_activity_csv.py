"""The Activity CSV export neutralises cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from ledgerbridge.web.services.history import HistoryEntry, activity_csv, safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Birch & Co", "Birch & Co"),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_cell(value: str | None, expected: str) -> None:
    assert safe_cell(value) == expected


def test_export_neutralises_every_column() -> None:
    entry = HistoryEntry(
        at=dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC),
        kind="console",
        title="=cmd|' /C calc'!A0",
        detail="@SUM(1)",
        who="+attacker",
        outcome="done",
        record="-1",
    )
    rows = list(csv.reader(io.StringIO(activity_csv([entry]))))
    assert rows[1] == [
        "2026-12-01 09:30:00",
        "Console action",
        "'+attacker",
        "'=cmd|' /C calc'!A0",
        "'-1",
        "done",
        "'@SUM(1)",
    ]
