"""The web tier's /metrics endpoint and request ids (in every log line and the response)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ledgerbridge import logctx, metrics


def add_observability(app: FastAPI, runtime: Any) -> None:
    # The database gauges (lag, queue depth, failures) come from here, once per deployment.
    metrics.register_store_collector(runtime.store)

    @app.get("/metrics")
    def scrape() -> Response:  # sync: the database gauges query in a thread, not the loop
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Any:
        # Keep a caller's id (a proxy's X-Request-ID) when it looks sane; else make one.
        given = request.headers.get("x-request-id", "")
        rid = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex[:16]
        token = logctx.request_id.set(rid)
        try:
            response = await call_next(request)
        finally:
            logctx.request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        return response
