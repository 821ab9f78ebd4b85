"""Reading the sync step log (sync_steps), newest first, for the console's History views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import MetaData, Table, func, inspect, select

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


@dataclass(frozen=True)
class StepPoint:
    """A sync step reduced to what the dashboard charts need."""

    object_type: str
    record: str  # side:source_id
    status: str
    category: str | None
    at: dt.datetime
    first_seen_at: dt.datetime | None


class DashboardRepository(StoreBase):
    def step_points(self, connection_id: int, since: dt.datetime) -> list[StepPoint]:
        """Steps since `since`, oldest first, each with its record's first_seen_at."""
        query = (
            select(
                SyncStepRow.object_type,
                SyncStepRow.side,
                SyncStepRow.source_id,
                SyncStepRow.status,
                SyncStepRow.category,
                SyncStepRow.at,
                SyncStateRow.first_seen_at,
            )
            .outerjoin(
                SyncStateRow,
                (SyncStateRow.connection_id == SyncStepRow.connection_id)
                & (SyncStateRow.object_type == SyncStepRow.object_type)
                & (SyncStateRow.side == SyncStepRow.side)
                & (SyncStateRow.source_id == SyncStepRow.source_id),
            )
            .where(SyncStepRow.connection_id == connection_id, SyncStepRow.at >= since)
            .order_by(SyncStepRow.at, SyncStepRow.id)
        )
        with self._read() as session:
            return [
                StepPoint(r[0], f"{r[1]}:{r[2]}", r[3], r[4], r[5], r[6])
                for r in session.execute(query)
            ]

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
