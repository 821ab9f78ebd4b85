"""Scale-out workers on Celery: per-connection tasks, any worker serves any connection.

The broker (Redis or RabbitMQ) only carries "work on connection N now". The truth is the
database: the dirty-key queue (claims leased, taken with FOR UPDATE SKIP LOCKED on PostgreSQL)
and the change-feed cursors. So:
- a lost task loses nothing: the keys stay queued and the next scheduled task takes them;
- a killed worker loses nothing: its leases expire and another worker claims the keys;
- a duplicated task does nothing twice: the second one finds the keys claimed or gone, and every
  sync step is idempotent (links and idempotency keys, see docs/architecture.md).

Scheduling: `ledgerbridge beat` runs Celery beat with `ConnectionScheduler`, which keeps one
schedule entry per connection and per task in PER_CONNECTION_TASKS, re-reading the connections
from the database every `schedule_refresh` seconds (connections added in the console are picked
up without a restart).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.beat import ScheduleEntry, Scheduler

from ledgerbridge import logctx, metrics
from ledgerbridge.bootstrap import Runtime, build_runtime
from ledgerbridge.settings import Settings

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}


@dataclass(frozen=True)
class PeriodicTask:
    """A task beat sends for every connection: its name and its interval (from Settings)."""

    task: str
    every: Callable[[Settings], float]


# Adding a per-connection schedule is one line here (e.g. the scheduled reconciliation).
PER_CONNECTION_TASKS: dict[str, PeriodicTask] = {
    "sync": PeriodicTask("ledgerbridge.sync_connection", lambda s: s.poll_interval_seconds),
}


def _runner() -> tuple[asyncio.AbstractEventLoop, Runtime]:
    """One event loop and one Runtime per worker process, built on first use: after the fork,
    never at import, so pool children never share a database connection or a socket."""
    if "runtime" not in _state:
        loop = asyncio.new_event_loop()
        _state["loop"] = loop
        _state["runtime"] = loop.run_until_complete(build_runtime(Settings()))
    return _state["loop"], _state["runtime"]


async def _sync(
    runtime: Runtime, connection_id: int, *, poll: bool, budget: float
) -> dict[str, int]:
    # Rebuild from the database each time the connection changed (tokens, settings): the web
    # tier may have reconnected it since this worker last saw it.
    info = runtime.store.get_connection(connection_id)
    conn = runtime.connections.get(connection_id)
    if info is None:
        runtime.connections.pop(connection_id, None)
        return {"claimed": 0, "synced": 0, "failed": 0}
    if conn is None or conn.info != info:
        conn = await runtime.reload_connection(connection_id)
        if conn is None:
            return {"claimed": 0, "synced": 0, "failed": 0}
    totals = {"claimed": 0, "synced": 0, "failed": 0}
    with logctx.bound(logctx.connection_id, connection_id):
        if poll:
            await conn.engine.poll_once()
        # Drain what is due, but give the worker back after `budget` seconds so one busy
        # connection does not hold a worker while others wait; the next task continues.
        deadline = time.monotonic() + budget
        batch = runtime.settings.batch_size
        while True:
            report = await conn.engine.run_once(batch)
            totals["claimed"] += report.claimed
            totals["synced"] += report.synced
            totals["failed"] += report.failed
            if report.claimed < batch or time.monotonic() >= deadline:
                break
    return totals


def sync_connection(connection_id: int, poll: bool = True) -> dict[str, int]:
    """Poll one connection's change feeds and sync what is due (bounded in time)."""
    loop, runtime = _runner()
    budget = max(1.0, runtime.settings.poll_interval_seconds)
    try:
        result = loop.run_until_complete(_sync(runtime, connection_id, poll=poll, budget=budget))
    except Exception:
        metrics.TASKS.labels("sync_connection", "error").inc()
        raise
    metrics.TASKS.labels("sync_connection", "ok").inc()
    return result


def reset_runtime() -> None:
    """Close this process's Runtime (tests run several deployments in one process)."""
    if "runtime" in _state:
        loop, runtime = _state.pop("loop"), _state.pop("runtime")
        loop.run_until_complete(runtime.aclose())
        loop.close()


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    broker = settings.broker_url or "redis://127.0.0.1:6379/0"
    app = Celery("ledgerbridge", broker=broker)
    app.conf.update(
        # Ack after the task ran: a worker killed mid-task leaves the message to be redelivered
        # (and the keys' leases expire anyway; the database decides what is left to do).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Any worker serves any connection: one queue, no per-connection routing.
        task_default_queue="ledgerbridge",
        beat_scheduler="ledgerbridge.workers.celery_app:ConnectionScheduler",
        beat_max_loop_interval=min(5.0, settings.poll_interval_seconds),
        worker_hijack_root_logger=False,
    )
    app.task(name="ledgerbridge.sync_connection")(sync_connection)
    return app


def webhook_dispatcher(app: Celery, *, debounce: float = 1.0) -> Callable[[int], None]:
    """For the web tier (`serve --no-worker`): a webhook that marked a connection's records
    sends that connection a task at once (no feed poll: the webhook said what changed). A burst
    of webhooks sends at most one task per connection per `debounce` seconds; whatever a
    skipped one would have done, the sent task or the next scheduled one does (the keys are in
    the database)."""
    last: dict[int, float] = {}

    def dispatch(connection_id: int) -> None:
        now = time.monotonic()
        if now - last.get(connection_id, -debounce) < debounce:
            return
        last[connection_id] = now
        try:
            app.send_task(
                "ledgerbridge.sync_connection",
                args=[connection_id],
                kwargs={"poll": False},
                expires=max(10.0, 2 * debounce),
            )
        except Exception:
            log.warning("could not send a task for connection %s", connection_id, exc_info=True)

    return dispatch


class ConnectionScheduler(Scheduler):
    """Celery beat's schedule, kept from the database: an entry per (connection, task)."""

    schedule_refresh = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings = Settings()
        self._store: Any = None
        self._refreshed_at = 0.0
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        self._refresh()

    def _connection_ids(self) -> list[int]:
        if self._store is None:
            from ledgerbridge.store import SqlStore

            self._store = SqlStore.from_settings(self._settings)
        return [info.id for info in self._store.list_connections()]

    def _refresh(self) -> None:
        wanted: dict[str, dict[str, Any]] = {}
        for cid in self._connection_ids():
            for kind, periodic in PER_CONNECTION_TASKS.items():
                wanted[f"{kind}:{cid}"] = {
                    "task": periodic.task,
                    "schedule": dt.timedelta(seconds=periodic.every(self._settings)),
                    "args": (cid,),
                    # A task older than two intervals is stale: beat has sent a newer one.
                    "options": {"expires": max(10.0, 2 * periodic.every(self._settings))},
                }
        for name in [n for n in self.schedule if n not in wanted]:
            del self.schedule[name]
        for name, spec in wanted.items():
            if name not in self.schedule:
                self.schedule[name] = ScheduleEntry(name=name, app=self.app, **spec)
        self._refreshed_at = time.monotonic()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if time.monotonic() - self._refreshed_at >= self.schedule_refresh:
            try:
                self._refresh()
            except Exception:
                log.exception("beat: could not re-read the connections")
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        super().close()
        if self._store is not None:
            self._store.close()


def __getattr__(name: str) -> Any:
    # `celery -A ledgerbridge.workers.celery_app` looks up `app`/`celery`: build it on demand,
    # so importing this module has no side effects.
    if name in ("app", "celery"):
        return make_celery()
    raise AttributeError(name)
