"""The one composition root: settings → store, connectors, engine, worker.

Nothing here runs at import time. `build_runtime(settings)` returns a `Runtime` holding the store,
one shared httpx client, and per connection its HubSpot and QuickBooks connectors and its
SyncEngine. Entry points (CLI, console, Celery tasks) get everything they need from a Runtime.

OAuth client settings for a connection live in its settings JSON under "oauth" (token URLs and
client ids; see `connection_oauth`); client secrets come from the environment (Settings), except
for connections to the local sandboxes, whose well-known sandbox secrets are not secret.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerbridge import metrics, webhook_intake
from ledgerbridge.connectors.auth import OAuthClient, TokenProvider, TokenSet
from ledgerbridge.connectors.budget import Budgets
from ledgerbridge.connectors.hubspot import auth as hubspot_auth
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.quickbooks import auth as qbo_auth
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.errors import AuthExpired, ConfigError
from ledgerbridge.pacing import connection_budgets
from ledgerbridge.private_files import private_dir
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionInfo, SqlStore, StoredTokens

log = logging.getLogger(__name__)

SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_VERIFIER_TOKEN = "sandbox-verifier-token"
SYNC_KEY = "sync"
OAUTH_KEY = "oauth"


# --------------------------------------------------------------------------------------------
# Token conversion between the store (datetimes, encrypted) and the connectors (epoch seconds)
# --------------------------------------------------------------------------------------------
def _ts(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value else None


def _dt(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value else None


def to_stored(tokens: TokenSet) -> StoredTokens:
    return StoredTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=_dt(tokens.expires_at),
        refresh_expires_at=_dt(tokens.refresh_expires_at),
    )


def to_token_set(stored: StoredTokens, account_id: str | None) -> TokenSet:
    return TokenSet(
        access_token=stored.access_token,
        refresh_token=stored.refresh_token,
        expires_at=_ts(stored.expires_at),
        refresh_expires_at=_ts(stored.refresh_expires_at),
        account_id=account_id,
    )


# --------------------------------------------------------------------------------------------
# Per-connection settings
# --------------------------------------------------------------------------------------------
def load_sync_settings(store: SqlStore, connection_id: int) -> SyncSettings:
    raw = store.get_settings(connection_id).get(SYNC_KEY)
    if not raw:
        return SyncSettings()
    return SyncSettings.model_validate(raw)


def save_sync_settings(store: SqlStore, connection_id: int, sync: SyncSettings) -> None:
    current = dict(store.get_settings(connection_id))
    current[SYNC_KEY] = sync.model_dump(mode="json")
    store.set_settings(connection_id, current)


def connection_oauth(info: ConnectionInfo) -> dict[str, Any]:
    return dict(info.settings.get(OAUTH_KEY) or {})


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def oauth_clients(
    settings: Settings, info: ConnectionInfo
) -> tuple[OAuthClient | None, OAuthClient | None]:
    """The OAuth clients (HubSpot, QuickBooks) this connection's tokens were issued to."""
    oauth = connection_oauth(info)
    sandbox = bool(oauth.get("sandbox"))
    hs_client = qb_client = None
    hs = oauth.get("hubspot")
    if hs and info.hubspot_auth_kind == "oauth":
        secret = _secret(settings.hubspot_client_secret) or (
            SANDBOX_CLIENT_SECRET if sandbox else None
        )
        if not secret:
            raise ConfigError(
                message="LEDGERBRIDGE_HUBSPOT_CLIENT_SECRET is not set",
                hint="Set the HubSpot app's client secret in the environment.",
            )
        hs_client = hubspot_auth.oauth_client(
            hs["client_id"],
            secret,
            hs.get("redirect_uri", ""),
            api_base=hs.get("api_base", info.hubspot_base_url),
            authorize_url=hs.get("authorize_url", hubspot_auth.AUTHORIZE_URL),
        )
    qb = oauth.get("quickbooks")
    if qb:
        secret = _secret(settings.qbo_client_secret) or (SANDBOX_CLIENT_SECRET if sandbox else None)
        if not secret:
            raise ConfigError(
                message="LEDGERBRIDGE_QBO_CLIENT_SECRET is not set",
                hint="Set the QuickBooks app's client secret in the environment.",
            )
        qb_client = qbo_auth.oauth_client(
            qb["client_id"],
            secret,
            qb.get("redirect_uri", ""),
            authorize_url=qb.get("authorize_url", qbo_auth.AUTHORIZE_URL),
            token_url=qb.get("token_url", qbo_auth.TOKEN_URL),
            revoke_url=qb.get("revoke_url", qbo_auth.REVOKE_URL),
        )
    return hs_client, qb_client


# --------------------------------------------------------------------------------------------
# Runtime
# --------------------------------------------------------------------------------------------
@dataclass
class ConnectionRuntime:
    info: ConnectionInfo
    crm: HubSpotConnector
    ledger: QuickBooksConnector
    engine: SyncEngine
    sync_settings: SyncSettings
    hubspot_tokens: TokenProvider
    qbo_tokens: TokenProvider

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def hubspot_api(self) -> Any:
        return self.crm.api

    @property
    def qbo_api(self) -> Any:
        return self.ledger.api


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    http: httpx.AsyncClient
    connections: dict[int, ConnectionRuntime] = field(default_factory=dict)
    # Set by the process that serves the console once sandboxes, connection and worker are up.
    ready: bool = False
    # Extra facts for the console (e.g. sandbox URLs in the demo).
    links: dict[str, str] = field(default_factory=dict)
    # Seen v1/v2 HubSpot signatures, when legacy signatures are enabled (webhook_intake).
    hubspot_legacy_guard: Any = None
    # Called with a connection id when a webhook marked some of its records (distributed mode:
    # the web tier asks a worker to sync them now instead of at the next scheduled round).
    on_webhook: Callable[[int], None] | None = None
    _owns_http: bool = True
    # One rate budget per QBO realm and HubSpot portal, shared by this runtime's connections.
    budgets: Budgets = field(default_factory=Budgets)

    def connection(self, connection_id: int | None = None) -> ConnectionRuntime:
        if connection_id is None:
            if not self.connections:
                raise ConfigError(
                    message="no connection is set up",
                    hint="Connect HubSpot and QuickBooks in Settings → Sync.",
                )
            return self.connections[min(self.connections)]
        try:
            return self.connections[connection_id]
        except KeyError:
            raise ConfigError(message=f"no connection {connection_id}") from None

    async def load_connections(self) -> None:
        for info in self.store.list_connections():
            await self.reload_connection(info.id)

    async def reload_connection(self, connection_id: int) -> ConnectionRuntime | None:
        """(Re)build a connection's connectors and engine, e.g. after its settings changed."""
        info = self.store.get_connection(connection_id)
        if info is None:
            self.connections.pop(connection_id, None)
            return None
        try:
            conn = build_connection(self.settings, self.store, self.http, info, self.budgets)
        except (ConfigError, AuthExpired) as exc:
            log.warning("connection %s is not usable: %s", info.name, exc)
            self.store.set_connection_status(info.id, "reconnect_required", str(exc))
            self.connections.pop(connection_id, None)
            return None
        self.connections[connection_id] = conn
        return conn

    def update_sync_settings(self, connection_id: int, sync: SyncSettings) -> None:
        save_sync_settings(self.store, connection_id, sync)
        conn = self.connections.get(connection_id)
        if conn is not None:
            conn.sync_settings = sync
            conn.engine.settings = sync
            # A new mapping may name a property created a moment ago: read it from now on.
            conn.crm.forget_invoice_properties()

    # ---- webhooks (entry points are thin routes; the logic is here) ------------------------
    async def handle_hubspot_webhook(
        self, method: str, uri: str, body: bytes, headers: Mapping[str, str]
    ) -> int:
        events, allowed = webhook_intake.hubspot(self, method, uri, body, headers)
        return self._mark(Side.HUBSPOT, events, allowed) + await self._mark_parents(events, allowed)

    async def _mark_parents(
        self, events: list[WebhookEvent], allowed: frozenset[int] | None = None
    ) -> int:
        marked = 0
        for conn in self._receivers(allowed):
            stats = await conn.engine.handle_invoice_children(events, conn.info.hubspot_portal_id)
            marked += stats.marked
        return marked

    def handle_qbo_webhook(self, body: bytes, signature: str | None) -> int:
        events, allowed = webhook_intake.quickbooks(self, body, signature)
        return self._mark(Side.QUICKBOOKS, events, allowed)

    def _mark(
        self, side: Side, events: list[WebhookEvent], allowed: frozenset[int] | None = None
    ) -> int:
        marked = 0
        for conn in self._receivers(allowed):
            account = (
                conn.info.hubspot_portal_id if side is Side.HUBSPOT else conn.info.qbo_realm_id
            )
            stats = conn.engine.handle_webhook(side, events, account)
            marked += stats.marked
            if stats.marked and self.on_webhook is not None:
                self.on_webhook(conn.info.id)
        return marked

    def _receivers(self, allowed: frozenset[int] | None) -> list[ConnectionRuntime]:
        """`allowed`: the connections a delivery may reach (one verified with the public sandbox
        secret reaches sandbox connections only); None: all of them."""
        return [c for c in self.connections.values() if allowed is None or c.id in allowed]

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()
        self.store.close()


class _Watched:
    """A token provider that turns a rejected refresh (invalid_grant, a revoked private-app
    token) into a connection-level state: "reconnect required", with the reason, shown in the
    console and `ledgerbridge status`. Records keep their place in the queue meanwhile."""

    def __init__(
        self,
        inner: TokenProvider,
        store: SqlStore,
        connection_id: int,
        side: Side,
        account: str | None = None,
    ) -> None:
        self.account = account  # portal or realm: a metrics label for the HTTP layer
        self._inner = inner
        self._store = store
        self._connection_id = connection_id
        self._side = side

    def _flag(self, exc: AuthExpired) -> None:
        name = "HubSpot" if self._side is Side.HUBSPOT else "QuickBooks"
        hint = f" {exc.hint}" if exc.hint else ""
        log.warning("%s authorization for connection %s was rejected", name, self._connection_id)
        self._store.set_connection_status(
            self._connection_id, "reconnect_required", f"{name}: {exc.message}.{hint}"
        )

    async def get(self) -> str:
        try:
            return await self._inner.get()
        except AuthExpired as exc:
            self._flag(exc)
            raise

    async def refresh(self, stale: str | None = None) -> str:
        try:
            return await self._inner.refresh(stale)
        except AuthExpired as exc:
            self._flag(exc)
            raise


def _oauth_tokens(
    store: SqlStore,
    http: httpx.AsyncClient,
    info: ConnectionInfo,
    side: Side,
    stored: StoredTokens,
    client: OAuthClient,
) -> TokenProvider:
    """Stored tokens as a refreshing provider; refreshed tokens are stored again, encrypted."""
    account = info.hubspot_portal_id if side is Side.HUBSPOT else info.qbo_realm_id

    def save(tokens: TokenSet) -> None:
        store.set_tokens(info.id, side, to_stored(tokens))
        metrics.token_refreshed(side.value, account)
        # Never the tokens themselves: which connection, which side, when they now expire.
        log.info(
            "%s token refreshed for account %s",
            side.value,
            account,
            extra={"connection_id": info.id},
        )

    return client.token_provider(http, to_token_set(stored, account), on_tokens=save)


def _hubspot_tokens(
    store: SqlStore, http: httpx.AsyncClient, info: ConnectionInfo, client: OAuthClient | None
) -> TokenProvider:
    stored = store.get_tokens(info.id, Side.HUBSPOT)
    if stored is None:
        raise AuthExpired(message="HubSpot is not connected", hint=hubspot_auth.RECONNECT_HINT)
    if info.hubspot_auth_kind == "private_app":
        return hubspot_auth.private_app(stored.access_token)
    if client is None:
        raise ConfigError(
            message="HubSpot OAuth client is not configured for this connection",
            hint=hubspot_auth.RECONNECT_HINT,
        )
    return _oauth_tokens(store, http, info, Side.HUBSPOT, stored, client)


def _qbo_tokens(
    store: SqlStore, http: httpx.AsyncClient, info: ConnectionInfo, client: OAuthClient | None
) -> TokenProvider:
    stored = store.get_tokens(info.id, Side.QUICKBOOKS)
    if stored is None or client is None:
        raise AuthExpired(message="QuickBooks is not connected", hint=qbo_auth.RECONNECT_HINT)
    return _oauth_tokens(store, http, info, Side.QUICKBOOKS, stored, client)


def build_connection(
    settings: Settings,
    store: SqlStore,
    http: httpx.AsyncClient,
    info: ConnectionInfo,
    budgets: Budgets | None = None,
) -> ConnectionRuntime:
    hs_client, qb_client = oauth_clients(settings, info)
    hs_tokens = _hubspot_tokens(store, http, info, hs_client)
    qb_tokens = _qbo_tokens(store, http, info, qb_client)
    if not info.qbo_realm_id:
        raise ConfigError(
            message="QuickBooks company (realm id) is unknown", hint=qbo_auth.RECONNECT_HINT
        )
    hs_tokens = _Watched(hs_tokens, store, info.id, Side.HUBSPOT, info.hubspot_portal_id)
    qb_tokens = _Watched(qb_tokens, store, info.id, Side.QUICKBOOKS, info.qbo_realm_id)
    hs_budget, qb_budget = connection_budgets(
        settings, info.qbo_realm_id, info.hubspot_portal_id, budgets
    )
    crm = HubSpotConnector(http, hs_tokens, base_url=info.hubspot_base_url, budget=hs_budget)
    ledger = QuickBooksConnector(
        http, qb_tokens, info.qbo_realm_id, base_url=info.qbo_base_url, budget=qb_budget
    )
    sync = load_sync_settings(store, info.id)
    engine = SyncEngine(info.id, crm, ledger, store, sync)
    engine.on_report = metrics.steps
    return ConnectionRuntime(
        info=info,
        crm=crm,
        ledger=ledger,
        engine=engine,
        sync_settings=sync,
        hubspot_tokens=hs_tokens,
        qbo_tokens=qb_tokens,
    )


def make_http(timeout: float = 30.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


async def build_runtime(
    settings: Settings, *, http: httpx.AsyncClient | None = None, store: SqlStore | None = None
) -> Runtime:
    private_dir(settings.data_dir)
    store = store or SqlStore.from_settings(settings)
    runtime = Runtime(
        settings=settings, store=store, http=http or make_http(), _owns_http=http is None
    )
    await runtime.load_connections()
    return runtime
