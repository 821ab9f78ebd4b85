"""Reconciliation runs and their findings; the link listing a reconciliation walks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ledgerbridge.engine.ports import Link
from ledgerbridge.engine.reconcile import Finding, ReconcileReport
from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.links import _to_link
from ledgerbridge.store.models import ReconcileFindingRow, ReconcileRunRow, RecordLinkRow


@dataclass(frozen=True)
class ReconcileRun:
    id: int
    connection_id: int
    scope: str
    since: dt.datetime | None
    dry_run: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    checked: int
    in_sync: int
    repaired: int
    diverged: int
    orphans: int
    duplicates: int
    api_calls: int
    error: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration_ms is None else self.duration_ms / 1000


def _to_run(row: ReconcileRunRow) -> ReconcileRun:
    return ReconcileRun(
        id=row.id,
        connection_id=row.connection_id,
        scope=row.scope,
        since=row.since,
        dry_run=bool(row.dry_run),
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        checked=row.checked,
        in_sync=row.in_sync,
        repaired=row.repaired,
        diverged=row.diverged,
        orphans=row.orphans,
        duplicates=row.duplicates,
        api_calls=row.api_calls,
        error=row.error,
    )


class ReconcileRepository(StoreBase):
    def list_links(
        self, connection_id: int, object_type: str, updated_since: dt.datetime | None = None
    ) -> list[Link]:
        """Every link of one object type (optionally only those updated since a time)."""
        query = select(RecordLinkRow).where(
            RecordLinkRow.connection_id == connection_id,
            RecordLinkRow.object_type == object_type,
        )
        if updated_since is not None:
            query = query.where(RecordLinkRow.updated_at >= updated_since)
        with self._read() as session:
            return [_to_link(row) for row in session.scalars(query.order_by(RecordLinkRow.id))]

    def save_reconcile_run(
        self, connection_id: int, report: ReconcileReport, error: str | None = None
    ) -> int:
        with self._write() as session:
            row = ReconcileRunRow(
                connection_id=connection_id,
                scope=report.scope,
                since=report.since,
                dry_run=int(report.dry_run),
                started_at=report.started_at,
                finished_at=report.finished_at,
                duration_ms=int(report.duration.total_seconds() * 1000),
                checked=report.checked,
                in_sync=report.in_sync,
                repaired=report.repaired,
                diverged=report.diverged,
                orphans=report.orphans,
                duplicates=report.duplicates,
                api_calls=report.api_calls,
                error=error,
            )
            session.add(row)
            session.flush()
            for f in report.findings:
                session.add(
                    ReconcileFindingRow(
                        run_id=row.id,
                        object_type=f.object_type,
                        outcome=f.outcome,
                        hubspot_id=f.hubspot_id,
                        qbo_id=f.qbo_id,
                        field=f.field,
                        hubspot_value=f.hubspot,
                        qbo_value=f.quickbooks,
                        note=f.note,
                    )
                )
            return int(row.id)

    def list_reconcile_runs(
        self, connection_id: int | None = None, limit: int = 20
    ) -> list[ReconcileRun]:
        """Newest first."""
        query = select(ReconcileRunRow)
        if connection_id is not None:
            query = query.where(ReconcileRunRow.connection_id == connection_id)
        query = query.order_by(ReconcileRunRow.started_at.desc(), ReconcileRunRow.id.desc())
        with self._read() as session:
            return [_to_run(row) for row in session.scalars(query.limit(limit))]

    def get_reconcile_run(self, run_id: int) -> ReconcileRun | None:
        with self._read() as session:
            row = session.get(ReconcileRunRow, run_id)
            return _to_run(row) if row else None

    def last_reconcile_run(
        self, connection_id: int, *, scope: str | None = None, real_only: bool = True
    ) -> ReconcileRun | None:
        """The newest run (dry runs left out unless asked): incremental runs start from it."""
        query = select(ReconcileRunRow).where(ReconcileRunRow.connection_id == connection_id)
        if scope is not None:
            query = query.where(ReconcileRunRow.scope == scope)
        if real_only:
            query = query.where(ReconcileRunRow.dry_run == 0)
        query = query.order_by(ReconcileRunRow.started_at.desc(), ReconcileRunRow.id.desc())
        with self._read() as session:
            row = session.scalars(query.limit(1)).one_or_none()
            return _to_run(row) if row else None

    def last_reconcile_runs(self) -> dict[int, ReconcileRun]:
        """Every connection's newest real run, in one query (the overview, the metrics)."""
        newest = (
            select(
                ReconcileRunRow.connection_id,
                func.max(ReconcileRunRow.started_at).label("started_at"),
            )
            .where(ReconcileRunRow.dry_run == 0)
            .group_by(ReconcileRunRow.connection_id)
            .subquery()
        )
        query = (
            select(ReconcileRunRow)
            .join(
                newest,
                (ReconcileRunRow.connection_id == newest.c.connection_id)
                & (ReconcileRunRow.started_at == newest.c.started_at),
            )
            .where(ReconcileRunRow.dry_run == 0)
            .order_by(ReconcileRunRow.id)
        )
        with self._read() as session:
            # Two runs started in the same instant: the later id wins, as in last_reconcile_run.
            return {row.connection_id: _to_run(row) for row in session.scalars(query)}

    def list_reconcile_findings(
        self, run_id: int, limit: int = 1000, offset: int = 0
    ) -> list[Finding]:
        query = (
            select(ReconcileFindingRow)
            .where(ReconcileFindingRow.run_id == run_id)
            .order_by(ReconcileFindingRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self._read() as session:
            return [
                Finding(
                    object_type=row.object_type,
                    outcome=row.outcome,
                    hubspot_id=row.hubspot_id,
                    qbo_id=row.qbo_id,
                    field=row.field,
                    hubspot=row.hubspot_value,
                    quickbooks=row.qbo_value,
                    note=row.note,
                )
                for row in session.scalars(query)
            ]

    def count_reconcile_findings(self, run_id: int) -> int:
        with self._read() as session:
            query = select(func.count()).where(ReconcileFindingRow.run_id == run_id)
            return int(session.scalar(query) or 0)
