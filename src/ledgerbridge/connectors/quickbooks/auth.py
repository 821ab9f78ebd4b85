"""QuickBooks Online OAuth 2: authorization code flow and rotating refresh tokens.

Intuit's token endpoint wants HTTP Basic client authentication and a form body. Every refresh
returns a new refresh token and the previous one stops working after a grace period, so the new
one must be persisted before use (the provider's `on_tokens` callback) and refreshes must never
run twice with the same token (single-flight in OAuthTokenProvider). `invalid_grant` means the
user has to reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import httpx

from ledgerbridge.connectors.auth import OAuthClient
from ledgerbridge.connectors.http import loads
from ledgerbridge.errors import ConfigError, Invalid, Transient

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
PRODUCTION_DISCOVERY = "https://developer.intuit.com/.well-known/openid_configuration/"
SANDBOX_DISCOVERY = "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
SCOPE = "com.intuit.quickbooks.accounting"
RECONNECT_HINT = "Reconnect QuickBooks in Settings → Sync."


def oauth_client(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    *,
    authorize_url: str = AUTHORIZE_URL,
    token_url: str = TOKEN_URL,
    revoke_url: str | None = REVOKE_URL,
    scopes: Sequence[str] = (SCOPE,),
) -> OAuthClient:
    return OAuthClient(
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=token_url,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        client_auth="basic",
        revoke_url=revoke_url,
        api_name="QuickBooks",
        reconnect_hint=RECONNECT_HINT,
    )


async def discover(http: httpx.AsyncClient, discovery_url: str) -> dict[str, str]:
    """Intuit's OpenID discovery document (the sandbox serves its own): endpoint URLs."""
    try:
        response = await http.get(discovery_url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise Transient(message=f"QuickBooks discovery document unreachable ({exc!r})") from exc
    if response.status_code != 200:
        raise ConfigError(
            message=f"QuickBooks discovery document answered {response.status_code}",
            hint="Check the QuickBooks environment URL in the configuration.",
        )
    data = loads(response.content)
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if not data.get(k)]
    if missing:
        raise ConfigError(message=f"QuickBooks discovery document lacks {', '.join(missing)}")
    return {k: str(v) for k, v in data.items() if isinstance(v, str)}


async def oauth_client_from_discovery(
    http: httpx.AsyncClient,
    discovery_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
) -> OAuthClient:
    doc = await discover(http, discovery_url)
    return oauth_client(
        client_id,
        client_secret,
        redirect_uri,
        authorize_url=doc["authorization_endpoint"],
        token_url=doc["token_endpoint"],
        revoke_url=doc.get("revocation_endpoint"),
    )


@dataclass(frozen=True)
class Callback:
    code: str
    state: str | None
    realm_id: str


def parse_callback(url_or_params: str | Mapping[str, str]) -> Callback:
    """The redirect back from Intuit: `?code=...&state=...&realmId=...` (or `?error=...`)."""
    if isinstance(url_or_params, str):
        query = parse_qs(urlparse(url_or_params).query)
        params = {k: v[0] for k, v in query.items() if v}
    else:
        params = dict(url_or_params)
    if params.get("error"):
        raise Invalid(
            message=f"QuickBooks authorization failed: {params['error']}",
            hint="Try connecting QuickBooks again and approve access.",
        )
    if not params.get("code") or not params.get("realmId"):
        raise Invalid(
            message="QuickBooks authorization callback without code or realmId",
            hint="Try connecting QuickBooks again.",
        )
    return Callback(code=params["code"], state=params.get("state"), realm_id=params["realmId"])
