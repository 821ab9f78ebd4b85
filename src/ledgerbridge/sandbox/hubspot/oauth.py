"""HubSpot OAuth 2.0: the authorize redirect (consent is immediate), the token endpoint with the
authorization_code and refresh_token grants, and token introspection.

Access tokens last 1800 s of sandbox time; refresh tokens do not expire or rotate (as in
HubSpot) but can be deleted. Error bodies follow HubSpot's OAuth shape
`{status: "BAD_AUTH_CODE", message, correlationId}`.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .clock import Clock

CLIENT_ID = "sandbox-client-id"
ACCESS_TOKEN_TTL = 1800
DEFAULT_SCOPES = [
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.line_items.read",
    "crm.objects.line_items.write",
    "crm.objects.products.read",
    "crm.objects.products.write",
    "crm.objects.invoices.read",
    "crm.objects.invoices.write",
    "crm.objects.commercepayments.read",
    "crm.objects.commercepayments.write",
    "crm.schemas.invoices.read",
    "crm.schemas.invoices.write",
]


@dataclass
class TokenStore:
    clock: Clock
    client_secret: str
    hub_id: int
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def access_token_state(self, token: str) -> str:
        """'valid', 'expired' or 'unknown'."""
        info = self.access.get(token)
        if info is None:
            return "unknown"
        return "valid" if info["expires_at"] > self.clock.now() else "expired"

    def issue(self, refresh_token: str, scopes: list[str]) -> dict[str, Any]:
        token = "CO" + secrets.token_urlsafe(48)
        self.access[token] = {
            "expires_at": self.clock.now() + ACCESS_TOKEN_TTL,
            "scopes": scopes,
            "refresh_token": refresh_token,
        }
        return {
            "token_type": "bearer",
            "access_token": token,
            "refresh_token": refresh_token,
            "expires_in": ACCESS_TOKEN_TTL,
            "hub_id": self.hub_id,
            "scopes": scopes,
            "token_use": "access_token",
        }

    def to_dict(self) -> dict[str, Any]:
        return {"refresh": self.refresh}

    def load(self, data: dict[str, Any]) -> None:
        self.refresh = data.get("refresh", {})


def _oauth_error(status: str, message: str, code: int = 400) -> JSONResponse:
    return JSONResponse(
        {"status": status, "message": message, "correlationId": str(uuid.uuid4())}, status_code=code
    )


def router(tokens: TokenStore) -> APIRouter:
    r = APIRouter()

    @r.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID:
            return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return _oauth_error("BAD_REDIRECT_URI", "missing redirect_uri")
        scopes = (q.get("scope") or "oauth").split()
        code = secrets.token_urlsafe(24)
        with tokens.lock:
            tokens.codes[code] = {
                "redirect_uri": redirect_uri,
                "scopes": scopes,
                "expires_at": tokens.clock.now() + 600,
            }
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)

    async def token(request: Request) -> Response:
        form = await request.form()
        f = {k: str(v) for k, v in form.items()}
        grant = f.get("grant_type")
        if f.get("client_id") != CLIENT_ID:
            return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if f.get("client_secret") != tokens.client_secret:
            return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        with tokens.lock:
            if grant == "authorization_code":
                info = tokens.codes.pop(f.get("code", ""), None)
                if info is None or info["expires_at"] < tokens.clock.now():
                    return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
                if f.get("redirect_uri") != info["redirect_uri"]:
                    return _oauth_error(
                        "BAD_REDIRECT_URI", "redirect_uri does not match the authorization request"
                    )
                refresh = str(uuid.uuid4())
                tokens.refresh[refresh] = {"scopes": info["scopes"]}
                return JSONResponse(tokens.issue(refresh, info["scopes"]))
            if grant == "refresh_token":
                refresh = f.get("refresh_token", "")
                if refresh not in tokens.refresh:
                    return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
                return JSONResponse(tokens.issue(refresh, tokens.refresh[refresh]["scopes"]))
        return _oauth_error("BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}")

    r.add_api_route("/oauth/v1/token", token, methods=["POST"])
    r.add_api_route("/oauth/v3/token", token, methods=["POST"])

    @r.get("/oauth/v1/access-tokens/{token}")
    async def access_token_info(token: str) -> Response:
        info = tokens.access.get(token)
        if info is None or tokens.access_token_state(token) != "valid":
            return _oauth_error("BAD_ACCESS_TOKEN", "missing or unknown access token", 404)
        return JSONResponse(
            {
                "token": token,
                "user": "sandbox@example.com",
                "hub_domain": "sandbox.example",
                "scopes": info["scopes"],
                "scope_to_scope_group_pks": [],
                "hub_id": tokens.hub_id,
                "app_id": 1160452,
                "expires_in": int(info["expires_at"] - tokens.clock.now()),
                "user_id": 1,
                "token_type": "access",
            }
        )

    @r.get("/oauth/v1/refresh-tokens/{token}")
    async def refresh_token_info(token: str) -> Response:
        info = tokens.refresh.get(token)
        if info is None:
            return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", 404)
        return JSONResponse(
            {
                "token": token,
                "user": "sandbox@example.com",
                "hub_domain": "sandbox.example",
                "scopes": info["scopes"],
                "hub_id": tokens.hub_id,
                "client_id": CLIENT_ID,
                "user_id": 1,
                "token_type": "refresh",
            }
        )

    @r.delete("/oauth/v1/refresh-tokens/{token}")
    async def delete_refresh_token(token: str) -> Response:
        with tokens.lock:
            if tokens.refresh.pop(token, None) is None:
                return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", 404)
            for at in [k for k, v in tokens.access.items() if v["refresh_token"] == token]:
                tokens.access.pop(at)
        return Response(status_code=204)

    return r
