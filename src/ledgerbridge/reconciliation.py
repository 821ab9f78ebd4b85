"""Running a reconciliation for a connection of the runtime: the CLI, the console's "Run now"
and the worker's schedule all come through here (engine/reconcile.py does the work)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ledgerbridge import metrics
from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.domain import SyncStatus
from ledgerbridge.engine.reconcile import FULL, INCREMENTAL, Reconciler, ReconcileReport

if TYPE_CHECKING:
    from ledgerbridge.bootstrap import ConnectionRuntime, Runtime

log = logging.getLogger(__name__)

DRAIN_ROUNDS = 20  # sync passes after a repair before the repaired records are read again


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def reconcile_connection(
    runtime: Runtime,
    conn: ConnectionRuntime,
    *,
    since: dt.datetime | None = None,
    incremental: bool = False,
    repair: bool = True,
    dry_run: bool = False,
) -> tuple[int | None, ReconcileReport]:
    """Run and store one reconciliation. `incremental` without `since` starts from the last
    run (a full sweep when there was none). Returns (stored run id or None for a dry run,
    report)."""
    store = runtime.store
    if incremental and since is None:
        last = store.last_reconcile_run(conn.id)
        since = last.started_at if last is not None else None

    async def drain() -> None:
        for _ in range(DRAIN_ROUNDS):
            await conn.engine.poll_once()
            report = await conn.engine.run_once(runtime.settings.batch_size)
            if report.claimed == 0:
                return

    async def write_status(hubspot_id: str, status: SyncStatus, message: str | None) -> None:
        await conn.crm.set_sync_state(hubspot_id, status, message)

    reconciler = Reconciler(
        conn.id,
        ConnectorBulkReader(conn.crm, conn.ledger),
        store,
        conn.sync_settings,
        drain=drain,
        write_status=write_status,
    )
    report = await reconciler.run(since=since, repair=repair, dry_run=dry_run)
    run_id = None if dry_run else store.save_reconcile_run(conn.id, report)
    if not dry_run:
        metrics.reconciled(conn.id, report)
    log.info(
        "reconcile %s (%s): %d checked, %d in sync, %d repaired, %d diverged, %d orphans, "
        "%d duplicates, %d API calls, %.1fs",
        conn.info.name,
        report.scope,
        report.checked,
        report.in_sync,
        report.repaired,
        report.diverged,
        report.orphans,
        report.duplicates,
        report.api_calls,
        report.duration.total_seconds(),
    )
    return run_id, report


def due_scope(runtime: Runtime, connection_id: int, now: dt.datetime) -> str | None:
    """What the schedule runs now for a connection: FULL once a day at the configured hour
    (unless one started in the last two hours, e.g. by hand) or when no full sweep ran for 36
    hours; INCREMENTAL when the interval has passed since the last run; else None."""
    interval = runtime.settings.reconcile_interval_seconds
    if interval <= 0:
        return None
    store = runtime.store
    last = store.last_reconcile_run(connection_id)
    last_full = store.last_reconcile_run(connection_id, scope=FULL)
    full_age = now - last_full.started_at if last_full else None
    at_hour = now.hour == runtime.settings.reconcile_full_hour
    full_due_now = at_hour and (full_age is None or full_age > dt.timedelta(hours=2))
    recent = last is not None and now - last.started_at < dt.timedelta(seconds=interval)
    if recent and not full_due_now:
        return None
    if full_due_now or full_age is None or full_age > dt.timedelta(hours=36):
        return FULL
    return INCREMENTAL


async def run_schedule(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    check_seconds: float = 60.0,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> None:
    """The worker's scheduled reconciliation: checks every `check_seconds` what is due per
    connection (due_scope). The first check waits one interval, so a restart loop does not
    sweep every time. A failed run is logged and stored; the schedule goes on."""
    interval = runtime.settings.reconcile_interval_seconds
    if interval <= 0:
        return
    started = clock()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=check_seconds)
        if stop.is_set():
            return
        now = clock()
        if now - started < dt.timedelta(seconds=interval):
            continue
        for conn in list(runtime.connections.values()):
            scope = due_scope(runtime, conn.id, now)
            if scope is None:
                continue
            try:
                await reconcile_connection(runtime, conn, incremental=scope == INCREMENTAL)
            except Exception:
                log.exception("scheduled reconciliation of %s failed", conn.info.name)
