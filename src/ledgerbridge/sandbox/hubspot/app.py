"""`create_app`: the HubSpot CRM API emulator as an ASGI (FastAPI) app.

Layers, outermost first: fault injection (`/_sandbox/faults`), the gateway (auth + rate limits
on `/crm/...`), then the routes. Errors of every kind leave in HubSpot's error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..faults import FaultInjector, FaultPlan
from . import oauth, routes_associations, routes_objects, routes_properties
from .clock import Clock
from .errors import ApiError, fault_body
from .gateway import Gateway
from .ratelimit import RateLimitConfig
from .sandbox import HubSpotSandbox
from .webhooks import DEFAULT_SUBSCRIPTIONS


class _Faults:
    """Builds the shared FaultInjector and hands it to the sandbox, so tests and the admin
    endpoint reach the same instance."""

    def __init__(self, app: Any, sandbox: HubSpotSandbox, plan: FaultPlan | None) -> None:
        self.injector = FaultInjector(app, plan, api_prefixes=("/crm/",), error_body=fault_body)
        sandbox.faults = self.injector

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.injector(scope, receive, send)


def create_app(
    *,
    seed: str = "empty",
    state_dir: Path | None = None,
    faults: FaultPlan | None = None,
    rate_limits: bool = False,
    private_app_token: str = "pat-sandbox",
    webhook_url: str | None = None,
    webhook_secret: str = "sandbox-client-secret",
    time_scale: float = 1.0,
    clock: Clock | None = None,
    scale: int = 0,
    scale_seed: int = 1,
) -> FastAPI:
    """A HubSpot portal at the root of the app: `/crm/v3/...`, `/crm/v4/...`, `/oauth/...`, and
    admin endpoints under `/_sandbox/`. `app.state.sandbox` is the `HubSpotSandbox`."""
    sandbox = HubSpotSandbox(
        seed=seed,
        state_dir=state_dir,
        private_app_token=private_app_token,
        client_secret=webhook_secret,
        rate_limits=rate_limits,
        time_scale=time_scale,
        clock=clock,
        scale=scale,
        scale_seed=scale_seed,
    )
    if webhook_url:
        sandbox.set_webhook(webhook_url, webhook_secret)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sandbox.webhooks.run(stop), name="hubspot-webhooks")]
        if sandbox.state_dir is not None:
            tasks.append(asyncio.create_task(sandbox.persist_loop(stop), name="hubspot-persist"))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            sandbox.save()

    app = FastAPI(
        title="HubSpot CRM API sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sandbox

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        category = "OBJECT_NOT_FOUND" if exc.status_code == 404 else "VALIDATION_ERROR"
        message = "resource not found" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(
            ApiError(exc.status_code, category, message).body(), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse(
            ApiError(400, "VALIDATION_ERROR", f"Invalid request: {exc.errors()}").body(),
            status_code=400,
        )

    app.include_router(oauth.router(sandbox.tokens))
    for prefix in ("/crm/v3/objects", "/crm/objects/2026-03"):
        app.include_router(routes_objects.router(), prefix=prefix)
    for prefix in ("/crm/v3/properties", "/crm/properties/2026-03"):
        app.include_router(routes_properties.router(), prefix=prefix)
    app.include_router(routes_associations.router())
    app.include_router(_admin_router())

    app.add_middleware(Gateway, sandbox=sandbox)
    app.add_middleware(_Faults, sandbox=sandbox, plan=faults)
    return app


def _admin_router() -> Any:
    from fastapi import APIRouter

    r = APIRouter(prefix="/_sandbox")

    @r.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        return {
            "status": "ok",
            "portalId": sb.portal_id,
            "seed": sb.seed,
            "objects": {t: len(sb.store.live(t)) for t in sorted(sb.store.records)},
        }

    @r.get("/webhooks")
    async def get_webhooks(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        cfg = sb.webhooks.config
        return {
            "url": cfg.url,
            "events": cfg.subscriptions,
            "pending": sb.webhooks.pending(),
            "deliveries": sb.webhooks.delivered[-50:],
            "failed": len(sb.webhooks.failed),
        }

    @r.put("/webhooks")
    async def put_webhooks(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        body = await request.json()
        events = body.get("events")
        sb.set_webhook(
            body.get("url"),
            body.get("secret"),
            list(events) if events is not None else list(DEFAULT_SUBSCRIPTIONS),
        )
        return await get_webhooks(request)

    @r.post("/webhooks/flush")
    async def flush_webhooks(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        return {"delivered_batches": await sb.flush_webhooks(), "pending": sb.webhooks.pending()}

    @r.post("/reset")
    async def reset(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        raw = await request.body()
        seed = (await request.json()).get("seed") if raw else None
        try:
            await asyncio.to_thread(sb.reset, seed)
        except ValueError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from None
        return {"status": "ok", "seed": seed or sb.seed}

    @r.get("/rate-limits")
    async def get_limits(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        return sb.rate_limiter.config.__dict__

    @r.put("/rate-limits")
    async def put_limits(request: Request) -> dict[str, Any]:
        sb: HubSpotSandbox = request.app.state.sandbox
        body = await request.json()
        try:
            sb.rate_limiter.config = RateLimitConfig(**{**sb.rate_limiter.config.__dict__, **body})
        except TypeError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from None
        sb.rate_limiter.reset()
        return sb.rate_limiter.config.__dict__

    return r
