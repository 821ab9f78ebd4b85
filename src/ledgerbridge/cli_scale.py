"""`ledgerbridge worker` and `ledgerbridge beat`: the distributed mode on Celery.

    ledgerbridge serve --no-worker     # web tier: console, webhooks, /metrics
    ledgerbridge worker  (× N)         # sync work, any connection
    ledgerbridge beat    (one)         # sends each connection's periodic tasks

All read LEDGERBRIDGE_DATABASE_URL (PostgreSQL) and LEDGERBRIDGE_BROKER_URL (redis://… or
amqp://…). A worker is one process syncing up to `--concurrency` connections at once in one
event loop; run more processes (on more cores or machines) to scale further.
"""

from __future__ import annotations

import os
import socket

import typer

from ledgerbridge.settings import Settings


def _configure(settings: Settings) -> None:
    from ledgerbridge.logs import configure_logging

    configure_logging(os.environ.get("LEDGERBRIDGE_LOG_FORMAT", "text"), settings.log_level)
    if not settings.broker_url:
        raise typer.BadParameter(
            "LEDGERBRIDGE_BROKER_URL is not set (redis://host:6379/0 or amqp://user:pw@host//)"
        )


def worker(
    name: str | None = typer.Option(None, help="Worker name (default: worker.<pid>@<host>)."),
    metrics_port: int | None = typer.Option(
        None, help="Serve Prometheus metrics on this port (0 or unset: none)."
    ),
    metrics_host: str = typer.Option("127.0.0.1", help="Address for the metrics port."),
    concurrency: int | None = typer.Option(
        None,
        min=1,
        max=64,
        help="Connections synced at once by this process (default: worker_concurrency, 8).",
    ),
) -> None:
    """Run a sync worker: takes per-connection tasks from the broker, for any connection."""
    from ledgerbridge.metrics import start_metrics_server
    from ledgerbridge.workers.celery_app import make_celery

    settings = Settings()
    _configure(settings)
    if metrics_port:
        start_metrics_server(metrics_port, metrics_host)
    app = make_celery(settings)
    hostname = name or f"worker.{os.getpid()}@{socket.gethostname()}"
    # threads pool: up to `concurrency` tasks at once, each handing its coroutine to the
    # process's one event loop (workers/celery_app.py, _Loop), so connections waiting on their
    # realm's budget or a round trip do not hold the others up. Scale further by running more
    # processes, each with its own metrics.
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--queues=ledgerbridge",
            f"--hostname={hostname}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat() -> None:
    """Run the scheduler: each connection's polling (and other periodic work) on its interval.
    Run exactly one."""
    from ledgerbridge.workers.celery_app import make_celery

    settings = Settings()
    _configure(settings)
    app = make_celery(settings)
    app.start(["beat", f"--loglevel={settings.log_level}"])


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(beat)
