"""Engine construction: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg 3).

SQLite transactions are begun by us, not by the sqlite3 module, so that write units of work can
use ``BEGIN IMMEDIATE``: the write lock is taken up front, concurrent writers queue on the busy
timeout instead of failing when a read lock cannot be upgraded, and a claim of dirty keys is
atomic against other workers.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

# Execution option selecting how a SQLite transaction begins ("IMMEDIATE" for writers).
SQLITE_BEGIN = "ledgerbridge_sqlite_begin"
BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An Engine for `url`. `postgresql://` URLs use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before it is handed out (a database
# restart or an idle timeout may have closed it). One used more recently is not: a ping on every
# checkout would be one more round trip per transaction (SQLAlchemy's pool_pre_ping), and a
# busy worker begins several transactions per record.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Survive database restarts without a round trip per transaction: a connection idle for
    IDLE_PING_SECONDS is pinged at checkout and replaced if dead. A restart within the last
    seconds of a connection's use surfaces as one failed transaction (OperationalError, the
    engine's Transient: retried), after which SQLAlchemy drops the whole stale pool."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["ledgerbridge_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ledgerbridge_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa_exc.DisconnectionError(f"stale pooled connection: {exc}") from exc


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        # One shared connection, or every session would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            # First, so that switching to WAL also waits for a concurrent writer.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if not memory:
                _use_wal(cursor)
                # A committed write intent must survive a power cut, not only a crash.
                cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL (readers never block the writer; persistent).

    The switch needs an exclusive lock and SQLite may answer "database is locked" at once,
    without waiting on the busy timeout, when another connection is opening the same new file:
    retry briefly. Once the file is in WAL mode, this is a cheap no-op.
    """
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.02)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), beginning SQLite transactions with BEGIN IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
