"""Reading the sync step log (sync_steps), newest first, for the console's History views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Float,
    MetaData,
    SQLColumnExpression,
    Table,
    cast,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import SyncStateRow, SyncStepRow


@dataclass(frozen=True)
class SyncStep:
    id: int
    connection_id: int
    object_type: str
    side: str
    source_id: str
    status: str
    category: str | None
    message: str | None
    attempts: int
    counterpart_id: str | None
    counterpart_number: str | None
    at: dt.datetime


@dataclass(frozen=True)
class StepSummary:
    """What the dashboard charts need from the step log (see `step_summary`)."""

    # (object_type, status, category, day since `since` (0-based), steps) for synced and failed
    counts: list[tuple[str, str, str | None, int, int]]
    # (seconds after `since` it synced, seconds it took), in time order
    lags: list[tuple[float, float]]


class HistoryRepository(StoreBase):
    def list_steps(
        self,
        connection_id: int,
        *,
        object_type: str | None = None,
        source_ids: Sequence[str] | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 200,
    ) -> list[SyncStep]:
        query = select(SyncStepRow).where(SyncStepRow.connection_id == connection_id)
        if object_type:
            query = query.where(SyncStepRow.object_type == object_type)
        if source_ids is not None:
            query = query.where(SyncStepRow.source_id.in_(list(source_ids)))
        if status:
            query = query.where(SyncStepRow.status == status)
        if since:
            query = query.where(SyncStepRow.at >= since)
        if until:
            query = query.where(SyncStepRow.at < until)
        query = query.order_by(SyncStepRow.at.desc(), SyncStepRow.id.desc()).limit(limit)
        with self._read() as session:
            return [
                SyncStep(
                    id=r.id,
                    connection_id=r.connection_id,
                    object_type=r.object_type,
                    side=r.side,
                    source_id=r.source_id,
                    status=r.status,
                    category=r.category,
                    message=r.message,
                    attempts=r.attempts,
                    counterpart_id=r.counterpart_id,
                    counterpart_number=r.counterpart_number,
                    at=r.at,
                )
                for r in session.scalars(query)
            ]


class DashboardRepository(StoreBase):
    def _epoch(self, column: SQLColumnExpression[dt.datetime]) -> ColumnElement[float]:
        """Seconds since 1970 (UTC) of a UtcDateTime column, as the database computes it."""
        if self._dialect == "sqlite":  # naive UTC text
            return cast((func.julianday(column) - literal(2440587.5)) * literal(86400.0), Float)
        return cast(func.extract("epoch", column), Float)

    def step_summary(self, connection_id: int, since: dt.datetime) -> StepSummary:
        """The dashboard's charts from the steps since `since`, in one pass over plain numbers
        (times as seconds computed by the database: no datetime object per step).

        A lag is the time from the first step of a record's sync (its earliest step after its
        previous synced step, else when the record was first seen) to the step that synced it.
        """
        start = since.timestamp()
        query = (
            select(
                SyncStepRow.object_type,
                SyncStepRow.side,
                SyncStepRow.source_id,
                SyncStepRow.status,
                SyncStepRow.category,
                self._epoch(SyncStepRow.at),
            )
            .where(SyncStepRow.connection_id == connection_id, SyncStepRow.at >= since)
            .order_by(SyncStepRow.at, SyncStepRow.id)
        )
        counts: dict[tuple[str, str, str | None, int], int] = {}
        synced: list[tuple[tuple[str, str, str], float, float | None]] = []
        started: dict[tuple[str, str, str], float] = {}
        with self._read() as session:
            rows = session.execute(query).tuples().all()
        for object_type, side, source_id, status, category, at in rows:
            offset = float(at) - start
            if status in ("synced", "failed"):
                key = (object_type, status, category, int(offset // 86400))
                counts[key] = counts.get(key, 0) + 1
            record = (object_type, side, source_id)
            if status == "synced":
                synced.append((record, float(at), started.pop(record, None)))
            else:
                started.setdefault(record, float(at))
        # A sync with no earlier step in the window is measured from when the record was first
        # seen: read only those records' first_seen_at (usually few).
        unseen = {record for record, _, begin in synced if begin is None}
        first_seen = self._first_seen(connection_id, unseen)
        lags: list[tuple[float, float]] = []
        for record, at, begin in synced:
            if begin is None:
                begin = first_seen.get(record)
            if begin is not None and begin <= at:
                lags.append((at - start, at - begin))
        return StepSummary(counts=[(*k, n) for k, n in counts.items()], lags=lags)

    def _first_seen(
        self, connection_id: int, records: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], float]:
        out: dict[tuple[str, str, str], float] = {}
        by_type: dict[tuple[str, str], list[str]] = {}
        for object_type, side, source_id in records:
            by_type.setdefault((object_type, side), []).append(source_id)
        with self._read() as session:
            for (object_type, side), ids in by_type.items():
                for i in range(0, len(ids), 500):
                    query = select(
                        SyncStateRow.source_id, self._epoch(SyncStateRow.first_seen_at)
                    ).where(
                        SyncStateRow.connection_id == connection_id,
                        SyncStateRow.object_type == object_type,
                        SyncStateRow.side == side,
                        SyncStateRow.source_id.in_(ids[i : i + 500]),
                    )
                    for source_id, seen in session.execute(query).tuples():
                        if seen is not None:
                            out[(object_type, side, source_id)] = float(seen)
        return out

    def last_reconcile(self, connection_id: int) -> dt.datetime | None:
        """When the connection was last reconciled, if this installation records reconcile
        runs (table reconcile_runs); None otherwise."""
        names = set(inspect(self._engine).get_table_names())
        if "reconcile_runs" not in names:
            return None
        columns = {c["name"] for c in inspect(self._engine).get_columns("reconcile_runs")}
        column = next(
            (c for c in ("finished_at", "completed_at", "ended_at", "started_at") if c in columns),
            None,
        )
        if column is None or "connection_id" not in columns:
            return None
        table = Table("reconcile_runs", MetaData(), autoload_with=self._engine)
        with self._read() as session:
            value = session.scalar(
                select(func.max(table.c[column])).where(table.c.connection_id == connection_id)
            )
        if value is None:
            return None
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(when, dt.datetime):
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
