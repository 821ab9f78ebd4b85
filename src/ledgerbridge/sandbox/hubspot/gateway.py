"""The API gateway in front of `/crm/...`: bearer authentication (private-app token or a live
OAuth access token) and rate limiting, with HubSpot's 401/429 bodies and its
`X-HubSpot-RateLimit-*` headers on every counted response."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import AUTH_MESSAGE, ApiError, rate_limit_body

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox

PROTECTED_PREFIXES = ("/crm/",)


async def _send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    raw = json.dumps(body).encode()
    hdrs = [
        (b"content-type", b"application/json;charset=utf-8"),
        (b"content-length", str(len(raw)).encode()),
    ]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


class Gateway:
    def __init__(self, app: Any, sandbox: HubSpotSandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        sb = self.sandbox
        oauth = False
        if not token or token != sb.private_app_token:
            state = sb.tokens.access_token_state(token) if token else "unknown"
            if state == "expired":
                err = ApiError(
                    401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired."
                )
                await _send_json(send, 401, err.body(), {})
                return
            if state != "valid":
                await _send_json(
                    send, 401, ApiError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE).body(), {}
                )
                return
            oauth = True
        is_search = scope.get("method") == "POST" and path.rstrip("/").endswith("/search")
        rl_headers, policy = sb.rate_limiter.check(token, oauth=oauth, search=is_search)
        if policy is not None:
            await _send_json(send, 429, rate_limit_body(policy), rl_headers)
            return
        if not rl_headers:
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in rl_headers.items()]

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
