"""Dirty record keys: the durable work queue between change detection and sync steps.

- Marking is an upsert: a key is at most one row. Each mark bumps `generation`.
- A claim leases due keys to one worker (`lease_until`) and remembers the generation it took.
  PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers never take the same row.
  SQLite: the whole claim is one BEGIN IMMEDIATE transaction (one writer at a time).
- A lease that expires (the worker crashed) makes the key claimable again: nothing is lost.
- Releasing drops the row, unless the key was marked again during the claim: then it stays,
  due at once, so the newer change gets its own sync step.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, null, or_, select, type_coerce
from sqlalchemy.orm import Session

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import DirtyKey, RecordKey
from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import DirtyKeyRow, UtcDateTime

_KEY_COLUMNS = ("connection_id", "object_type", "side", "source_id")


def key_filter(model: Any, key: RecordKey) -> Any:
    return and_(
        model.connection_id == key.connection_id,
        model.object_type == key.object_type,
        model.side == key.side.value,
        model.source_id == key.source_id,
    )


def row_key(row: Any) -> RecordKey:
    return RecordKey(row.connection_id, row.object_type, Side(row.side), row.source_id)


class DirtyQueue(StoreBase):
    def mark_dirty(
        self, key: RecordKey, reason: str, not_before: dt.datetime | None = None
    ) -> None:
        """Marking an already-dirty key keeps one row; it becomes due at the earlier of the two
        times (None = now), so a fresh change is not held back by an earlier retry backoff."""
        with self._write() as session:
            self._mark(session, key, reason, not_before)

    def _mark(
        self, session: Session, key: RecordKey, reason: str, not_before: dt.datetime | None
    ) -> None:
        table = DirtyKeyRow.__table__
        stmt = self._insert(table).values(
            connection_id=key.connection_id,
            object_type=key.object_type,
            side=key.side.value,
            source_id=key.source_id,
            reason=reason[:200],
            marked_at=self._now(),
            not_before=not_before,
            generation=1,
        )
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[name] for name in _KEY_COLUMNS],
            set_={
                "generation": table.c.generation + 1,
                "reason": new.reason,
                "not_before": case(
                    (or_(table.c.not_before.is_(None), new.not_before.is_(None)), null()),
                    (new.not_before < table.c.not_before, new.not_before),
                    else_=table.c.not_before,
                ),
            },
        )
        session.execute(stmt)

    def claim_dirty(self, connection_id: int, limit: int, now: dt.datetime) -> list[DirtyKey]:
        if limit <= 0:
            return []
        query = (
            select(DirtyKeyRow)
            .where(
                DirtyKeyRow.connection_id == connection_id,
                or_(DirtyKeyRow.not_before.is_(None), DirtyKeyRow.not_before <= now),
                or_(DirtyKeyRow.lease_until.is_(None), DirtyKeyRow.lease_until <= now),
            )
            .order_by(DirtyKeyRow.marked_at, DirtyKeyRow.id)
            .limit(limit)
        )
        if self._is_postgres:
            query = query.with_for_update(skip_locked=True)
        lease_until = now + self._lease
        with self._write() as session:
            rows = session.scalars(query).all()
            claimed = []
            for row in rows:
                row.lease_until = lease_until
                row.claimed_generation = row.generation
                claimed.append(DirtyKey(row_key(row), row.reason, row.not_before))
            return claimed

    def release_dirty(self, key: RecordKey, retry_at: dt.datetime | None = None) -> None:
        with self._write() as session:
            if retry_at is None:
                # The common case in one statement: done, and not marked again since the claim.
                dropped = session.execute(
                    delete(DirtyKeyRow).where(
                        key_filter(DirtyKeyRow, key),
                        DirtyKeyRow.claimed_generation.is_not(None),
                        DirtyKeyRow.generation == DirtyKeyRow.claimed_generation,
                    )
                )
                if dropped.rowcount:  # type: ignore[attr-defined]
                    return
            query = select(DirtyKeyRow).where(key_filter(DirtyKeyRow, key))
            if self._is_postgres:
                query = query.with_for_update()  # a concurrent mark waits for this decision
            row = session.scalars(query).one_or_none()
            if row is None:
                if retry_at is not None:
                    self._mark(session, key, "retry", retry_at)
                return
            remarked = (
                row.claimed_generation is not None and row.generation != row.claimed_generation
            )
            if remarked:
                pass  # keep its due time: the newer change runs as soon as possible
            elif retry_at is None:
                session.execute(delete(DirtyKeyRow).where(DirtyKeyRow.id == row.id))
                return
            else:
                row.not_before = retry_at
            row.lease_until = None
            row.claimed_generation = None

    # ---- for the worker and the console -----------------------------------------------------
    def count_dirty(self, connection_id: int) -> int:
        with self._read() as session:
            return (
                session.scalar(
                    select(func.count()).where(DirtyKeyRow.connection_id == connection_id)
                )
                or 0
            )

    def next_due_at(self, connection_id: int, now: dt.datetime) -> dt.datetime | None:
        """When the next key becomes claimable (`now` or earlier if one already is; None if
        none is queued): lets a worker sleep until there is work."""
        at = literal(now, UtcDateTime())
        not_before = func.coalesce(DirtyKeyRow.not_before, at)
        lease = func.coalesce(DirtyKeyRow.lease_until, at)
        # A key is due once both its retry time and any lease have passed.
        later = (
            func.greatest(not_before, lease) if self._is_postgres else func.max(not_before, lease)
        )
        query = select(type_coerce(func.min(later), UtcDateTime())).where(
            DirtyKeyRow.connection_id == connection_id
        )
        with self._read() as session:
            return session.scalar(query)
