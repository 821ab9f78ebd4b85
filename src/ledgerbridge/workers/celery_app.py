"""Optional scale-out worker on Celery: a thin adapter around the same engine.

The durable queue stays the store's `dirty_keys` table (claims are leased, and on PostgreSQL taken
with FOR UPDATE SKIP LOCKED), so several Celery workers can share one database safely. The
broker only carries "run a sync round for connection N now"; beat sends one per connection
every `poll_interval_seconds`.

    LEDGERBRIDGE_BROKER_URL=redis://127.0.0.1:6379/0 \\
    LEDGERBRIDGE_DATABASE_URL=postgresql+psycopg://... \\
    celery -A ledgerbridge.workers.celery_app worker --beat

(`ledgerbridge serve --no-worker` then serves the console and webhooks only.)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from celery import Celery

from ledgerbridge.bootstrap import Runtime, build_runtime
from ledgerbridge.settings import Settings

_local = threading.local()


def _runner() -> tuple[asyncio.AbstractEventLoop, Runtime]:
    """One event loop and one Runtime per worker thread, built on first use (not at import)."""
    state = getattr(_local, "state", None)
    if state is None:
        loop = asyncio.new_event_loop()
        runtime = loop.run_until_complete(build_runtime(Settings()))
        state = _local.state = (loop, runtime)
    return state


async def _round(runtime: Runtime, connection_id: int, batch: int) -> dict[str, int]:
    conn = runtime.connections.get(connection_id) or await runtime.reload_connection(connection_id)
    if conn is None:
        return {"claimed": 0, "synced": 0, "failed": 0}
    await conn.engine.poll_once()
    report = await conn.engine.run_once(batch)
    return {"claimed": report.claimed, "synced": report.synced, "failed": report.failed}


def sync_round(connection_id: int) -> dict[str, int]:
    """Poll both sides of one connection and run what is due (one round)."""
    loop, runtime = _runner()
    return loop.run_until_complete(_round(runtime, connection_id, runtime.settings.batch_size))


def sync_all() -> dict[int, dict[str, int]]:
    loop, runtime = _runner()
    loop.run_until_complete(runtime.load_connections())
    return {
        cid: loop.run_until_complete(_round(runtime, cid, runtime.settings.batch_size))
        for cid in list(runtime.connections)
    }


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    broker = settings.broker_url or "redis://127.0.0.1:6379/0"
    app = Celery("ledgerbridge", broker=broker)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )
    app.task(name="ledgerbridge.sync_round")(sync_round)
    app.task(name="ledgerbridge.sync_all")(sync_all)
    app.conf.beat_schedule = {
        "sync-all": {"task": "ledgerbridge.sync_all", "schedule": settings.poll_interval_seconds},
    }
    return app


def __getattr__(name: str) -> Any:
    # `celery -A ledgerbridge.workers.celery_app` looks up `app`/`celery`: build it on demand,
    # so importing this module has no side effects.
    if name in ("app", "celery"):
        return make_celery()
    raise AttributeError(name)
