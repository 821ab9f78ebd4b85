"""Token providers and the OAuth token endpoint client: single-flight refresh with rotating
refresh tokens, persistence before use, invalid_grant → reconnect, client authentication styles."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.connectors.auth import OAuthTokenProvider, StaticTokenProvider, TokenSet
from ledgerbridge.connectors.hubspot import auth as hs_auth
from ledgerbridge.connectors.quickbooks import auth as qbo_auth
from ledgerbridge.errors import AuthExpired, ConfigError


class RotatingServer:
    """A token endpoint that rotates refresh tokens and kills the old one at once."""

    def __init__(self) -> None:
        self.valid_refresh = "r0"
        self.calls = 0
        self.bodies: list[dict[str, list[str]]] = []
        self.auth_headers: list[str | None] = []

    async def refresher(self, refresh_token: str) -> TokenSet:
        self.calls += 1
        await asyncio.sleep(0)  # let other tasks pile up on the lock
        if refresh_token != self.valid_refresh:
            raise AuthExpired(message="invalid_grant")
        self.valid_refresh = f"r{self.calls}"
        return TokenSet(
            access_token=f"a{self.calls}", refresh_token=self.valid_refresh, expires_at=10_000
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.bodies.append(form)
        self.auth_headers.append(request.headers.get("Authorization"))
        token = form.get("refresh_token", [None])[0]
        if form["grant_type"] == ["refresh_token"] and token != self.valid_refresh:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.calls += 1
        self.valid_refresh = f"r{self.calls}"
        return httpx.Response(
            200,
            json={
                "access_token": f"a{self.calls}",
                "refresh_token": self.valid_refresh,
                "token_type": "bearer",
                "expires_in": 3600,
                "x_refresh_token_expires_in": 8726400,
            },
        )


async def test_concurrent_refreshes_spend_the_refresh_token_once():
    server = RotatingServer()
    saved: list[TokenSet] = []
    provider = OAuthTokenProvider(
        TokenSet("a0", "r0", expires_at=10_000),
        server.refresher,
        on_tokens=saved.append,
        clock=lambda: 0.0,
    )
    # Ten requests all got a 401 with the same stale token.
    results = await asyncio.gather(*(provider.refresh(stale="a0") for _ in range(10)))
    assert server.calls == 1
    assert set(results) == {"a1"}
    assert [t.refresh_token for t in saved] == ["r1"]


async def test_get_refreshes_when_about_to_expire_and_persists_first():
    server = RotatingServer()
    order: list[str] = []

    async def persist(tokens: TokenSet) -> None:
        order.append(f"saved {tokens.refresh_token}")

    now = [0.0]
    provider = OAuthTokenProvider(
        TokenSet("a0", "r0", expires_at=100),
        server.refresher,
        on_tokens=persist,
        clock=lambda: now[0],
        skew=60,
    )
    assert await provider.get() == "a0"
    now[0] = 50  # within the skew window
    token = await provider.get()
    order.append(f"used {token}")
    assert order == ["saved r1", "used a1"]


async def test_refresh_after_someone_else_refreshed_reuses_theirs():
    server = RotatingServer()
    provider = OAuthTokenProvider(
        TokenSet("a0", "r0", expires_at=10_000), server.refresher, clock=lambda: 0.0
    )
    assert await provider.refresh(stale="a0") == "a1"
    assert await provider.refresh(stale="a0") == "a1"  # a late 401 for the old token
    assert server.calls == 1
    assert await provider.refresh(stale="a1") == "a2"  # the new token was rejected too


async def test_static_token_cannot_refresh():
    provider = StaticTokenProvider("pat-na1-x")
    assert await provider.get() == "pat-na1-x"
    with pytest.raises(AuthExpired) as info:
        await provider.refresh()
    assert "private app token" in info.value.hint


async def test_qbo_token_endpoint_uses_basic_auth_and_rotates():
    server = RotatingServer()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    client = qbo_auth.oauth_client(
        "cid", "secret", "http://localhost/cb", token_url="https://oauth.example/token"
    )
    client.clock = lambda: 1000.0
    async with http:
        tokens = await client.exchange_code(http, "code-1", account_id="realm-9")
        assert tokens.account_id == "realm-9"
        assert tokens.expires_at == 4600.0
        assert server.auth_headers[0] == "Basic " + base64.b64encode(b"cid:secret").decode()
        assert "client_secret" not in server.bodies[0]
        saved: list[TokenSet] = []
        provider = client.token_provider(http, tokens, on_tokens=saved.append)
        assert await provider.refresh(stale=tokens.access_token) == "a2"
        assert saved[0].refresh_token == "r2" and saved[0].account_id == "realm-9"
        # Reusing the rotated-out refresh token is invalid_grant → reconnect.
        with pytest.raises(AuthExpired) as info:
            await client.refresh(http, "r1")
    assert info.value.hint == "Reconnect QuickBooks in Settings → Sync."


async def test_hubspot_token_endpoint_sends_client_credentials_in_body():
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        seen.append(form)
        if form["client_secret"] != ["s3cret"]:
            return httpx.Response(400, json={"status": "BAD_CLIENT_SECRET", "message": "bad"})
        if form["grant_type"] == ["refresh_token"] and form["refresh_token"] != ["keep-me"]:
            return httpx.Response(
                400, json={"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown"}
            )
        return httpx.Response(
            200,
            json={
                "access_token": "CO-1",
                "refresh_token": "keep-me",
                "expires_in": 1800,
                "hub_id": 123,
                "token_type": "bearer",
            },
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = hs_auth.oauth_client(
        "cid", "s3cret", "http://localhost/cb", api_base="https://hub.example"
    )
    async with http:
        tokens = await client.exchange_code(http, "abc")
        assert tokens.account_id == "123"
        assert seen[0]["client_id"] == ["cid"]
        with pytest.raises(AuthExpired) as info:
            await client.refresh(http, "wrong")
        assert "Reconnect HubSpot" in info.value.hint
        bad = hs_auth.oauth_client(
            "cid", "nope", "http://localhost/cb", api_base="https://hub.example"
        )
        with pytest.raises(ConfigError):
            await bad.refresh(http, "keep-me")


def test_authorize_urls():
    q = qbo_auth.oauth_client("cid", "s", "http://localhost:8000/cb")
    url = q.authorization_url("st4te")
    assert url.startswith("https://appcenter.intuit.com/connect/oauth2?")
    assert "scope=com.intuit.quickbooks.accounting" in url and "state=st4te" in url
    assert "response_type=code" in url
    h = hs_auth.oauth_client(
        "cid", "s", "http://localhost:8000/cb", scopes=["oauth", "crm.objects.invoices.read"]
    )
    assert "scope=oauth+crm.objects.invoices.read" in h.authorization_url("x")


def test_qbo_callback_parsing():
    cb = qbo_auth.parse_callback("http://localhost/cb?code=C1&state=S&realmId=4620816365")
    assert (cb.code, cb.state, cb.realm_id) == ("C1", "S", "4620816365")
    with pytest.raises(Exception, match="access_denied"):
        qbo_auth.parse_callback({"error": "access_denied"})


def test_tokenset_json_roundtrip():
    tokens = TokenSet(
        "a", "r", expires_at=12.5, refresh_expires_at=99.0, scope="x y", account_id="7"
    )
    assert TokenSet.from_json(tokens.to_json()) == TokenSet(
        "a", "r", expires_at=12.5, refresh_expires_at=99.0, scope="x y", account_id="7"
    )
