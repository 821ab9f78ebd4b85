"""Intuit-style OAuth 2.0 on the sandbox's own host.

Endpoints (named in the discovery document, with this server's base URL taken from the request):
authorize `GET /connect/oauth2` (consents at once, redirects with code, state and realmId),
token `POST /oauth2/v1/tokens/bearer` (Basic client auth, form body, `authorization_code` and
`refresh_token` grants), revoke `POST /v2/oauth2/tokens/revoke` (JSON body, empty 200), userinfo
and an empty JWKS. Access tokens last 3600 s; refresh tokens last 100 days (rolling) and rotate
on every use: a superseded, revoked or unknown refresh token gets `invalid_grant`. No `id_token`
is issued (intuit-oauth would try to verify it against the JWKS).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACCESS_TTL = 3600
REFRESH_TTL = 8_726_400
CODE_TTL = 600
CLIENTS = {"sandbox-client-id": "sandbox-client-secret"}
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


def discovery(base: str) -> dict[str, Any]:
    return {
        "issuer": f"{base}/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [
            "openid",
            "email",
            "profile",
            "address",
            "phone",
            ACCOUNTING_SCOPE,
            "com.intuit.quickbooks.payment",
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


@dataclass
class OAuthStore:
    clock: Callable[[], dt.datetime]
    clients: dict[str, str] = field(default_factory=lambda: dict(CLIENTS))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _now(self) -> dt.datetime:
        return self.clock()

    def _expiry(self, seconds: int) -> str:
        return (self._now() + dt.timedelta(seconds=seconds)).isoformat()

    def _expired(self, stamp: str) -> bool:
        return dt.datetime.fromisoformat(stamp) <= self._now()

    def authenticate_client(self, authorization: str | None, form: dict[str, str]) -> str:
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError(401, "invalid_client") from exc
        if not client_id or self.clients.get(client_id) != secret:
            raise OAuthError(401, "invalid_client")
        return client_id

    def issue_code(self, client_id: str, redirect_uri: str, scope: str, realm_id: str) -> str:
        if client_id not in self.clients:
            raise OAuthError(400, "invalid_client", "unknown client_id")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "redirect_uri is required")
        if not scope.strip():
            raise OAuthError(400, "invalid_scope", "scope is required")
        code = "AB" + secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "realm_id": realm_id,
            "expires": self._expiry(CODE_TTL),
        }
        return code

    def _tokens(self, client_id: str, realm_id: str, scope: str, grant: str) -> dict[str, Any]:
        access = "eyJsYW5kYm94In0." + secrets.token_urlsafe(48)
        refresh = "RT1-" + secrets.token_urlsafe(36)
        self.access[access] = {
            "client_id": client_id,
            "realm_id": realm_id,
            "grant": grant,
            "expires": self._expiry(ACCESS_TTL),
        }
        self.refresh[refresh] = {
            "client_id": client_id,
            "realm_id": realm_id,
            "scope": scope,
            "grant": grant,
            "status": "active",
            "expires": self._expiry(REFRESH_TTL),
        }
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ACCESS_TTL,
            "x_refresh_token_expires_in": REFRESH_TTL,
        }

    def exchange(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or self._expired(entry["expires"]) or entry["client_id"] != client_id:
                raise OAuthError(400, "invalid_grant")
            if form.get("redirect_uri") and form["redirect_uri"] != entry["redirect_uri"]:
                raise OAuthError(400, "invalid_grant", "redirect_uri does not match")
            return self._tokens(client_id, entry["realm_id"], entry["scope"], secrets.token_hex(8))
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            entry = self.refresh.get(token)
            if (
                entry is None
                or entry["status"] != "active"
                or entry["client_id"] != client_id
                or self._expired(entry["expires"])
            ):
                raise OAuthError(400, "invalid_grant")
            entry["status"] = "rotated"
            return self._tokens(client_id, entry["realm_id"], entry["scope"], entry["grant"])
        raise OAuthError(400, "unsupported_grant_type")

    def revoke(self, client_id: str, token: str) -> None:
        """Revoking a refresh or access token ends the whole grant (every token of that
        connection), as disconnecting an app does."""
        entry = self.refresh.get(token) or self.access.get(token)
        if entry is None:
            return
        grant = entry["grant"]
        for refresh_entry in self.refresh.values():
            if refresh_entry["grant"] == grant:
                refresh_entry["status"] = "revoked"
        for access_token in [t for t, e in self.access.items() if e["grant"] == grant]:
            del self.access[access_token]

    def check_access(self, token: str) -> tuple[str | None, str]:
        """(realm id or None, failure detail)."""
        entry = self.access.get(token)
        if entry is None:
            return None, f"Token invalid: {token[:12]}..."
        if self._expired(entry["expires"]):
            return None, f"Token expired: {token[:12]}..."
        return entry["realm_id"], ""

    def prune(self) -> None:
        for table in (self.codes, self.access):
            for key in [k for k, v in table.items() if self._expired(v["expires"])]:
                del table[key]

    def to_json(self) -> dict[str, Any]:
        self.prune()
        return {"codes": self.codes, "access": self.access, "refresh": self.refresh}

    def load(self, data: dict[str, Any]) -> None:
        self.codes = data.get("codes", {})
        self.access = data.get("access", {})
        self.refresh = data.get("refresh", {})
