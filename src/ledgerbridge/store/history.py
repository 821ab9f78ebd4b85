"""Reading the sync step log (sync_steps), newest first, for the console's History views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import SyncStepRow


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
