"""Tokens for both connectors: a TokenProvider hands out access tokens and refreshes them.

- `StaticTokenProvider`: a HubSpot private-app token (never refreshed; a 401 means it was
  rotated or revoked, so the user must paste a new one).
- `OAuthTokenProvider`: OAuth 2 with rotating refresh tokens (QBO rotates on every refresh).
  Refresh is single-flight: one asyncio.Lock per provider, and a check that the token did not
  change while waiting, so two concurrent 401s never spend the same refresh token twice. New
  tokens are handed to `on_tokens` (the store encrypts and persists them) before first use.
- `OAuthClient`: the authorization-code flow (authorize URL, code exchange, refresh, revoke)
  against a token endpoint; each API configures its own client authentication style.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from ledgerbridge.connectors.http import RetryPolicy, loads
from ledgerbridge.errors import AuthExpired, ConfigError, RateLimited, SyncError, Transient


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # epoch seconds
    refresh_expires_at: float | None = None  # epoch seconds (QBO x_refresh_token_expires_in)
    token_type: str = "bearer"
    scope: str | None = None
    account_id: str | None = None  # QBO realmId / HubSpot hub_id, when the flow tells us
    raw: Mapping[str, Any] = field(default_factory=dict)

    def expires_soon(self, now: float, skew: float = 60.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - skew

    @classmethod
    def from_response(
        cls, data: Mapping[str, Any], now: float, account_id: str | None = None
    ) -> TokenSet:
        access = data.get("access_token")
        if not access:
            raise Transient(message="token endpoint answered without an access_token")
        expires_in = data.get("expires_in")
        refresh_in = data.get("x_refresh_token_expires_in")
        hub_id = data.get("hub_id")
        return cls(
            access_token=str(access),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            expires_at=now + float(expires_in) if expires_in is not None else None,
            refresh_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            token_type=str(data.get("token_type") or "bearer"),
            scope=_scope_text(data.get("scope") or data.get("scopes")),
            account_id=account_id or (str(hub_id) if hub_id is not None else None),
            raw={
                k: v
                for k, v in data.items()
                if k not in ("access_token", "refresh_token", "id_token")
            },
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (the store encrypts it at rest)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "token_type": self.token_type,
            "scope": self.scope,
            "account_id": self.account_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
            refresh_expires_at=data.get("refresh_expires_at"),
            token_type=data.get("token_type") or "bearer",
            scope=data.get("scope"),
            account_id=data.get("account_id"),
        )


def _scope_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


class TokenProvider(Protocol):
    async def get(self) -> str:
        """A valid access token (refreshing first when it is about to expire)."""

    async def refresh(self, stale: str | None = None) -> str:
        """A fresh access token. `stale` is the token that just failed; if another task already
        replaced it, the replacement is returned without spending the refresh token again."""


class StaticTokenProvider:
    """A long-lived token (HubSpot private app). It cannot be refreshed."""

    def __init__(
        self,
        token: str,
        *,
        hint: str = "The HubSpot private app token was rotated or "
        "revoked. Paste the new token in Settings → Sync.",
    ) -> None:
        self._token = token
        self._hint = hint

    async def get(self) -> str:
        return self._token

    async def refresh(self, stale: str | None = None) -> str:
        raise AuthExpired(
            message="the access token was rejected (401)", hint=self._hint, status=401
        )


OnTokens = Callable[[TokenSet], Awaitable[None] | None]
Refresher = Callable[[str], Awaitable[TokenSet]]


class OAuthTokenProvider:
    """Access tokens from an OAuth grant with (possibly rotating) refresh tokens."""

    def __init__(
        self,
        tokens: TokenSet,
        refresher: Refresher,
        *,
        on_tokens: OnTokens | None = None,
        clock: Callable[[], float] = time.time,
        skew: float = 60.0,
    ) -> None:
        self._tokens = tokens
        self._refresher = refresher
        self._on_tokens = on_tokens
        self._clock = clock
        self._skew = skew
        self._lock = asyncio.Lock()
        self.refresh_count = 0

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    async def get(self) -> str:
        current = self._tokens
        if current.expires_soon(self._clock(), self._skew):
            return await self.refresh(stale=current.access_token)
        return current.access_token

    async def refresh(self, stale: str | None = None) -> str:
        seen = self._tokens.access_token if stale is None else stale
        async with self._lock:
            current = self._tokens
            if current.access_token != seen and not current.expires_soon(self._clock(), self._skew):
                # Someone refreshed while we waited for the lock: use theirs.
                return current.access_token
            if not current.refresh_token:
                raise AuthExpired(
                    message="the access token expired and there is no refresh token",
                    hint="Reconnect the account in Settings → Sync.",
                )
            new = await self._refresher(current.refresh_token)
            if new.refresh_token is None:
                # Providers that do not rotate (HubSpot) keep the old refresh token valid.
                new = replace(new, refresh_token=current.refresh_token)
            if new.account_id is None and current.account_id is not None:
                new = replace(new, account_id=current.account_id)
            # Keep the new tokens in memory first: the old refresh token may already be dead.
            self._tokens = new
            self.refresh_count += 1
            if self._on_tokens is not None:
                result = self._on_tokens(new)
                if inspect.isawaitable(result):
                    await result
            return new.access_token


# --------------------------------------------------------------------------------------------
# Authorization-code flow and token endpoint
# --------------------------------------------------------------------------------------------
@dataclass
class OAuthClient:
    """One OAuth 2 client registration. `client_auth` is "basic" (HTTP Basic with the client
    id/secret, as Intuit requires) or "body" (client_id/client_secret form fields, as HubSpot
    requires)."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    redirect_uri: str
    scopes: Sequence[str] = ()
    client_auth: str = "basic"
    revoke_url: str | None = None
    api_name: str = "OAuth"
    reconnect_hint: str = "Reconnect the account in Settings → Sync."
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time

    def authorization_url(self, state: str, extra: Mapping[str, str] | None = None) -> str:
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "state": state,
        }
        if self.scopes:
            params["scope"] = " ".join(self.scopes)
        params.update(extra or {})
        sep = "&" if "?" in self.authorize_url else "?"
        return f"{self.authorize_url}{sep}{urlencode(params)}"

    async def exchange_code(
        self, http: httpx.AsyncClient, code: str, account_id: str | None = None
    ) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        return await self._token_call(http, form, account_id)

    async def refresh(
        self, http: httpx.AsyncClient, refresh_token: str, account_id: str | None = None
    ) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token_call(http, form, account_id)

    def refresher(self, http: httpx.AsyncClient, account_id: str | None = None) -> Refresher:
        async def run(refresh_token: str) -> TokenSet:
            return await self.refresh(http, refresh_token, account_id)

        return run

    def token_provider(
        self, http: httpx.AsyncClient, tokens: TokenSet, on_tokens: OnTokens | None = None
    ) -> OAuthTokenProvider:
        """Stored tokens as a provider that refreshes itself (single-flight) through this
        client; `on_tokens` receives every new token set, to store it again."""
        return OAuthTokenProvider(
            tokens, self.refresher(http, tokens.account_id), on_tokens=on_tokens, clock=self.clock
        )

    async def revoke(self, http: httpx.AsyncClient, token: str) -> None:
        if not self.revoke_url:
            return
        response = await http.post(
            self.revoke_url,
            json={"token": token},
            headers={"Authorization": self._basic(), "Accept": "application/json"},
        )
        if response.status_code >= 400:
            raise Transient(
                message=f"{self.api_name}: revoke failed with {response.status_code}",
                status=response.status_code,
            )

    def _basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    async def _token_call(
        self, http: httpx.AsyncClient, form: dict[str, str], account_id: str | None
    ) -> TokenSet:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = dict(form)
        if self.client_auth == "basic":
            headers["Authorization"] = self._basic()
        else:
            body["client_id"] = self.client_id
            body["client_secret"] = self.client_secret

        async def attempt(_: int) -> TokenSet:
            try:
                response = await http.post(self.token_url, content=urlencode(body), headers=headers)
            except httpx.TransportError as exc:
                # A refresh whose answer was lost may have rotated the token; the previous
                # refresh token stays valid for a grace period, so resending it is the fix.
                raise Transient(
                    message=f"{self.api_name}: token endpoint unreachable ({exc!r})"
                ) from exc
            return self._parse(response, account_id)

        return await self.retry.run(attempt)

    def _parse(self, response: httpx.Response, account_id: str | None) -> TokenSet:
        try:
            data = loads(response.content) if response.content else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status_code == 200:
            return TokenSet.from_response(data, self.clock(), account_id)
        error = str(data.get("error") or data.get("status") or "")
        detail = str(data.get("error_description") or data.get("message") or response.text[:300])
        if response.status_code == 429:
            raise RateLimited(message=f"{self.api_name}: token endpoint rate limited", status=429)
        if response.status_code >= 500:
            raise Transient(
                message=f"{self.api_name}: token endpoint error {response.status_code}: {detail}",
                status=response.status_code,
            )
        if error in ("invalid_grant", "BAD_REFRESH_TOKEN", "BAD_AUTH_CODE", "EXPIRED_AUTH_CODE"):
            raise AuthExpired(
                message=f"{self.api_name}: {error}: {detail}".rstrip(": "),
                hint=self.reconnect_hint,
                code=error,
                status=response.status_code,
            )
        if (
            error in ("invalid_client", "BAD_CLIENT_ID", "BAD_CLIENT_SECRET")
            or response.status_code == 401
        ):
            raise ConfigError(
                message=f"{self.api_name}: the client id or secret was rejected ({error or response.status_code})",
                hint="Check the app's client id and client secret in the configuration.",
                code=error or None,
                status=response.status_code,
            )
        raise _token_error(self.api_name, response.status_code, error, detail, self.reconnect_hint)


def _token_error(api: str, status: int, error: str, detail: str, hint: str) -> SyncError:
    return AuthExpired(
        message=f"{api}: token request failed ({status} {error}): {detail}",
        hint=hint,
        code=error or None,
        status=status,
    )
