"""Connecting a HubSpot portal and a QuickBooks company: the OAuth authorization-code flows.

Two ways in:
- interactive (real accounts): `authorization_url(...)` sends the user to HubSpot/Intuit; the
  console's callback route calls `complete_hubspot` / `complete_quickbooks` with the code;
- automatic (the local sandboxes consent at once): `connect_sandboxes` follows both flows
  itself, the way `ledgerbridge demo` connects.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from ledgerbridge.bootstrap import (
    OAUTH_KEY,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SYNC_KEY,
    Runtime,
    to_stored,
)
from ledgerbridge.connectors.auth import OAuthClient, TokenSet
from ledgerbridge.connectors.hubspot import auth as hubspot_auth
from ledgerbridge.connectors.quickbooks import auth as qbo_auth
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.errors import Invalid
from ledgerbridge.store import ConnectionInfo


@dataclass(frozen=True)
class SandboxEndpoints:
    hubspot_base: str  # e.g. http://127.0.0.1:8101
    qbo_base: str  # e.g. http://127.0.0.1:8102
    redirect_base: str  # the console, e.g. http://127.0.0.1:8000

    @property
    def qbo_discovery(self) -> str:
        return f"{self.qbo_base}/.well-known/openid_configuration"


async def _consent(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Open an authorize URL that consents at once; return the redirect's query parameters."""
    response = await http.get(url, follow_redirects=False)
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307) or not location:
        raise Invalid(
            message=f"authorization did not redirect (HTTP {response.status_code})",
            hint="Check the sandbox is running and the client id is right.",
        )
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items() if v}


async def sandbox_hubspot_tokens(
    http: httpx.AsyncClient, ends: SandboxEndpoints
) -> tuple[OAuthClient, TokenSet]:
    client = hubspot_auth.oauth_client(
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        f"{ends.redirect_base}/oauth/hubspot/callback",
        api_base=ends.hubspot_base,
        authorize_url=f"{ends.hubspot_base}/oauth/authorize",
    )
    state = secrets.token_urlsafe(12)
    params = await _consent(http, client.authorization_url(state))
    if params.get("state") != state or "code" not in params:
        raise Invalid(
            message="HubSpot authorization came back without a code or with a wrong state"
        )
    return client, await client.exchange_code(http, params["code"])


async def sandbox_qbo_tokens(
    http: httpx.AsyncClient, ends: SandboxEndpoints
) -> tuple[OAuthClient, TokenSet]:
    client = await qbo_auth.oauth_client_from_discovery(
        http,
        ends.qbo_discovery,
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        f"{ends.redirect_base}/oauth/quickbooks/callback",
    )
    state = secrets.token_urlsafe(12)
    params = await _consent(http, client.authorization_url(state))
    callback = qbo_auth.parse_callback(params)
    if callback.state != state:
        raise Invalid(message="QuickBooks authorization came back with a wrong state")
    return client, await client.exchange_code(http, callback.code, account_id=callback.realm_id)


def _oauth_settings(
    hs: OAuthClient, qb: OAuthClient, hubspot_base: str, sandbox: bool
) -> dict[str, Any]:
    return {
        "sandbox": sandbox,
        "hubspot": {
            "client_id": hs.client_id,
            "redirect_uri": hs.redirect_uri,
            "api_base": hubspot_base,
            "authorize_url": hs.authorize_url,
        },
        "quickbooks": {
            "client_id": qb.client_id,
            "redirect_uri": qb.redirect_uri,
            "authorize_url": qb.authorize_url,
            "token_url": qb.token_url,
            "revoke_url": qb.revoke_url,
        },
    }


async def connect_sandboxes(
    runtime: Runtime, ends: SandboxEndpoints, name: str = "demo", sync: SyncSettings | None = None
) -> ConnectionInfo:
    """Connect (or reconnect) a connection named `name` to the local sandboxes through their
    OAuth flows, store the tokens encrypted, and make sure HubSpot has the sync properties."""
    http = runtime.http
    hs_client, hs_tokens = await sandbox_hubspot_tokens(http, ends)
    qb_client, qb_tokens = await sandbox_qbo_tokens(http, ends)
    store = runtime.store
    settings: dict[str, Any] = {
        OAUTH_KEY: _oauth_settings(hs_client, qb_client, ends.hubspot_base, True)
    }
    existing = store.get_connection_by_name(name)
    if existing is None:
        settings[SYNC_KEY] = (sync or SyncSettings()).model_dump(mode="json")
        info = store.create_connection(
            name,
            hubspot_portal_id=hs_tokens.account_id,
            hubspot_auth_kind="oauth",
            hubspot_base_url=ends.hubspot_base,
            qbo_realm_id=qb_tokens.account_id,
            qbo_base_url=ends.qbo_base,
            settings=settings,
        )
    else:
        merged = {**existing.settings, **settings}
        if sync is not None:
            merged[SYNC_KEY] = sync.model_dump(mode="json")
        store.set_settings(existing.id, merged)
        store.update_connection(
            existing.id,
            hubspot_portal_id=hs_tokens.account_id,
            hubspot_base_url=ends.hubspot_base,
            qbo_realm_id=qb_tokens.account_id,
            qbo_base_url=ends.qbo_base,
        )
        info = existing
    store.set_tokens(info.id, Side.HUBSPOT, to_stored(hs_tokens))
    store.set_tokens(info.id, Side.QUICKBOOKS, to_stored(qb_tokens))
    store.set_connection_status(info.id, "ok", None)
    conn = await runtime.reload_connection(info.id)
    if conn is None:
        raise Invalid(message="the new connection could not be started", hint="See the log.")
    await conn.crm.ensure_sync_properties()
    return conn.info
