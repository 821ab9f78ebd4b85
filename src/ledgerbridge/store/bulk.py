"""Many records per statement, for backfills: write intents, states, links, blocked records.

Each method is the set-wise twin of a one-record method (begin_intent, set_state, save_link,
blocked_on...) with the same meaning; it runs in the caller's unit of work when there is one,
else in one transaction of its own. Statements are built once per call and executed with many
parameter sets, instead of one ORM round trip per record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import Link, RecordKey, StoredSyncState
from ledgerbridge.errors import NotFound
from ledgerbridge.store.links import INTENT_DONE, INTENT_PENDING, LinkRepository, _to_link
from ledgerbridge.store.models import RecordLinkRow, SyncStateRow, SyncStepRow, WriteIntentRow
from ledgerbridge.store.queue import row_key
from ledgerbridge.store.states import (
    _KEEP_IF_NONE,
    _STATE_COLUMNS,
    StateRepository,
    _to_state,
    state_values,
    step_values,
)

IntentSpec = tuple[str, int, str, Side, str]  # key, connection id, object type, target, source id
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class BulkRepository(StateRepository, LinkRepository):
    # ---- write intents -------------------------------------------------------------------------
    def intent_states(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """{intent key: (state, result id)} for the keys that were begun (pending or done)."""
        out: dict[str, tuple[str, str | None]] = {}
        with self._read() as session:
            for part in _chunks(list(keys)):
                query = select(
                    WriteIntentRow.key, WriteIntentRow.state, WriteIntentRow.result_id
                ).where(WriteIntentRow.key.in_(part))
                for key, state, result_id in session.execute(query):
                    out[key] = (state, result_id)
        return out

    def begin_intents(self, intents: Sequence[IntentSpec]) -> dict[str, str | None]:
        """begin_intent for many: commits the new intents (one transaction) and returns, for
        every key that had been begun before, its result id (None while still pending). Keys
        absent from the answer were begun now."""
        with self._write() as session:
            known = self.intent_states([spec[0] for spec in intents])
            fresh = [spec for spec in intents if spec[0] not in known]
            if fresh:
                now = self._now()
                stmt = (
                    self._insert(WriteIntentRow)
                    .values(
                        key=bindparam("k"),
                        connection_id=bindparam("c"),
                        object_type=bindparam("o"),
                        target=bindparam("t"),
                        source_id=bindparam("s"),
                        state=INTENT_PENDING,
                        created_at=bindparam("at"),
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                # RETURNING names the rows inserted now: a key another writer inserted in the
                # meantime (do nothing) is not ours to send.
                inserted = session.execute(
                    stmt.returning(WriteIntentRow.key),
                    [
                        {"k": k, "c": c, "o": o, "t": Side(t).value, "s": s, "at": now}
                        for k, c, o, t, s in fresh
                    ],
                )
                ours = set(inserted.scalars())
                for spec in fresh:
                    if spec[0] not in ours:
                        known[spec[0]] = (INTENT_PENDING, None)
        return {
            key: (result if state == INTENT_DONE else None)
            for key, (state, result) in known.items()
        }

    def complete_intents(self, results: Sequence[tuple[str, str]]) -> None:
        """complete_intent for many (intent key, result id) pairs, in one transaction."""
        if not results:
            return
        if len(results) == 1:
            self.complete_intent(*results[0])  # one statement
            return
        with self._write() as session:
            found = self.intent_states([key for key, _ in results])
            missing = [key for key, _ in results if key not in found]
            if missing:
                raise NotFound(
                    f"no write intent {missing[0]!r} to complete",
                    hint="A write intent must be begun (and committed) before its write is sent.",
                )
            stmt = (
                update(WriteIntentRow)
                .where(WriteIntentRow.key == bindparam("k"))
                .values(state=INTENT_DONE, result_id=bindparam("r"), completed_at=bindparam("at"))
            )
            now = self._now()
            session.connection().execute(
                stmt, [{"k": key, "r": result_id, "at": now} for key, result_id in results]
            )

    # ---- sync states ---------------------------------------------------------------------------
    def get_states(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredSyncState]:
        """get_state for many keys: the ones that have a state."""
        groups: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for key in keys:
            groups[(key.connection_id, key.object_type, Side(key.side).value)].append(key.source_id)
        out: dict[RecordKey, StoredSyncState] = {}
        with self._read() as session:
            for (conn, object_type, side), ids in groups.items():
                for part in _chunks(ids):
                    rows = session.scalars(
                        select(SyncStateRow).where(
                            SyncStateRow.connection_id == conn,
                            SyncStateRow.object_type == object_type,
                            SyncStateRow.side == side,
                            SyncStateRow.source_id.in_(part),
                        )
                    )
                    for row in rows:
                        state = _to_state(row)
                        out[state.key] = state
        return out

    def set_states(self, states: Sequence[StoredSyncState]) -> None:
        """set_state for many, same upsert rules, one statement per shape of kept columns."""
        now = self._now()
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for state in states:
            values = state_values(state, now)
            kept = tuple(
                name
                for name in _KEEP_IF_NONE
                if (
                    state.first_seen_at is not None
                    if name == "first_seen_at"
                    else values[name] is not None
                )
            )
            shapes[kept].append(values)
        with self._write() as session:
            for kept, rows in shapes.items():
                stmt = self._insert(SyncStateRow)
                new = stmt.excluded
                assignments = {name: new[name] for name in (*_STATE_COLUMNS, "updated_at", *kept)}
                stmt = stmt.on_conflict_do_update(
                    index_elements=["connection_id", "object_type", "side", "source_id"],
                    set_=assignments,
                )
                session.execute(stmt, rows)
            steps = [step_values(v) for rows in shapes.values() for v in rows]
            if steps:
                session.execute(insert(SyncStepRow), steps)

    def blocked_on_many(
        self, dependencies: Sequence[RecordKey]
    ) -> dict[RecordKey, list[RecordKey]]:
        """blocked_on for many dependencies: only the ones something waits on appear."""
        by_text = {dep.as_text(): dep for dep in dependencies}
        out: dict[RecordKey, list[RecordKey]] = {}
        if not by_text:
            return out
        with self._read() as session:
            for part in _chunks(list(by_text)):
                rows = session.scalars(
                    select(SyncStateRow)
                    .where(
                        SyncStateRow.blocked_on.in_(part),
                        SyncStateRow.status == SyncStatus.BLOCKED.value,
                    )
                    .order_by(SyncStateRow.id)
                )
                for row in rows:
                    dep = by_text[row.blocked_on or ""]
                    if row.connection_id == dep.connection_id:
                        out.setdefault(dep, []).append(row_key(row))
        return out

    # ---- links ---------------------------------------------------------------------------------
    def get_links(
        self, connection_id: int, object_type: str, side: Side, source_ids: Sequence[str]
    ) -> dict[str, Link]:
        """get_link for many ids of one side: {source id: link} for the linked ones (by QBO id:
        the links whose QBO id names the object type's own entity, qbo_kind "")."""
        column = RecordLinkRow.hubspot_id if Side(side) is Side.HUBSPOT else RecordLinkRow.qbo_id
        out: dict[str, Link] = {}
        with self._read() as session:
            for part in _chunks(list(source_ids)):
                query = select(RecordLinkRow).where(
                    RecordLinkRow.connection_id == connection_id,
                    RecordLinkRow.object_type == object_type,
                    column.in_(part),
                )
                if Side(side) is Side.QUICKBOOKS:
                    query = query.where(RecordLinkRow.qbo_kind == "")
                rows = session.scalars(query)
                for row in rows:
                    link = _to_link(row)
                    source = link.hubspot_id if Side(side) is Side.HUBSPOT else link.qbo_id
                    out[source or ""] = link
        return out

    def save_links(self, links: Sequence[Link]) -> None:
        """save_link for many. Links whose ids are all new are inserted in one statement; the
        others (an existing row to update or merge) go through save_link's rules."""
        if not links:
            return
        with self._write() as session:
            taken: set[tuple[int, str, str, str]] = set()
            groups: dict[tuple[int, str], list[Link]] = defaultdict(list)
            for link in links:
                groups[(link.connection_id, link.object_type)].append(link)
            for (conn, object_type), members in groups.items():
                for column, side in (
                    (RecordLinkRow.hubspot_id, "hs"),
                    (RecordLinkRow.qbo_id, "qbo"),
                ):
                    ids = [
                        v
                        for v in ((m.hubspot_id if side == "hs" else m.qbo_id) for m in members)
                        if v
                    ]
                    for part in _chunks(ids):
                        query = select(column).where(
                            RecordLinkRow.connection_id == conn,
                            RecordLinkRow.object_type == object_type,
                            column.in_(part),
                        )
                        taken.update(
                            (conn, object_type, side, v) for v in session.scalars(query) if v
                        )
            new_rows: list[dict[str, Any]] = []
            seen: set[tuple[int, str, str, str]] = set()
            later: list[Link] = []
            now = self._now()
            for link in links:
                sides = [("hs", link.hubspot_id), ("qbo", link.qbo_id)]
                marks = {(link.connection_id, link.object_type, s, v) for s, v in sides if v}
                if not marks or marks & taken or marks & seen:
                    later.append(link)
                    continue
                seen.update(marks)
                new_rows.append(
                    {
                        "connection_id": link.connection_id,
                        "object_type": link.object_type,
                        "hubspot_id": link.hubspot_id,
                        "qbo_id": link.qbo_id,
                        "qbo_kind": link.qbo_kind,
                        "base": dict(link.base) if link.base is not None else None,
                        "hubspot_version": link.hubspot_version,
                        "qbo_version": link.qbo_version,
                        "hubspot_hash": link.hubspot_hash,
                        "qbo_hash": link.qbo_hash,
                        "extra": dict(link.extra),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            if new_rows:
                session.execute(insert(RecordLinkRow), new_rows)
        for link in later:
            self.save_link(link)
