"""The invoice history shows a run of equal sync outcomes once, with how many steps it covers."""

from __future__ import annotations

import datetime as dt

from ledgerbridge.web.services.history import HistoryEntry, collapse_repeats

T0 = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def _sync(seconds: int, title: str = "Synced to QuickBooks as 1042") -> HistoryEntry:
    return HistoryEntry(
        at=T0 + dt.timedelta(seconds=seconds),
        kind="sync",
        title=title,
        detail="from HubSpot",
        who="sync",
        outcome="synced",
    )


def test_a_run_of_equal_sync_steps_shows_once_with_its_count() -> None:
    entries = [_sync(3), _sync(2), _sync(1)]
    [shown] = collapse_repeats(entries)
    assert shown.at == T0 + dt.timedelta(seconds=3)
    assert shown.title == "Synced to QuickBooks as 1042"
    assert shown.detail == "from HubSpot (3 steps since 2026-05-01 12:00:01)"


def test_different_entries_keep_equal_ones_apart() -> None:
    change = HistoryEntry(
        at=T0 + dt.timedelta(seconds=2),
        kind="change",
        title="Due date changed to 2026-06-01",
        detail="in HubSpot",
        who="HubSpot",
        outcome="changed",
    )
    entries = [
        _sync(4),
        _sync(3),
        change,
        _sync(1),
        _sync(0, "Sync failed (validation), attempt 1"),
    ]
    shown = collapse_repeats(entries)
    assert [e.title for e in shown] == [
        "Synced to QuickBooks as 1042",
        "Due date changed to 2026-06-01",
        "Synced to QuickBooks as 1042",
        "Sync failed (validation), attempt 1",
    ]
    assert shown[0].detail.endswith("(2 steps since 2026-05-01 12:00:03)")
    assert shown[2].detail == "from HubSpot"
