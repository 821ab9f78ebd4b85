"""The `ledgerbridge` command line (Typer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    name="ledgerbridge",
    help="Two-way sync between HubSpot invoices and QuickBooks Online.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


# --------------------------------------------------------------------------------------------
# The product
# --------------------------------------------------------------------------------------------
DATA_DIR = typer.Option(
    Path(".ledgerbridge"), "--data-dir", help="Where SQLite, the key file and sandbox state live."
)


def _settings(data_dir: Path | None = None):
    from ledgerbridge.settings import Settings

    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def _with_runtime(data_dir: Path | None, fn):
    """Build the runtime (store + connections), run `fn(runtime)` (a coroutine), close."""
    from ledgerbridge.bootstrap import build_runtime

    async def run():
        runtime = await build_runtime(_settings(data_dir))
        try:
            return await fn(runtime)
        finally:
            await runtime.aclose()

    return asyncio.run(run())


@app.command()
def demo(
    port: int = typer.Option(
        8000,
        min=1,
        max=65533,
        help="Console port; the HubSpot sandbox uses port+1, QuickBooks port+2.",
    ),
    data_dir: Path = DATA_DIR,
    poll_interval: float = typer.Option(5.0, help="Seconds between polls of both change feeds."),
    scale: int = typer.Option(
        0, min=0, help="Add this many generated invoices to the demo data (e.g. 10000, 100000)."
    ),
) -> None:
    """Run everything on one machine: sandboxes with demo data, the worker and the console."""
    from ledgerbridge.demo import DemoOptions, run_demo

    if poll_interval <= 0:
        raise typer.BadParameter("use a number of seconds above 0", param_hint="--poll-interval")

    asyncio.run(
        run_demo(
            DemoOptions(port=port, data_dir=data_dir, poll_interval=poll_interval, scale=scale),
            console=console,
        )
    )


@app.command()
def serve(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Overrides LEDGERBRIDGE_DATA_DIR."
    ),
    host: str | None = typer.Option(None, help="Overrides LEDGERBRIDGE_HOST."),
    port: int | None = typer.Option(None, help="Overrides LEDGERBRIDGE_PORT."),
    worker: bool = typer.Option(
        True, help="Run the in-process worker too (off when Celery workers run)."
    ),
) -> None:
    """Serve the console and webhooks for a real deployment (connections set up in the console)."""
    from ledgerbridge.process_stack import build_process_stack
    from ledgerbridge.servers import Served, serve_all

    settings = _settings(data_dir)
    _log_setup(settings)
    if host:
        settings.host = host
    if port:
        settings.port = port

    async def run() -> None:
        stack = await build_process_stack(settings, serving=True)
        runtime, generated = stack.runtime, stack.password
        if generated:
            console.print(
                f"console login: admin / [bold]{generated}[/] (set LEDGERBRIDGE_ADMIN_PASSWORD to choose)"
            )
        from ledgerbridge.webhook_intake import warnings as webhook_warnings

        for line in webhook_warnings(settings, (c.info for c in runtime.connections.values())):
            console.print(f"[yellow]warning:[/] {line}")
        await stack.connect()
        if not worker and settings.broker_url:
            from ledgerbridge.workers.celery_app import make_celery, webhook_dispatcher

            runtime.on_webhook = webhook_dispatcher(make_celery(settings))
        background = [stack.run_worker] if worker else []
        try:
            await serve_all(
                [Served("console", stack.front, settings.port, settings.host)],
                background=background,
            )
        finally:
            await stack.aclose()

    asyncio.run(run())


def _log_setup(settings) -> None:
    import os

    from ledgerbridge.logs import configure_logging

    configure_logging(os.environ.get("LEDGERBRIDGE_LOG_FORMAT", "text"), settings.log_level)


@app.command()
def sync(
    once: bool = typer.Option(False, "--once", help="Poll both sides, sync what is due, and exit."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Run the sync worker (forever, or one pass with --once)."""
    from ledgerbridge.workers.inprocess import run_worker

    async def run(runtime):
        if not runtime.connections:
            console.print(
                "[red]No connection is set up.[/] Run `ledgerbridge demo` or connect in the console."
            )
            raise typer.Exit(1)
        if not once:
            stop = asyncio.Event()
            import signal

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_worker(runtime, stop)
            return
        for conn in runtime.connections.values():
            stats = await conn.engine.poll_once()
            totals = {"synced": 0, "failed": 0, "excluded": 0, "blocked": 0, "retrying": 0}
            while True:
                report = await conn.engine.run_once(runtime.settings.batch_size)
                for k in totals:
                    totals[k] += getattr(report, k)
                if report.claimed == 0:
                    break
            console.print(
                f"{conn.info.name}: {stats.marked} changes seen; "
                + ", ".join(f"{v} {k}" for k, v in totals.items())
            )

    _with_runtime(data_dir, run)


@app.command()
def backfill(
    since: str | None = typer.Option(
        None, help="Only invoices changed on or after this date (YYYY-MM-DD)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be created, updated and matched; change nothing."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Sync every existing invoice (and its payments), with a progress bar."""
    import datetime as dt

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        since_date = dt.date.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter("use a date as YYYY-MM-DD", param_hint="--since") from None

    async def run(runtime):
        if not runtime.connections:
            console.print("[red]No connection is set up.[/]")
            raise typer.Exit(1)
        for conn in runtime.connections.values():
            final = None
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(conn.info.name, total=None)
                async for step in conn.engine.backfill(since_date, dry_run=dry_run):
                    progress.update(
                        task,
                        description=f"{conn.info.name}: {step.phase}{_pace(step)}",
                        completed=step.done,
                        total=step.total,
                    )
                    final = step
            if final is None:
                continue
            console.print(
                f"synced {final.synced}, failed {final.failed}, excluded {final.excluded}, "
                f"blocked {final.blocked}" + (" (dry run: nothing was written)" if dry_run else "")
            )
            if dry_run and final.report is not None:
                _print_dry_run(final.report)
                console.print(
                    "the real run would take about "
                    f"{_duration(final.report.estimated_seconds)} under QuickBooks' rate limits"
                )

    _with_runtime(data_dir, run)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return (f"{hours} h " if hours else "") + f"{rest // 60} min {rest % 60:02d} s"


def _pace(step) -> str:
    """ " · 8.1/s · 12 min 30 s left" (resumed runs say so)."""
    parts = [" (resumed)"] if step.resumed else []
    if step.rate:
        parts.append(f" · {step.rate:.1f}/s")
    if step.eta_seconds is not None:
        parts.append(f" · {_duration(step.eta_seconds)} left")
    return "".join(parts)


def _print_dry_run(report) -> None:
    from rich.table import Table

    table = Table(title="Backfill preview")
    table.add_column("would")
    table.add_column("count", justify="right")
    table.add_column("examples")
    for label, rows in (
        ("create", report.create),
        ("update", report.update),
        ("match", report.match),
        ("exclude", report.excluded),
        ("fail", report.failing),
        ("block", report.blocked),
    ):
        table.add_row(label, str(len(rows)), "\n".join(rows[:5]) + ("\n…" if len(rows) > 5 else ""))
    table.add_row("unchanged", str(report.unchanged), "")
    table.add_row(
        "customers", f"{report.customers_to_create} new / {report.customers_matched} matched", ""
    )
    table.add_row("items", f"{report.items_to_create} new / {report.items_matched} matched", "")
    console.print(table)


from ledgerbridge import cli_reconcile, cli_records, cli_sandbox  # noqa: E402

cli_sandbox.register(app, console)
cli_records.register(app, console, _with_runtime)
cli_reconcile.register(app, console, _with_runtime)


def _register_scale() -> None:
    from ledgerbridge.cli_scale import register

    register(app)


_register_scale()


def main() -> None:  # pragma: no cover - console_scripts entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
