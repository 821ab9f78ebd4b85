"""Run the Alembic migrations programmatically (no alembic.ini lookup relative to the cwd)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from ledgerbridge.store.db import make_engine, writer
from ledgerbridge.store.models import Base

# Any constant: serializes concurrent `migrate` calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x1EDB_0001


def alembic_config() -> Config:
    package = resources.files("ledgerbridge.store")
    config = Config(str(package / "alembic.ini"))
    config.set_main_option("script_location", str(package / "migrations"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def migrate(url: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (default: the newest)."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with writer(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def schema_differences(conn: Connection) -> list[Any]:
    """What autogenerate would put in a new migration: empty when models and migrations agree
    (the same check as `alembic check`)."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))
