"""`ledgerbridge worker` and `ledgerbridge beat`: the distributed mode on Celery.

    ledgerbridge serve --no-worker     # web tier: console, webhooks, /metrics
    ledgerbridge worker  (× N)         # sync work, any connection
    ledgerbridge beat    (one)         # sends each connection's periodic tasks

All read LEDGERBRIDGE_DATABASE_URL (PostgreSQL) and LEDGERBRIDGE_BROKER_URL (redis://… or
amqp://…). A worker is one process running one task at a time; run more processes to scale.
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
    # solo pool: the task runs in this process (its own event loop and database pool); scale by
    # running more processes, each with its own metrics.
    app.worker_main(
        [
            "worker",
            "--pool=solo",
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
