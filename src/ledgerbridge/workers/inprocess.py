"""The default worker: runs every connection's sync engine inside this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ledgerbridge.bootstrap import Runtime

log = logging.getLogger(__name__)


async def run_worker(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    poll_interval: float | None = None,
    batch: int | None = None,
    rescan_seconds: float = 5.0,
) -> None:
    """Run each connection's engine until `stop` is set. Connections added or rebuilt later
    (e.g. after a reconnect in the console) are picked up within `rescan_seconds`."""
    interval = (
        poll_interval if poll_interval is not None else runtime.settings.poll_interval_seconds
    )
    size = batch or runtime.settings.batch_size
    running: dict[int, tuple[object, asyncio.Task[None]]] = {}
    from ledgerbridge.reconciliation import run_schedule

    schedule = asyncio.create_task(run_schedule(runtime, stop), name="reconcile-schedule")
    try:
        while not stop.is_set():
            for cid, conn in list(runtime.connections.items()):
                current = running.get(cid)
                if current is not None and current[0] is conn.engine and not current[1].done():
                    continue
                if current is not None:
                    current[1].cancel()
                task = asyncio.create_task(
                    conn.engine.run_forever(stop, poll_interval=interval, batch=size),
                    name=f"engine-{cid}",
                )
                running[cid] = (conn.engine, task)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rescan_seconds)
    finally:
        schedule.cancel()
        tasks = [t for _, t in running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                task.cancel()
