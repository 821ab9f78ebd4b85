"""Connecting and reconnecting HubSpot and QuickBooks from the console.

- OAuth (HubSpot apps, QuickBooks always): the user is sent to the provider's consent page with
  a one-time `state` kept in the session; the provider sends them back to
  `/oauth/{side}/callback`, where the code becomes tokens (stored encrypted) and the
  connection is rebuilt. The OAuth client of a connection is the one its tokens were issued to
  (`bootstrap.oauth_clients`).
- HubSpot private apps: the user pastes the new token.
- Connections to the local sandboxes (the demo) reconnect in one step: the sandboxes consent
  at once.
"""

from __future__ import annotations

import secrets
from typing import Any

from ledgerbridge.bootstrap import OAUTH_KEY, SYNC_KEY, connection_oauth, oauth_clients, to_stored
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.connectors.auth import OAuthClient, TokenSet
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.errors import ConfigError, Invalid
from ledgerbridge.store import ConnectionInfo
from ledgerbridge.store.records import CONNECTION_OK
from ledgerbridge.web.context import Console

SIDES = {"hubspot": Side.HUBSPOT, "quickbooks": Side.QUICKBOOKS}
STATE_KEY = "oauth_state"
DEFAULT_NAME = "default"


def callback_url(base_url: str, side: str) -> str:
    return f"{base_url.rstrip('/')}/oauth/{side}/callback"


def is_sandbox(info: ConnectionInfo) -> bool:
    return bool(connection_oauth(info).get("sandbox"))


def client_for(console: Console, info: ConnectionInfo, side: str) -> OAuthClient | None:
    hubspot, quickbooks = oauth_clients(console.runtime.settings, info)
    return hubspot if side == "hubspot" else quickbooks


def can_create(console: Console) -> bool:
    """A first connection can be made here when both OAuth apps are configured."""
    settings = console.runtime.settings
    return bool(settings.hubspot_client_id and settings.qbo_client_id)


def create_connection(console: Console, base_url: str) -> ConnectionInfo:
    """A new connection waiting for its tokens: both OAuth apps from the configuration, their
    redirect URIs pointing back at this console."""
    settings = console.runtime.settings
    if not can_create(console):
        raise ConfigError(
            message="The HubSpot and QuickBooks OAuth apps are not configured",
            hint="Set LEDGERBRIDGE_HUBSPOT_CLIENT_ID/_SECRET and LEDGERBRIDGE_QBO_CLIENT_ID/_SECRET.",
        )
    oauth = {
        "sandbox": False,
        "hubspot": {
            "client_id": settings.hubspot_client_id,
            "redirect_uri": callback_url(base_url, "hubspot"),
        },
        "quickbooks": {
            "client_id": settings.qbo_client_id,
            "redirect_uri": callback_url(base_url, "quickbooks"),
        },
    }
    existing = console.store.get_connection_by_name(DEFAULT_NAME)
    if existing is not None:
        console.store.set_settings(existing.id, {**existing.settings, OAUTH_KEY: oauth})
        return console.store.get_connection(existing.id) or existing
    return console.store.create_connection(
        DEFAULT_NAME,
        hubspot_auth_kind="oauth",
        settings={OAUTH_KEY: oauth, SYNC_KEY: SyncSettings().model_dump(mode="json")},
    )


def start_authorization(
    console: Console, session: dict[str, Any], info: ConnectionInfo, side: str
) -> str:
    """The provider's consent URL; the state that must come back is kept in the session."""
    client = client_for(console, info, side)
    if client is None:
        raise ConfigError(
            message=f"This connection has no {side} OAuth app",
            hint="Reconnect with a private app token, or configure the OAuth app.",
        )
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = {"state": state, "side": side, "connection": info.id}
    return client.authorization_url(state)


async def finish_authorization(
    console: Console, session: dict[str, Any], side: str, params: dict[str, str]
) -> ConnectionInfo:
    """The provider sent the user back: turn the code into tokens and rebuild the connection."""
    expected = session.pop(STATE_KEY, None) or {}
    if params.get("error"):
        raise Invalid(
            message=f"{side} did not grant access: {params.get('error_description') or params['error']}",
            hint="Try again, and approve the access on the consent page.",
        )
    if (
        not expected
        or expected.get("side") != side
        or not secrets.compare_digest(str(expected.get("state")), params.get("state", ""))
    ):
        raise Invalid(
            message="This sign-in did not start here, or it expired",
            hint="Start the reconnection again from Settings → Sync.",
        )
    info = console.store.get_connection(int(expected["connection"]))
    if info is None or "code" not in params:
        raise Invalid(
            message="The connection or the authorization code is missing", hint="Start again."
        )
    client = client_for(console, info, side)
    assert client is not None  # it built the URL the user just came back from
    account = params.get("realmId") if side == "quickbooks" else info.hubspot_portal_id
    tokens: TokenSet = await client.exchange_code(
        console.runtime.http, params["code"], account_id=account
    )
    console.store.set_tokens(info.id, SIDES[side], to_stored(tokens))
    if side == "quickbooks" and params.get("realmId"):
        console.store.update_connection(info.id, qbo_realm_id=params["realmId"])
    elif side == "hubspot" and tokens.account_id:
        console.store.update_connection(info.id, hubspot_portal_id=tokens.account_id)
    return await _restart(console, info.id)


async def save_private_app_token(
    console: Console, info: ConnectionInfo, token: str
) -> ConnectionInfo:
    console.store.set_tokens(info.id, Side.HUBSPOT, to_stored(TokenSet(access_token=token)))
    return await _restart(console, info.id)


async def reconnect_sandboxes(
    console: Console, info: ConnectionInfo, base_url: str
) -> ConnectionInfo:
    ends = SandboxEndpoints(info.hubspot_base_url, info.qbo_base_url, base_url.rstrip("/"))
    return await connect_sandboxes(console.runtime, ends, name=info.name)


def missing_side(console: Console, info: ConnectionInfo) -> str | None:
    """The side still without tokens (a new connection is authorized one side at a time)."""
    for name, side in SIDES.items():
        if console.store.get_tokens(info.id, side) is None:
            return name
    return None


async def _restart(console: Console, connection_id: int) -> ConnectionInfo:
    """Rebuild the connection's connectors and engine with the new tokens (the worker picks the
    new engine up by itself), once both sides have tokens."""
    info = console.store.get_connection(connection_id)
    assert info is not None
    if missing_side(console, info) is not None:
        return info
    console.store.set_connection_status(connection_id, CONNECTION_OK)
    conn = await console.runtime.reload_connection(connection_id)
    if conn is None:
        info = console.store.get_connection(connection_id) or info
        raise Invalid(
            message=f"The connection still cannot be used: {info.status_message or 'see the log'}",
            hint="Check the tokens and try again.",
        )
    await conn.crm.ensure_sync_properties()
    return conn.info
