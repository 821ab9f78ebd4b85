"""HubSpot authentication: a private-app token, or OAuth 2 (authorization code + refresh).

HubSpot's token endpoint takes the client id and secret as form fields (not HTTP Basic).
Access tokens last 30 minutes; refresh tokens do not rotate. Error bodies look like
`{"status": "BAD_REFRESH_TOKEN", "message": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledgerbridge.connectors.auth import (
    OAuthClient,
    StaticTokenProvider,
)

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
API_BASE = "https://api.hubapi.com"
TOKEN_PATH = "/oauth/v1/token"
RECONNECT_HINT = "Reconnect HubSpot in Settings → Sync."
SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
    "crm.objects.line_items.read",
    "crm.objects.line_items.write",
    "crm.objects.invoices.read",
    "crm.objects.invoices.write",
    "crm.objects.commercepayments.read",
    "crm.objects.commercepayments.write",
    "crm.schemas.invoices.read",
    "crm.schemas.invoices.write",
    "crm.schemas.contacts.write",
    "crm.schemas.commercepayments.write",
)


def private_app(token: str) -> StaticTokenProvider:
    """A private app's static access token."""
    return StaticTokenProvider(
        token,
        hint="HubSpot rejected the private app token (rotated or revoked). "
        "Paste the new token in Settings → Sync.",
    )


def oauth_client(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    *,
    api_base: str = API_BASE,
    authorize_url: str = AUTHORIZE_URL,
    scopes: Sequence[str] = SCOPES,
) -> OAuthClient:
    """For the sandbox, pass its base URL as both `api_base` and `authorize_url` base
    (`f"{base}/oauth/authorize"`)."""
    return OAuthClient(
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=f"{api_base.rstrip('/')}{TOKEN_PATH}",
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        client_auth="body",
        api_name="HubSpot",
        reconnect_hint=RECONNECT_HINT,
    )
