"""The store: SQLAlchemy 2.0 tables, repositories and Alembic migrations.

SQLite (WAL) by default, PostgreSQL (psycopg 3) supported and tested. ``SqlStore`` implements
``ledgerbridge.engine.ports.StorePort``; ``migrate(url)`` upgrades a database to the newest
schema; ``TokenCipher`` encrypts OAuth tokens at rest.
"""

from ledgerbridge.store.crypto import TokenCipher, load_cipher
from ledgerbridge.store.db import make_engine
from ledgerbridge.store.migrate import migrate
from ledgerbridge.store.records import (
    AuditEntry,
    ConnectionInfo,
    StatePage,
    StateRow,
    StoredTokens,
    UserInfo,
)
from ledgerbridge.store.sql_store import SqlStore

__all__ = [
    "AuditEntry",
    "ConnectionInfo",
    "SqlStore",
    "StatePage",
    "StateRow",
    "StoredTokens",
    "TokenCipher",
    "UserInfo",
    "load_cipher",
    "make_engine",
    "migrate",
]
