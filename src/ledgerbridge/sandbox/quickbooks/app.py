"""The QuickBooks Online API sandbox as a FastAPI app: `create_app(...)`.

Middleware, outermost first: throttling (so injected latency keeps requests "in flight"), then
the shared FaultInjector (5xx/429/latency/commit-then-timeout on `/v3/` paths), then the routes.
The lifespan runs webhook delivery and the state autosave in the background; both stop cleanly
at shutdown. In-process clients (httpx.ASGITransport) do not run the lifespan: call
`await app.state.sandbox.flush_webhooks()` and rely on the synchronous saves instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ledgerbridge.sandbox.faults import ASGIApp, FaultInjector, FaultPlan
from ledgerbridge.sandbox.quickbooks import admin, errors, routes
from ledgerbridge.sandbox.quickbooks.state import SandboxState
from ledgerbridge.sandbox.quickbooks.throttle import ThrottleMiddleware
from ledgerbridge.sandbox.quickbooks.wire import response_time


def _fault_body(state: SandboxState):  # returns the FaultInjector callback
    def body(status: int) -> tuple[dict[str, Any], dict[str, str]]:
        now = response_time(dt.datetime.now(dt.UTC), state.tz)
        if status == 429:
            return {"Fault": errors.throttled(), "time": now}, {}
        return {"Fault": errors.system_error().fault(), "time": now}, {}

    return body


class _QboFaults(FaultInjector):
    retry_after_header = False  # QBO answers 429 without Retry-After
    """FaultInjector that registers itself on the sandbox state, so tests can read its counts."""

    def __init__(self, app: ASGIApp, *, sandbox: SandboxState, plan: FaultPlan | None) -> None:
        super().__init__(app, plan, api_prefixes=("/v3/",), error_body=_fault_body(sandbox))
        sandbox.fault_injector = self


def create_app(
    *,
    seed: str = "empty",
    state_dir: Path | None = None,
    faults: FaultPlan | None = None,
    throttle: bool = False,
    time_scale: float = 1.0,
    static_token: str = "qbo-sandbox-token",
    webhook_url: str | None = None,
    verifier_token: str = "sandbox-verifier-token",
    webhook_format: str = "cloudevents",
    clock: Callable[[], dt.datetime] | None = None,
    rounding: str = "half_up",
    scale: int = 0,
    scale_seed: int = 1,
) -> FastAPI:
    """Build the sandbox. `app.state.sandbox` is the SandboxState (see state.py for its API).
    `clock` (aware UTC datetimes) drives timestamps, token lifetimes and the CDC window; it is
    also the state's `clock` attribute, which tests may replace later. `rounding` ("half_up" or
    "half_even") is how the company rounds amounts it computes (Qty x UnitPrice, percent
    discounts, tax): QBO does not document it, see docs/sandboxes.md."""
    state = SandboxState(
        seed_name=seed,
        state_dir=state_dir,
        static_token=static_token,
        throttle=throttle,
        time_scale=time_scale,
        webhook_url=webhook_url,
        verifier_token=verifier_token,
        webhook_format=webhook_format,
        rounding=rounding,
        scale=scale,
        scale_seed=scale_seed,
        **({"clock": clock} if clock is not None else {}),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        state._loop_running = True
        tasks = [
            asyncio.create_task(state.webhooks.run(stop), name="qbo-webhooks"),
            asyncio.create_task(state.autosave(stop), name="qbo-autosave"),
        ]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title="QuickBooks Online API sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state
    app.include_router(admin.router)
    app.include_router(routes.router)
    app.add_middleware(_QboFaults, sandbox=state, plan=faults)
    app.add_middleware(ThrottleMiddleware, throttle=state.throttle)
    return app
