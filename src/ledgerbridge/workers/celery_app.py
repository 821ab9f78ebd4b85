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
up without a restart). Two tasks per connection: `sync_connection` (poll the feeds, sync what is
due) every poll interval, and `reconcile_connection`, which runs the scheduled reconciliation
when it is due (reconciliation.due_scope: incremental every `reconcile_interval_seconds`, a full
sweep daily at `reconcile_full_hour`). The database decides what is due, so a duplicated or late
task runs nothing twice, and a PostgreSQL advisory lock keeps two workers from reconciling one
connection at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Celery
from celery.beat import ScheduleEntry, Scheduler
from sqlalchemy import text

from ledgerbridge import logctx, metrics
from ledgerbridge.bootstrap import ConnectionRuntime, Runtime, build_runtime
from ledgerbridge.settings import Settings

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}
T = TypeVar("T")


@dataclass(frozen=True)
class PeriodicTask:
    """A task beat sends for every connection: its name and its interval (from Settings; None:
    not scheduled)."""

    task: str
    every: Callable[[Settings], float | None]
    # Due as soon as beat first sees the connection (a new connection is polled at once);
    # otherwise the first run is one interval later.
    at_start: bool = False


# How often beat asks whether a connection's reconciliation is due. The task itself decides
# (due_scope), so this only bounds how late a due run starts; it stays well under an hour so the
# nightly full sweep's hour is never skipped.
RECONCILE_CHECK_SECONDS = 600.0


def _reconcile_every(settings: Settings) -> float | None:
    interval = settings.reconcile_interval_seconds
    return min(interval, RECONCILE_CHECK_SECONDS) if interval > 0 else None


# Adding a per-connection schedule is one line here.
PER_CONNECTION_TASKS: dict[str, PeriodicTask] = {
    "sync": PeriodicTask(
        "ledgerbridge.sync_connection", lambda s: s.poll_interval_seconds, at_start=True
    ),
    "reconcile": PeriodicTask("ledgerbridge.reconcile_connection", _reconcile_every),
}


class _Loop:
    """The worker process's one event loop, run in a thread of its own, and its Runtime.

    Celery's `threads` pool runs up to `worker_concurrency` tasks at once, each in a pool
    thread that hands its coroutine to this loop and waits for it. So one worker process keeps
    several connections in flight in one event loop (one database pool, one HTTP client, one
    set of rate budgets): while one connection waits on its realm's budget or a round trip,
    another runs. Built on first use: after a fork, never at import."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ledgerbridge-loop", daemon=True
        )
        self.thread.start()
        self.runtime: Runtime = self.run(build_runtime(Settings()))
        # The connections with a task running in this process: connection id -> what a task
        # that arrived meanwhile asked for (run again; poll first). Touched on the loop only.
        self.turns: dict[int, _Turn] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result (from any thread but the loop's)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        try:
            self.run(self.runtime.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


@dataclass
class _Turn:
    again: bool = False
    poll: bool = False


_lock = threading.Lock()


def _worker_loop() -> _Loop:
    with _lock:
        if "loop" not in _state:
            _state["loop"] = _Loop()
        loop: _Loop = _state["loop"]
        return loop


def _runner() -> tuple[_Loop, Runtime]:
    loop = _worker_loop()
    return loop, loop.runtime


async def _current(runtime: Runtime, connection_id: int) -> ConnectionRuntime | None:
    """The connection as the database has it now (None: deleted or not usable). Rebuilt each
    time it changed (tokens, settings): the web tier may have reconnected it since."""
    info = runtime.store.get_connection(connection_id)
    conn = runtime.connections.get(connection_id)
    if info is None:
        runtime.connections.pop(connection_id, None)
        return None
    if conn is None or conn.info != info:
        conn = await runtime.reload_connection(connection_id)
    return conn


async def _sync(
    runtime: Runtime, connection_id: int, *, poll: bool, deadline: float
) -> dict[str, int]:
    totals = {"claimed": 0, "synced": 0, "failed": 0}
    conn = await _current(runtime, connection_id)
    if conn is None:
        return totals
    with logctx.bound(logctx.connection_id, connection_id):
        if poll:
            await conn.engine.poll_once()
        # Drain what is due, but give the worker back at `deadline` so one busy connection
        # does not hold a worker slot while others wait; a continuation task (at the back of
        # the queue) takes up the rest.
        batch = runtime.settings.batch_size
        while True:
            report = await conn.engine.run_once(batch)
            totals["claimed"] += report.claimed
            totals["synced"] += report.synced
            totals["failed"] += report.failed
            if report.claimed < batch:
                break
            if time.monotonic() >= deadline:
                totals["more"] = 1
                break
    return totals


async def _sync_turn(
    loop: _Loop, connection_id: int, *, poll: bool, budget: float
) -> dict[str, int]:
    """One connection's turn in this process. A task for a connection that already has one
    running here does not run the engine beside it: it asks the running turn for one more pass
    (with a poll first if it wanted one) and returns. So nothing a webhook's task asked for
    waits for the next scheduled poll, and one connection never runs twice at once here
    (across processes, the database's claims keep records apart)."""
    turn = loop.turns.get(connection_id)
    if turn is not None:
        turn.again = True
        turn.poll = turn.poll or poll
        return {"claimed": 0, "synced": 0, "failed": 0, "joined": 1}
    turn = loop.turns[connection_id] = _Turn()
    totals = {"claimed": 0, "synced": 0, "failed": 0}
    deadline = time.monotonic() + budget
    try:
        while True:
            result = await _sync(loop.runtime, connection_id, poll=poll, deadline=deadline)
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
            if result.get("more") or not turn.again:
                break
            if time.monotonic() >= deadline:
                totals["more"] = 1
                break
            poll, turn.again, turn.poll = turn.poll, False, False
        if totals.get("more") and turn.poll:
            totals["poll"] = 1  # the continuation polls first: a joined task asked for it
        return totals
    finally:
        # No await between the last check of `turn.again` and this: a task that joins
        # after it starts a turn of its own.
        del loop.turns[connection_id]


def sync_connection(connection_id: int, poll: bool = True) -> dict[str, int]:
    """Poll one connection's change feeds and sync what is due (bounded in time). When time
    ran out with records still due, send the connection a continuation task: busy connections
    take turns on the workers instead of waiting for beat's next round."""
    loop, runtime = _runner()
    budget = max(1.0, min(runtime.settings.poll_interval_seconds, TASK_SECONDS))
    try:
        result = loop.run(_sync_turn(loop, connection_id, poll=poll, budget=budget))
    except Exception:
        metrics.TASKS.labels("sync_connection", "error").inc()
        raise
    metrics.TASKS.labels("sync_connection", "joined" if result.get("joined") else "ok").inc()
    app = _state.get("app")
    if result.get("more") and app is not None:
        _send_sync(app, connection_id, poll=bool(result.get("poll")), settings=runtime.settings)
    return result


TASK_SECONDS = 5.0  # longest a sync task holds a worker before it hands over to a continuation


def _send_sync(app: Celery, connection_id: int, *, poll: bool, settings: Settings) -> None:
    app.send_task(
        "ledgerbridge.sync_connection",
        args=[connection_id],
        kwargs={"poll": poll},
        expires=max(10.0, 2 * settings.poll_interval_seconds),
    )


@contextmanager
def _reconcile_lock(runtime: Runtime, connection_id: int) -> Iterator[bool]:
    """True when this worker may reconcile the connection now: a session-level PostgreSQL
    advisory lock, held on its own connection for the run (released by the database if the
    worker dies). On SQLite (one process) there is no one to exclude."""
    engine = runtime.store.engine
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as db:
        key = RECONCILE_LOCK_BASE + connection_id
        held = bool(db.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield held
        finally:
            if held:
                db.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            db.rollback()


RECONCILE_LOCK_BASE = 0x1B_0000_0000  # advisory lock keys: this base + the connection id


async def _reconcile(
    runtime: Runtime, connection_id: int, now: dt.datetime
) -> dict[str, int | str | None]:
    from ledgerbridge.engine.reconcile import INCREMENTAL
    from ledgerbridge.reconciliation import due_scope, reconcile_connection

    result: dict[str, int | str | None] = {"scope": None, "run_id": None}
    conn = await _current(runtime, connection_id)
    if conn is None:
        return result
    with _reconcile_lock(runtime, connection_id) as mine:
        # Asked under the lock: a run another worker just finished counts.
        scope = due_scope(runtime, connection_id, now) if mine else None
        if scope is None:
            return result
        with logctx.bound(logctx.connection_id, connection_id):
            run_id, report = await reconcile_connection(
                runtime, conn, incremental=scope == INCREMENTAL
            )
        return {"scope": scope, "run_id": run_id, "diverged": report.diverged}


def reconcile_connection(connection_id: int) -> dict[str, int | str | None]:
    """Run the connection's scheduled reconciliation if it is due (else do nothing)."""
    loop, runtime = _runner()
    now = dt.datetime.now(dt.UTC)
    try:
        result = loop.run(_reconcile(runtime, connection_id, now))
    except Exception:
        metrics.TASKS.labels("reconcile_connection", "error").inc()
        raise
    metrics.TASKS.labels("reconcile_connection", "ok" if result["scope"] else "not_due").inc()
    return result


def reset_runtime() -> None:
    """Close this process's Runtime and its loop (tests run several deployments in one
    process)."""
    with _lock:
        loop = _state.pop("loop", None)
    if loop is not None:
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
    _state["app"] = app  # for continuation tasks (the worker's own app)
    app.task(name="ledgerbridge.reconcile_connection")(reconcile_connection)
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
                every = periodic.every(self._settings)
                if every is None:
                    continue
                wanted[f"{kind}:{cid}"] = {
                    "task": periodic.task,
                    "schedule": dt.timedelta(seconds=every),
                    "at_start": periodic.at_start,
                    "args": (cid,),
                    # A task older than two intervals is stale: beat has sent a newer one.
                    "options": {"expires": max(10.0, 2 * every)},
                }
        for name in [n for n in self.schedule if n not in wanted]:
            del self.schedule[name]
        for name, spec in wanted.items():
            if name not in self.schedule:
                at_start = spec.pop("at_start")
                entry = ScheduleEntry(name=name, app=self.app, **spec)
                if at_start:
                    entry.last_run_at = entry.default_now() - spec["schedule"]
                self.schedule[name] = entry
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
