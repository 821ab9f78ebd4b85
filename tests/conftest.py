"""Top-level fixtures: databases for the store, on SQLite and on PostgreSQL.

- `db_url`: a database migrated to head, parametrized over SQLite (a temporary file) and
  PostgreSQL. Session-scoped: tests share it, so give each test its own connection
  (`store.create_connection(...)` with a unique name); every table is keyed by connection.
- `sqlite_db_url`: the same on SQLite only (for tests that do not need both backends).
- `empty_db_url`: a fresh, unmigrated database per test, on both backends.
- `store`: a SqlStore on `db_url` with a throwaway secret key.

PostgreSQL: LEDGERBRIDGE_TEST_PG_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test when
a server answers there. Each test session works in its own schema (search_path set through the
URL), dropped at the end. With LEDGERBRIDGE_REQUIRE_PG=1 (CI), an unreachable server fails the
tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerbridge.store import SqlStore, TokenCipher, make_engine, migrate

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_probe(url: str) -> str | None:
    """None if PostgreSQL answers at `url`, else why not."""
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    """The PostgreSQL server URL for tests (skips, or fails in CI, when none answers)."""
    url = os.environ.get("LEDGERBRIDGE_TEST_PG_URL") or DEFAULT_PG_URL
    problem = _pg_probe(url)
    if problem is None:
        return url
    shown = make_url(url).render_as_string(hide_password=True)
    message = f"PostgreSQL not reachable at {shown} ({problem})"
    if os.environ.get("LEDGERBRIDGE_REQUIRE_PG") == "1":
        pytest.fail(message + "; LEDGERBRIDGE_REQUIRE_PG=1 requires it", pytrace=False)
    pytest.skip(message + "; set LEDGERBRIDGE_TEST_PG_URL or start PostgreSQL")


def _schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


class _PgSchemas:
    """Creates throwaway schemas and drops them all at the end."""

    def __init__(self, base_url: str) -> None:
        self._engine = make_engine(base_url, isolation_level="AUTOCOMMIT")
        self._schemas: list[str] = []

    def create(self) -> str:
        schema = f"lb_test_{uuid.uuid4().hex[:12]}"
        with self._engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self._schemas.append(schema)
        return schema

    def drop(self, schema: str) -> None:
        with self._engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self._schemas.remove(schema)

    def close(self) -> None:
        for schema in list(self._schemas):
            self.drop(schema)
        self._engine.dispose()


@pytest.fixture(scope="session")
def pg_schemas(pg_base_url: str) -> Iterator[_PgSchemas]:
    schemas = _PgSchemas(pg_base_url)
    yield schemas
    schemas.close()


def _fresh_url(
    backend: str, request: pytest.FixtureRequest, tmp_dir: os.PathLike[str]
) -> tuple[str, Callable[[], None]]:
    """A new empty database and how to throw it away."""
    if backend == "sqlite":
        url = f"sqlite:///{os.fspath(tmp_dir)}/ledgerbridge-{uuid.uuid4().hex[:8]}.db"
        return url, lambda: None
    schemas: _PgSchemas = request.getfixturevalue("pg_schemas")
    base: str = request.getfixturevalue("pg_base_url")
    schema = schemas.create()
    return _schema_url(base, schema), lambda: schemas.drop(schema)


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head (SQLite, then PostgreSQL), shared by the session."""
    url, _drop = _fresh_url(request.param, request, tmp_path_factory.mktemp("db"))
    migrate(url)  # the schema is dropped with the others when the session ends
    return url


@pytest.fixture(scope="session")
def pg_db_url(pg_schemas: _PgSchemas, pg_base_url: str) -> str:
    """A PostgreSQL schema migrated to head, shared by the session (PostgreSQL-only tests)."""
    url = _schema_url(pg_base_url, pg_schemas.create())
    migrate(url)
    return url


@pytest.fixture(scope="session")
def sqlite_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerbridge.db"
    migrate(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A fresh, unmigrated database for this test only."""
    url, drop = _fresh_url(request.param, request, tmp_path)
    yield url
    drop()


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    with SqlStore(db_url, TokenCipher.generate()) as opened:
        yield opened
