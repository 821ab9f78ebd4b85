"""The dashboard's summary of the step log (SqlStore.step_summary), on SQLite and PostgreSQL:
counts per day and the sync lag of each synced step, with the lag measured from the first step
after the record's previous sync, else from when the record was first seen."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey, StoredSyncState
from ledgerbridge.store import SqlStore
from ledgerbridge.store.models import SyncStepRow

DAY0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _step(conn: int, kind: str, source_id: str, status: str, at: dt.datetime, **extra: str) -> dict:
    return {
        "connection_id": conn,
        "object_type": kind,
        "side": "hubspot",
        "source_id": source_id,
        "status": status,
        "category": extra.get("category"),
        "message": None,
        "attempts": 0,
        "counterpart_id": None,
        "counterpart_number": None,
        "at": at,
    }


def test_counts_and_lags(store: SqlStore) -> None:
    conn = store.create_connection(f"summary-{uuid.uuid4().hex[:8]}").id
    first_seen = DAY0 + dt.timedelta(hours=1)
    store.set_states(
        [
            StoredSyncState(
                key=RecordKey(conn, PAYMENT, Side.HUBSPOT, "p1"),
                status=SyncStatus.SYNCED,
                first_seen_at=first_seen,
            )
        ]
    )
    t = DAY0 + dt.timedelta(hours=2)
    steps = [
        # i1: pending, failed, synced 90 s after its first step; then changed and synced again
        # 30 s after that change's first step.
        _step(conn, INVOICE, "i1", "pending", t),
        _step(conn, INVOICE, "i1", "failed", t + dt.timedelta(seconds=10), category="auth"),
        _step(conn, INVOICE, "i1", "synced", t + dt.timedelta(seconds=90)),
        _step(conn, INVOICE, "i1", "pending", t + dt.timedelta(days=1)),
        _step(conn, INVOICE, "i1", "synced", t + dt.timedelta(days=1, seconds=30)),
        # p1: synced with no step before it: measured from when it was first seen (1 h).
        _step(conn, PAYMENT, "p1", "synced", first_seen + dt.timedelta(hours=1)),
        # before the window: not counted
        _step(conn, INVOICE, "i2", "failed", DAY0 - dt.timedelta(seconds=1), category="auth"),
    ]
    with store.engine.begin() as db:
        db.execute(insert(SyncStepRow), steps)

    summary = store.step_summary(conn, DAY0)

    # set_states records a step of its own, today: the window below is November's first days.
    assert sorted(c for c in summary.counts if c[3] < 10) == [
        (INVOICE, "failed", "auth", 0, 1),
        (INVOICE, "synced", None, 0, 1),
        (INVOICE, "synced", None, 1, 1),
        (PAYMENT, "synced", None, 0, 1),
    ]
    lags = sorted((round(at), round(s, 3)) for at, s in summary.lags if at < 10 * 86400)
    assert lags == [
        (2 * 3600, 3600.0),
        (2 * 3600 + 90, 90.0),
        (86400 + 2 * 3600 + 30, 30.0),
    ]
