"""Migrations: empty -> head on both backends, models and migrations agree, SQLite pragmas."""

from __future__ import annotations

import threading

from sqlalchemy import inspect, text

from ledgerbridge.store import SqlStore, make_engine, migrate
from ledgerbridge.store.migrate import current_revision, head_revision, schema_differences
from ledgerbridge.store.models import Base

TABLES = {
    "connections",
    "record_links",
    "sync_states",
    "dirty_keys",
    "write_intents",
    "cursors",
    "audit_log",
    "users",
    "reconcile_runs",
    "reconcile_findings",
    "user_sessions",
    "user_invites",
    "login_throttle",
    "console_events",
    "sync_steps",
}


def test_upgrade_from_empty_to_head(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) is None
            assert not TABLES & set(inspect(conn).get_table_names())
        migrate(empty_db_url)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert set(inspect(conn).get_table_names()) >= TABLES
        migrate(empty_db_url)  # already at head: a no-op, not an error
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    """What `alembic check` does: autogenerate against the migrated database finds nothing."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert schema_differences(conn) == []
            assert set(Base.metadata.tables) == TABLES
    finally:
        engine.dispose()


def test_concurrent_migrations_do_not_collide(empty_db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(empty_db_url)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(sqlite_db_url: str) -> None:
    engine = make_engine(sqlite_db_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()


def test_foreign_keys_cascade_when_a_connection_is_deleted(store: SqlStore) -> None:
    from ledgerbridge.domain import Side
    from ledgerbridge.engine.ports import RecordKey

    conn = store.create_connection("cascade-check")
    store.mark_dirty(RecordKey(conn.id, "invoice", Side.HUBSPOT, "1"), "test")
    store.set_cursor(conn.id, "feed", "x")
    assert store.delete_connection(conn.id)
    assert store.count_dirty(conn.id) == 0
    assert store.get_cursor(conn.id, "feed") is None
    with store.engine.connect() as c:
        left = c.execute(
            text("SELECT count(*) FROM dirty_keys WHERE connection_id = :c"), {"c": conn.id}
        ).scalar()
    assert left == 0
