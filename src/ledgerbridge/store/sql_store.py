"""SqlStore: the StorePort implementation plus the repositories the console and CLI use."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from ledgerbridge.private_files import private_dir, private_sqlite
from ledgerbridge.store.access import AccessRepository
from ledgerbridge.store.base import Clock, utcnow
from ledgerbridge.store.bulk import BulkRepository
from ledgerbridge.store.connections import ConnectionRepository
from ledgerbridge.store.crypto import TokenCipher, load_cipher
from ledgerbridge.store.db import make_engine
from ledgerbridge.store.history import DashboardRepository, HistoryRepository
from ledgerbridge.store.migrate import migrate
from ledgerbridge.store.ops import OpsQueries
from ledgerbridge.store.reconcile import ReconcileRepository
from ledgerbridge.store.users import UserRepository

if TYPE_CHECKING:
    from ledgerbridge.settings import Settings

DEFAULT_LEASE = dt.timedelta(minutes=5)


class SqlStore(
    BulkRepository,
    ConnectionRepository,
    UserRepository,
    AccessRepository,
    HistoryRepository,
    DashboardRepository,
    ReconcileRepository,
    OpsQueries,
):
    """Every method is one short transaction on its own session: safe to share between threads
    and to call from asyncio code (calls are brief; no async engine is needed).

    `lease` is how long a claimed dirty key stays reserved for its worker; after that a crashed
    worker's keys are handed out again. Datetimes come back timezone-aware, in UTC.
    """

    def __init__(
        self,
        url: str | URL | Engine,
        cipher: TokenCipher | None = None,
        *,
        clock: Clock = utcnow,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> None:
        self._owns_engine = not isinstance(url, Engine)
        engine = make_engine(url) if not isinstance(url, Engine) else url
        super().__init__(engine, cipher, clock, lease)

    @classmethod
    def from_settings(cls, settings: Settings, *, run_migrations: bool = True) -> SqlStore:
        """The installation's store: migrated to the newest schema, tokens encrypted with the
        configured key (or the key file in the data directory)."""
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        cipher = load_cipher(secret, settings.data_dir)
        private_dir(settings.data_dir)
        private_sqlite(settings.database_url)
        if run_migrations:
            migrate(settings.database_url)
        return cls(
            settings.database_url,
            cipher,
            lease=dt.timedelta(seconds=settings.lease_seconds),
        )

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self._engine.url.render_as_string(hide_password=True)!r})"
