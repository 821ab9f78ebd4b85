"""Record links with base snapshots, write intents, change-feed cursors, and the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import Link
from ledgerbridge.errors import NotFound
from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import AuditRow, CursorRow, RecordLinkRow, WriteIntentRow
from ledgerbridge.store.records import AuditEntry

INTENT_PENDING = "pending"
INTENT_DONE = "done"


def _to_link(row: RecordLinkRow) -> Link:
    return Link(
        connection_id=row.connection_id,
        object_type=row.object_type,
        hubspot_id=row.hubspot_id,
        qbo_id=row.qbo_id,
        base=row.base,
        hubspot_version=row.hubspot_version,
        qbo_version=row.qbo_version,
        hubspot_hash=row.hubspot_hash,
        qbo_hash=row.qbo_hash,
        extra=row.extra or {},
        qbo_kind=row.qbo_kind or "",
    )


class LinkRepository(StoreBase):
    # ---- links -------------------------------------------------------------------------------
    def get_link(
        self,
        connection_id: int,
        object_type: str,
        side: Side,
        source_id: str,
        qbo_kind: str = "",
    ) -> Link | None:
        by_hubspot = Side(side) is Side.HUBSPOT
        column = RecordLinkRow.hubspot_id if by_hubspot else RecordLinkRow.qbo_id
        query = select(RecordLinkRow).where(
            RecordLinkRow.connection_id == connection_id,
            RecordLinkRow.object_type == object_type,
            column == source_id,
        )
        if not by_hubspot:
            query = query.where(RecordLinkRow.qbo_kind == qbo_kind)
        with self._read() as session:
            row = session.scalars(query).one_or_none()
            return _to_link(row) if row else None

    def save_link(self, link: Link) -> None:
        """Upsert by either id. If the two ids were linked separately (one row with only the
        HubSpot id, one with only the QBO id), they merge into one row."""
        if link.hubspot_id is None and link.qbo_id is None:
            raise ValueError("a link needs a HubSpot id, a QBO id, or both")
        # Two writers inserting the same new link at once: one hits the unique constraint and
        # simply runs again, now finding the other's row.
        for attempt in range(3):
            try:
                with self._write() as session:
                    if self._in_unit:
                        # A savepoint: a unique-constraint clash must not undo the whole unit.
                        with session.begin_nested():
                            self._save_link(session, link)
                    else:
                        self._save_link(session, link)
                return
            except sa_exc.IntegrityError:
                if attempt == 2:
                    raise

    def _save_link(self, session: Session, link: Link) -> None:
        # The rows holding either id, in one query: the HubSpot id's row first.
        matches = []
        if link.hubspot_id is not None:
            matches.append(RecordLinkRow.hubspot_id == link.hubspot_id)
        if link.qbo_id is not None:
            matches.append(
                and_(RecordLinkRow.qbo_id == link.qbo_id, RecordLinkRow.qbo_kind == link.qbo_kind)
            )
        found = session.scalars(
            select(RecordLinkRow).where(
                RecordLinkRow.connection_id == link.connection_id,
                RecordLinkRow.object_type == link.object_type,
                or_(*matches),
            )
        ).all()
        rows = sorted(
            found,
            key=lambda r: (link.hubspot_id is None or r.hubspot_id != link.hubspot_id, r.id),
        )
        now = self._now()
        if rows:
            row = rows[0]
            for other in rows[1:]:
                session.delete(other)
            session.flush()  # free the other row's unique id before this row takes it
        else:
            row = RecordLinkRow(
                connection_id=link.connection_id, object_type=link.object_type, created_at=now
            )
            session.add(row)
        row.hubspot_id = link.hubspot_id
        row.qbo_id = link.qbo_id
        row.qbo_kind = link.qbo_kind
        row.base = dict(link.base) if link.base is not None else None
        row.hubspot_version = link.hubspot_version
        row.qbo_version = link.qbo_version
        row.hubspot_hash = link.hubspot_hash
        row.qbo_hash = link.qbo_hash
        row.extra = dict(link.extra)
        row.updated_at = now

    # ---- write intents -----------------------------------------------------------------------
    def begin_intent(
        self, key: str, connection_id: int, object_type: str, target: Side, source_id: str
    ) -> str | None:
        stmt = (
            self._insert(WriteIntentRow)
            .values(
                key=key,
                connection_id=connection_id,
                object_type=object_type,
                target=Side(target).value,
                source_id=source_id,
                state=INTENT_PENDING,
                created_at=self._now(),
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        with self._write() as session:
            # RETURNING names a row inserted now: a new intent needs no second statement.
            if session.execute(stmt.returning(WriteIntentRow.key)).first() is not None:
                return None
            row = session.scalars(select(WriteIntentRow).where(WriteIntentRow.key == key)).one()
            return row.result_id if row.state == INTENT_DONE else None

    def complete_intent(self, key: str, result_id: str) -> None:
        with self._write() as session:
            done = session.execute(
                update(WriteIntentRow)
                .where(WriteIntentRow.key == key)
                .values(state=INTENT_DONE, result_id=result_id, completed_at=self._now())
            )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(
                    f"no write intent {key!r} to complete",
                    hint="A write intent must be begun (and committed) before its write is sent.",
                )

    def pending_intent(self, key: str) -> bool:
        with self._read() as session:
            state = session.scalar(select(WriteIntentRow.state).where(WriteIntentRow.key == key))
            return state == INTENT_PENDING

    # ---- cursors -----------------------------------------------------------------------------
    def get_cursor(self, connection_id: int, feed: str) -> str | None:
        with self._read() as session:
            return session.scalar(
                select(CursorRow.value).where(
                    CursorRow.connection_id == connection_id, CursorRow.feed == feed
                )
            )

    def set_cursor(self, connection_id: int, feed: str, value: str) -> None:
        stmt = self._insert(CursorRow).values(
            connection_id=connection_id, feed=feed, value=value, updated_at=self._now()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["connection_id", "feed"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as session:
            session.execute(stmt)

    # ---- audit -------------------------------------------------------------------------------
    def audit(
        self,
        connection_id: int,
        object_type: str,
        record: str,
        field_name: str,
        old: object,
        new: object,
        winner: str,
    ) -> None:
        with self._write() as session:
            session.add(
                AuditRow(
                    connection_id=connection_id,
                    object_type=object_type,
                    record=record,
                    field=field_name,
                    old=_dump(old),
                    new=_dump(new),
                    winner=str(winner),
                    at=self._now(),
                )
            )

    def list_audit(
        self,
        connection_id: int,
        object_type: str | None = None,
        record: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Newest first."""
        query = select(AuditRow).where(AuditRow.connection_id == connection_id)
        if object_type is not None:
            query = query.where(AuditRow.object_type == object_type)
        if record is not None:
            query = query.where(AuditRow.record == record)
        query = query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit).offset(offset)
        with self._read() as session:
            return [
                AuditEntry(
                    id=row.id,
                    connection_id=row.connection_id,
                    object_type=row.object_type,
                    record=row.record,
                    field_name=row.field,
                    old=_load(row.old),
                    new=_load(row.new),
                    winner=row.winner,
                    at=row.at,
                )
                for row in session.scalars(query)
            ]


def _dump(value: object) -> str | None:
    # Decimals, dates and enums are shown as text: the audit log is for people, not replay.
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
