"""What every repository shares: the engine, one short session per call, the clock, upserts,
and the translation of database outages into Transient errors (the engine retries those)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledgerbridge.errors import Transient
from ledgerbridge.store.crypto import TokenCipher
from ledgerbridge.store.db import writer

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StoreBase:
    """Sessions are per call (thread-safe, one unit of work each); nothing is cached between
    calls, so several threads, processes or workers can share one database."""

    def __init__(
        self,
        engine: Engine,
        cipher: TokenCipher | None,
        clock: Clock,
        lease: dt.timedelta,
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._cipher = cipher
        self._clock = clock
        self._lease = lease
        self._dialect = engine.dialect.name
        # The session of the unit of work in progress in this thread / asyncio context, if any.
        self._unit: ContextVar[Session | None] = ContextVar(
            f"ledgerbridge_uow_{id(self)}", default=None
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    def _now(self) -> dt.datetime:
        return self._clock()

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """Several store calls in ONE transaction (one commit, one fsync on SQLite): every read
        and write made inside the block joins it, and all of it is durable when the block exits
        without an error (rolled back otherwise). Nested blocks join the outer one.

        The block must not span an ``await``: the transaction would stay open (holding SQLite's
        write lock) while other tasks run. Build what to write first, then write it in one go.
        """
        if self._unit.get() is not None:
            yield
            return
        with (
            _translate_outages(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            token = self._unit.set(session)
            try:
                yield
            finally:
                self._unit.reset(token)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads in ONE read transaction (one round trip to begin and one to end, and
        one consistent view on PostgreSQL). Only reads may be made inside; inside a unit of work
        it joins the unit. Must not span an ``await``."""
        if self._unit.get() is not None:
            yield
            return
        with (
            _translate_outages(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            token = self._unit.set(session)
            try:
                yield
            finally:
                self._unit.reset(token)

    @property
    def _in_unit(self) -> bool:
        return self._unit.get() is not None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        current = self._unit.get()
        if current is not None:
            yield current
            return
        with (
            _translate_outages(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE).
        Inside a unit of work, the unit's transaction."""
        current = self._unit.get()
        if current is not None:
            yield current
            return
        with (
            _translate_outages(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def _insert(self, table: Table | Any) -> Any:
        """INSERT supporting ON CONFLICT on both backends (same API on each)."""
        target = table.__table__ if hasattr(table, "__table__") else table
        if self._dialect == "postgresql":
            return postgresql.insert(target)
        if self._dialect == "sqlite":
            return sqlite.insert(target)
        raise NotImplementedError(f"unsupported database: {self._dialect}")

    @property
    def _is_postgres(self) -> bool:
        return self._dialect == "postgresql"


@contextmanager
def _translate_outages() -> Iterator[None]:
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise Transient(
            f"database unavailable: {exc.orig if exc.orig is not None else exc}",
            hint="Check that the database is running, reachable and not out of disk space; "
            "syncing resumes by itself once it is back.",
        ) from exc
