"""What the console needs from the running installation.

The console is one more entrypoint over the objects the composition root
(`ledgerbridge.bootstrap.Runtime`) holds: the store, and per connection the HubSpot API client,
the QuickBooks connector and the engine. A connection can appear after the console started
(the demo connects once the sandboxes are up; `serve` lets the user connect) and is rebuilt on a
reconnect, so the console looks it up on every request instead of keeping it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from ledgerbridge.bootstrap import Runtime, load_sync_settings
from ledgerbridge.connectors.hubspot.read_model import HubSpotReadModel
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey
from ledgerbridge.store import ConnectionInfo, SqlStore
from ledgerbridge.web.services.catalog import PropertyCatalog


class NotConnected(Exception):
    """No usable connection yet: the console shows the connect page instead."""


class Console:
    def __init__(self, runtime: Runtime, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.runtime = runtime
        self.clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))
        self._catalogs: dict[int, tuple[Any, PropertyCatalog]] = {}

    # ---- installation --------------------------------------------------------------------------
    @property
    def store(self) -> SqlStore:
        return self.runtime.store

    @functools.cached_property
    def session_secret(self) -> str | None:
        secret = self.runtime.settings.session_secret
        return secret.get_secret_value() if secret is not None else None

    # ---- the connection ------------------------------------------------------------------------
    def bundle(self) -> Any:
        """The ConnectionRuntime chosen in the switcher, else the first; NotConnected if none."""
        if not self.runtime.connections:
            raise NotConnected()
        from ledgerbridge.web.routes.overview import selected_connection

        chosen = selected_connection.get()  # the top bar's switcher (kept in the session)
        if chosen is not None and chosen in self.runtime.connections:
            return self.runtime.connection(chosen)
        return self.runtime.connection()

    @property
    def connected(self) -> bool:
        return bool(self.runtime.connections)

    @property
    def connection_id(self) -> int:
        return int(self.bundle().id)

    @property
    def hubspot(self) -> Any:
        """HubSpotApi: raw CRM calls (search, objects, associations, properties)."""
        return self.bundle().hubspot_api

    @property
    def hubspot_reads(self) -> HubSpotReadModel:
        """The console's HubSpot reads as typed records (invoice summaries, payments, property
        definitions)."""
        return self.catalog.reads

    @property
    def ledger(self) -> Any:
        """QuickBooksConnector (LedgerPort)."""
        return self.bundle().ledger

    @property
    def engine(self) -> Any:
        return self.bundle().engine

    @property
    def catalog(self) -> PropertyCatalog:
        """Invoice property definitions, cached per connection (rebuilt with it)."""
        bundle = self.bundle()
        cached = self._catalogs.get(int(bundle.id))
        if cached is None or cached[0] is not bundle.hubspot_api:
            cached = (bundle.hubspot_api, PropertyCatalog(HubSpotReadModel(bundle.hubspot_api)))
            self._catalogs[int(bundle.id)] = cached
        return cached[1]

    def connection(self) -> ConnectionInfo | None:
        if not self.runtime.connections:
            return None
        return self.store.get_connection(self.connection_id)

    def any_connection(self) -> ConnectionInfo | None:
        """The first stored connection, usable or not (for the connect and reconnect pages)."""
        connections = self.store.list_connections()
        return connections[0] if connections else None

    # ---- sync settings -------------------------------------------------------------------------
    def sync_settings(self) -> SyncSettings:
        return load_sync_settings(self.store, self.connection_id)

    def save_sync_settings(self, settings: SyncSettings) -> None:
        """Persist, and hand the new settings to the running engine: its next step uses them."""
        self.runtime.update_sync_settings(self.connection_id, settings)

    # ---- the engine's queue --------------------------------------------------------------------
    def invoice_key(self, hubspot_id: str) -> RecordKey:
        return RecordKey(self.connection_id, INVOICE, Side.HUBSPOT, str(hubspot_id))

    def payment_key(self, hubspot_id: str) -> RecordKey:
        return RecordKey(self.connection_id, PAYMENT, Side.HUBSPOT, str(hubspot_id))

    def mark_invoice_dirty(self, hubspot_id: str, reason: str) -> None:
        """Tell the engine an invoice changed. It would notice on its next poll anyway; this
        makes the console's own changes sync at once."""
        self.store.mark_dirty(self.invoice_key(hubspot_id), reason)
