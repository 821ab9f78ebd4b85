"""Admin endpoints under `/_sandbox/` (never faulted, never throttled, no auth) and the OAuth
endpoints on the sandbox's own host.

- `GET  /_sandbox/state`         realms, entity counts, webhook and throttle status
- `POST /_sandbox/companies`     `{"seed": "empty"|"demo"}` → `{"realmId": ...}`
- `POST /_sandbox/reset`         `{"seed": ...}` → one fresh company
- `GET|PUT /_sandbox/webhooks`   `{"url", "verifier_token", "format": "cloudevents"|"legacy"}`
- `POST /_sandbox/webhooks/flush` deliver pending events now
- `PUT  /_sandbox/preferences`   `{"realmId"?, "MultiCurrencyEnabled"?, ...Preferences patch}`
- `PUT  /_sandbox/throttle`      `{"enabled", "time_scale", "per_minute", "concurrent", "batch_per_minute", "per_second"}`
- `GET  /_sandbox/outbox`        emails "sent" by `/send`
- `GET|PUT /_sandbox/faults`     the shared fault plan (handled by FaultInjector)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ledgerbridge.sandbox.quickbooks.oauth import OAuthError, discovery
from ledgerbridge.sandbox.quickbooks.state import SandboxState

router = APIRouter()


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


@router.get("/_sandbox/state")
async def sandbox_state(request: Request) -> dict[str, Any]:
    state = _state(request)
    return {
        "default_realm_id": state.default_realm_id,
        "realms": {
            realm: {name: len(table) for name, table in company.entities.items()}
            for realm, company in state.companies.items()
        },
        "webhooks": {
            "url": state.webhooks.url,
            "format": state.webhooks.format,
            "pending": state.webhooks.pending,
        },
        "throttle": {"enabled": state.throttle.enabled, "rejected": state.throttle.rejected},
    }


@router.post("/_sandbox/companies")
async def add_company(request: Request) -> dict[str, str]:
    body = await _json_body(request)
    return {"realmId": _state(request).add_company(seed=body.get("seed", "empty"))}


@router.post("/_sandbox/reset")
async def reset(request: Request) -> dict[str, str]:
    body = await _json_body(request)
    return {"realmId": _state(request).reset(body.get("seed"))}


@router.get("/_sandbox/webhooks")
async def webhooks(request: Request) -> dict[str, Any]:
    hooks = _state(request).webhooks
    return {
        "url": hooks.url,
        "format": hooks.format,
        "pending": hooks.pending,
        "deliveries": hooks.deliveries[-50:],
    }


@router.put("/_sandbox/webhooks")
async def set_webhooks(request: Request) -> Response:
    body = await _json_body(request)
    try:
        _state(request).set_webhook(body.get("url"), body.get("verifier_token"), body.get("format"))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return await webhooks(request)  # type: ignore[return-value]


@router.post("/_sandbox/webhooks/flush")
async def flush(request: Request) -> dict[str, int]:
    return {"delivered": await _state(request).flush_webhooks()}


@router.put("/_sandbox/preferences")
async def preferences(request: Request) -> dict[str, Any]:
    state = _state(request)
    body = await _json_body(request)
    realm = str(body.pop("realmId", state.default_realm_id))
    patch: dict[str, Any] = {
        k: v for k, v in body.items() if k not in ("MultiCurrencyEnabled", "HomeCurrency")
    }
    currency: dict[str, Any] = {}
    if "MultiCurrencyEnabled" in body:
        currency["MultiCurrencyEnabled"] = bool(body["MultiCurrencyEnabled"])
    if "HomeCurrency" in body:
        currency["HomeCurrency"] = {"value": str(body["HomeCurrency"])}
    if currency:
        patch.setdefault("CurrencyPrefs", {}).update(currency)
    return {"Preferences": state.set_preferences(realm, patch)}


@router.put("/_sandbox/throttle")
async def throttle(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    limiter = _state(request).throttle
    if "enabled" in body:
        limiter.enabled = bool(body["enabled"])
    if "time_scale" in body:
        limiter.time_scale = float(body["time_scale"])
    for key in ("per_minute", "concurrent", "batch_per_minute", "per_second"):
        if key in body:
            value = body[key]
            setattr(limiter.limits, key, None if value is None else int(value))
    return {"enabled": limiter.enabled, "time_scale": limiter.time_scale, **vars(limiter.limits)}


@router.get("/_sandbox/outbox")
async def outbox(request: Request, realmId: str | None = None) -> list[dict[str, Any]]:
    state = _state(request)
    return state.companies[realmId or state.default_realm_id].outbox


# ---- OAuth -----------------------------------------------------------------------------------
def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/.well-known/openid_configuration")
@router.get("/.well-known/openid_configuration/")
@router.get("/.well-known/openid_sandbox_configuration")
@router.get("/.well-known/openid_sandbox_configuration/")
async def openid_configuration(request: Request) -> dict[str, Any]:
    return discovery(_base(request))


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={"intuit_tid": "sandbox"})


@router.get("/connect/oauth2")
async def authorize(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    realm = q.get("realmId") or state.default_realm_id
    try:
        if q.get("response_type", "code") != "code":
            raise OAuthError(400, "unsupported_response_type")
        if realm not in state.companies:
            raise OAuthError(400, "invalid_request", "unknown realmId")
        code = state.oauth.issue_code(
            q.get("client_id", ""), q.get("redirect_uri", ""), q.get("scope", ""), realm
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    state.mark_dirty()
    target = q["redirect_uri"]
    params = {"code": code, "state": q.get("state", ""), "realmId": realm}
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(params)}", status_code=302)


@router.post("/oauth2/v1/tokens/bearer")
async def token(request: Request) -> Response:
    state = _state(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        client_id = state.oauth.authenticate_client(request.headers.get("authorization"), form)
        tokens = state.oauth.exchange(client_id, form)
    except OAuthError as exc:
        return _oauth_error(exc)
    state.mark_dirty()
    return JSONResponse(tokens, headers={"intuit_tid": "sandbox", "Cache-Control": "no-store"})


@router.post("/v2/oauth2/tokens/revoke")
async def revoke(request: Request) -> Response:
    state = _state(request)
    try:
        client_id = state.oauth.authenticate_client(request.headers.get("authorization"), {})
        body = await _json_body(request)
    except OAuthError as exc:
        return _oauth_error(exc)
    except ValueError:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    state.oauth.revoke(client_id, str(body.get("token", "")))
    state.mark_dirty()
    return Response(status_code=200)


@router.get("/v1/openid_connect/userinfo")
async def userinfo(request: Request) -> Response:
    state = _state(request)
    header = request.headers.get("authorization", "")
    realm, _ = (
        state.oauth.check_access(header[7:].strip())
        if header.lower().startswith("bearer ")
        else (None, "")
    )
    if realm is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(
        {
            "sub": f"sandbox-user-{realm}",
            "email": "sandbox.user@example.com",
            "emailVerified": True,
            "givenName": "Sandbox",
            "familyName": "User",
        }
    )


@router.get("/op/v1/jwks")
async def jwks() -> dict[str, Any]:
    return {"keys": []}
