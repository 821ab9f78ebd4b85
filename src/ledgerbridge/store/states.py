"""Sync state per record: what the engine writes after every step and the console lists."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import FieldDifference, RecordKey, StoredSyncState
from ledgerbridge.store.models import SyncStateRow, SyncStepRow
from ledgerbridge.store.queue import DirtyQueue, key_filter, row_key
from ledgerbridge.store.records import StatePage, StateRow

# Columns set_state always overwrites (the StoredSyncState is the whole truth for them).
_STATE_COLUMNS = (
    "status",
    "category",
    "message",
    "hint",
    "attempts",
    "last_attempt_at",
    "next_attempt_at",
    "blocked_on",
    "counterpart_id",
    "counterpart_number",
    "differences",
)
# Columns kept when the new state leaves them None (set once, shown by the console).
_KEEP_IF_NONE = ("first_seen_at", "label", "amount", "currency")


def state_values(state: StoredSyncState, now: Any) -> dict[str, Any]:
    """A sync state as a row's column values (one place for single and set-wise writes)."""
    key = state.key
    return {
        "connection_id": key.connection_id,
        "object_type": key.object_type,
        "side": Side(key.side).value,
        "source_id": key.source_id,
        "status": SyncStatus(state.status).value,
        "category": state.category,
        "message": state.message,
        "hint": state.hint,
        "attempts": state.attempts,
        "first_seen_at": state.first_seen_at or now,
        "last_attempt_at": state.last_attempt_at,
        "next_attempt_at": state.next_attempt_at,
        "blocked_on": state.blocked_on,
        "counterpart_id": state.counterpart_id,
        "counterpart_number": state.counterpart_number,
        "label": state.label[:300] if state.label else state.label,
        "amount": str(state.amount) if state.amount is not None else None,
        "currency": state.currency,
        "differences": _differences_json(state.differences),
        "updated_at": now,
    }


def step_values(values: dict[str, Any]) -> dict[str, Any]:
    """The History entry (sync_steps row) for a state being written."""
    return {
        "connection_id": values["connection_id"],
        "object_type": values["object_type"],
        "side": values["side"],
        "source_id": values["source_id"],
        "status": values["status"],
        "category": values["category"],
        "message": values["message"],
        "attempts": values["attempts"],
        "counterpart_id": values["counterpart_id"],
        "counterpart_number": values["counterpart_number"],
        "at": values["updated_at"],
    }


def _to_state(row: SyncStateRow) -> StoredSyncState:
    return StoredSyncState(
        key=row_key(row),
        status=SyncStatus(row.status),
        category=row.category,
        message=row.message,
        hint=row.hint,
        attempts=row.attempts,
        first_seen_at=row.first_seen_at,
        last_attempt_at=row.last_attempt_at,
        next_attempt_at=row.next_attempt_at,
        blocked_on=row.blocked_on,
        counterpart_id=row.counterpart_id,
        counterpart_number=row.counterpart_number,
        label=row.label,
        amount=Decimal(row.amount) if row.amount is not None else None,
        currency=row.currency,
        differences=_differences_from_json(row.differences),
    )


def _differences_json(differences: tuple[FieldDifference, ...]) -> str | None:
    if not differences:
        return None
    return json.dumps([d.as_json() for d in differences])


def _differences_from_json(text: str | None) -> tuple[FieldDifference, ...]:
    if not text:
        return ()
    return tuple(FieldDifference.from_json(item) for item in json.loads(text))


def _to_row(row: SyncStateRow) -> StateRow:
    return StateRow(id=row.id, state=_to_state(row), updated_at=row.updated_at)


class StateRepository(DirtyQueue):
    def get_state(self, key: RecordKey) -> StoredSyncState | None:
        with self._read() as session:
            row = session.scalars(
                select(SyncStateRow).where(key_filter(SyncStateRow, key))
            ).one_or_none()
            return _to_state(row) if row else None

    def set_state(self, state: StoredSyncState) -> None:
        """Upsert. first_seen_at, label, amount and currency left None keep what is stored
        (first_seen_at defaults to now for a new record)."""
        now = self._now()
        values = state_values(state, now)
        stmt = self._insert(SyncStateRow).values(**values)
        new = stmt.excluded
        assignments = {name: new[name] for name in (*_STATE_COLUMNS, "updated_at")}
        for name in _KEEP_IF_NONE:
            if name == "first_seen_at" and state.first_seen_at is None:
                continue
            if name != "first_seen_at" and values[name] is None:
                continue
            assignments[name] = new[name]
        stmt = stmt.on_conflict_do_update(
            index_elements=["connection_id", "object_type", "side", "source_id"], set_=assignments
        )
        with self._write() as session:
            session.execute(stmt)
            session.execute(insert(SyncStepRow), [step_values(values)])

    def list_states(
        self,
        connection_id: int,
        status: SyncStatus | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[StoredSyncState]:
        """Most recently updated first."""
        page = self.find_states(
            connection_id, status=status, limit=limit, offset=offset, count=False
        )
        return [row.state for row in page.rows]

    def count_states(self, connection_id: int) -> dict[SyncStatus, int]:
        """Every status appears, with 0 when no record has it."""
        counts = dict.fromkeys(SyncStatus, 0)
        with self._read() as session:
            for status, count in session.execute(
                select(SyncStateRow.status, func.count())
                .where(SyncStateRow.connection_id == connection_id)
                .group_by(SyncStateRow.status)
            ):
                counts[SyncStatus(status)] = count
        return counts

    def blocked_on(self, dependency: RecordKey) -> list[RecordKey]:
        """Records waiting on `dependency` (status blocked, blocked_on = its text form)."""
        with self._read() as session:
            rows = session.scalars(
                select(SyncStateRow)
                .where(
                    SyncStateRow.connection_id == dependency.connection_id,
                    SyncStateRow.blocked_on == dependency.as_text(),
                    SyncStateRow.status == SyncStatus.BLOCKED.value,
                )
                .order_by(SyncStateRow.id)
            ).all()
            return [row_key(row) for row in rows]

    # ---- console / CLI -----------------------------------------------------------------------
    def find_states(
        self,
        connection_id: int | None = None,
        *,
        status: SyncStatus | None = None,
        object_type: str | None = None,
        category: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        count: bool = True,
    ) -> StatePage:
        """Filtered, paged, most recently updated first. `search` matches the label, the
        source id and the counterpart number (case-insensitive substring)."""
        conditions: list[Any] = []
        if connection_id is not None:
            conditions.append(SyncStateRow.connection_id == connection_id)
        if status is not None:
            conditions.append(SyncStateRow.status == SyncStatus(status).value)
        if object_type is not None:
            conditions.append(SyncStateRow.object_type == object_type)
        if category is not None:
            conditions.append(SyncStateRow.category == category)
        if search:
            needle = search.lower()
            conditions.append(
                or_(
                    *(
                        func.lower(column).contains(needle, autoescape=True)  # "%" is literal
                        for column in (
                            SyncStateRow.label,
                            SyncStateRow.source_id,
                            SyncStateRow.counterpart_number,
                        )
                    )
                )
            )
        query = (
            select(SyncStateRow)
            .where(*conditions)
            .order_by(SyncStateRow.updated_at.desc(), SyncStateRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._read() as session:
            rows = [_to_row(row) for row in session.scalars(query)]
            total = (
                session.scalar(select(func.count()).select_from(SyncStateRow).where(*conditions))
                if count
                else len(rows)
            )
        return StatePage(rows=rows, total=total or 0)

    def list_failures(
        self, connection_id: int | None = None, limit: int = 50, offset: int = 0
    ) -> StatePage:
        """The Failing-to-sync panel: failed records, most recent first."""
        return self.find_states(connection_id, status=SyncStatus.FAILED, limit=limit, offset=offset)

    def get_state_row(self, state_id: int) -> StateRow | None:
        with self._read() as session:
            row = session.get(SyncStateRow, state_id)
            return _to_row(row) if row else None

    def retry(self, key: RecordKey) -> bool:
        """Reset a record for another attempt now (back to pending, attempts and error cleared)
        and mark it dirty. False if the record has no sync state."""
        with self._write() as session:
            done = self._reset(session, [key])
        return done == 1

    def retry_by_id(self, state_id: int) -> RecordKey | None:
        with self._write() as session:
            row = session.get(SyncStateRow, state_id)
            if row is None:
                return None
            key = row_key(row)
            self._reset(session, [key])
            return key

    def retry_all(
        self, connection_id: int | None = None, status: SyncStatus = SyncStatus.FAILED
    ) -> int:
        """Retry every record with `status` (default: failed); returns how many."""
        conditions = [SyncStateRow.status == SyncStatus(status).value]
        if connection_id is not None:
            conditions.append(SyncStateRow.connection_id == connection_id)
        with self._write() as session:
            keys = [
                row_key(row) for row in session.scalars(select(SyncStateRow).where(*conditions))
            ]
            return self._reset(session, keys)

    def _reset(self, session: Any, keys: list[RecordKey]) -> int:
        done = 0
        for key in keys:
            result = session.execute(
                update(SyncStateRow)
                .where(key_filter(SyncStateRow, key))
                .values(
                    status=SyncStatus.PENDING.value,
                    category=None,
                    message=None,
                    hint=None,
                    attempts=0,
                    next_attempt_at=None,
                    blocked_on=None,
                    differences=None,
                    updated_at=self._now(),
                )
            )
            if result.rowcount:
                self._mark(session, key, "retry requested", None)
                done += 1
        return done
