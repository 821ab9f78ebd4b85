"""Machine-facing routes: health and signed webhooks from HubSpot and QuickBooks.

They sit in front of the console (which has its own login and CSRF protection): webhooks are
authenticated by their signatures instead, and only mark records dirty (level-triggered sync).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledgerbridge.body_limit import BodyLimit
from ledgerbridge.bootstrap import Runtime
from ledgerbridge.errors import ConfigError, Invalid, SyncError
from ledgerbridge.observability import add_observability


def front_app(runtime: Runtime, console: Any | None = None) -> FastAPI:
    """The process's public ASGI app: /healthz, /metrics, /webhooks/*, and the console at /."""
    app = FastAPI(title="ledgerbridge", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    add_observability(app, runtime)
    # Outermost: caps every body, the console's forms included, before anything reads it.
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        body = {"ready": runtime.ready, "connections": len(runtime.connections)}
        return JSONResponse(body, status_code=200 if runtime.ready else 503)

    @app.post("/webhooks/hubspot")
    async def hubspot_webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            marked = await runtime.handle_hubspot_webhook(
                request.method, str(request.url), body, dict(request.headers)
            )
        except ConfigError as exc:
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=403)
        except Invalid as exc:
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=401)
        except ValueError as exc:
            return JSONResponse({"error": f"malformed webhook body: {exc}"}, status_code=400)
        except SyncError as exc:
            # Reading which invoices changed failed (HubSpot busy): HubSpot resends on a 5xx.
            return JSONResponse({"error": exc.message}, status_code=503)
        return JSONResponse({"marked": marked})

    @app.post("/webhooks/quickbooks")
    async def qbo_webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            marked = runtime.handle_qbo_webhook(body, request.headers.get("intuit-signature"))
        except ConfigError as exc:
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=403)
        except Invalid as exc:
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=401)
        except ValueError as exc:
            return JSONResponse({"error": f"malformed webhook body: {exc}"}, status_code=400)
        return JSONResponse({"marked": marked})

    if console is not None:
        app.mount("/", console)
    return app
