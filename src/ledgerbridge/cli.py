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


def _fault_plan(
    error_rate: float, rate_limit_rate: float, commit_timeout_rate: float, latency_ms: int
):
    from ledgerbridge.sandbox.faults import FaultPlan

    return FaultPlan(
        error_rate=error_rate,
        rate_limit_rate=rate_limit_rate,
        commit_timeout_rate=commit_timeout_rate,
        latency_ms=latency_ms,
    )


@app.command()
def sandbox(
    hubspot_port: int = typer.Option(8101, help="Port of the HubSpot API sandbox."),
    quickbooks_port: int = typer.Option(8102, help="Port of the QuickBooks Online API sandbox."),
    seed: str = typer.Option(
        "demo", help="demo (a believable data set) or empty (a new portal and company)."
    ),
    state_dir: Path | None = typer.Option(None, help="Persist sandbox state here across restarts."),
    rate_limits: bool = typer.Option(False, help="Enforce the APIs' rate limits."),
    time_scale: float = typer.Option(
        1.0, help="Compress rate-limit windows (60 = a minute lasts a second)."
    ),
    qbo_batch_per_minute: int = typer.Option(
        120, help="QBO /batch calls per minute per realm: 120 (current) or 40 (older guidance)."
    ),
    qbo_sandbox_per_second: bool = typer.Option(
        False, help="Also enforce QBO's 10 requests per second for sandbox companies."
    ),
    hubspot_burst: int = typer.Option(
        190, help="HubSpot requests per 10 s per app: 100 (free/starter) to 190 (pro/enterprise)."
    ),
    error_rate: float = typer.Option(0.0, help="Fraction of API calls answered with a 5xx."),
    rate_limit_rate: float = typer.Option(0.0, help="Fraction of API calls answered with a 429."),
    commit_timeout_rate: float = typer.Option(
        0.0, help="Fraction of writes committed, then never answered."
    ),
    latency_ms: int = typer.Option(0, help="Latency added to every API call."),
    hubspot_webhook_url: str | None = typer.Option(None, help="Deliver HubSpot webhooks here."),
    quickbooks_webhook_url: str | None = typer.Option(
        None, help="Deliver QuickBooks webhooks here."
    ),
    scale: int = typer.Option(
        0, help="With --seed demo: add this many generated invoices (and their people, products)."
    ),
    scale_seed: int = typer.Option(1, help="Which generated company --scale makes (reproducible)."),
) -> None:
    """Serve local emulators of the HubSpot CRM API and the QuickBooks Online API."""
    if seed not in ("demo", "empty"):
        raise typer.BadParameter("seed must be 'demo' or 'empty'")
    from ledgerbridge.private_files import private_dir
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
    from ledgerbridge.servers import Served, serve_all

    faults = _fault_plan(error_rate, rate_limit_rate, commit_timeout_rate, latency_ms)
    hs_dir = state_dir / "hubspot" if state_dir else None
    qb_dir = state_dir / "quickbooks" if state_dir else None
    for d in (hs_dir, qb_dir):
        if d:
            private_dir(d)
    hs = hubspot_app(
        seed=seed,
        state_dir=hs_dir,
        faults=faults,
        rate_limits=rate_limits,
        time_scale=time_scale,
        webhook_url=hubspot_webhook_url,
        scale=scale if seed == "demo" else 0,
        scale_seed=scale_seed,
    )
    qb = quickbooks_app(
        seed=seed,
        state_dir=qb_dir,
        faults=faults,
        throttle=rate_limits,
        time_scale=time_scale,
        webhook_url=quickbooks_webhook_url,
        scale=scale if seed == "demo" else 0,
        scale_seed=scale_seed,
    )

    limits = qb.state.sandbox.throttle.limits
    limits.batch_per_minute = qbo_batch_per_minute
    limits.per_second = 10 if qbo_sandbox_per_second else None
    hs.state.sandbox.rate_limiter.config.per_interval = hubspot_burst

    def started() -> None:
        realm = qb.state.sandbox.default_realm_id
        console.print(
            f"[bold]HubSpot sandbox[/]     http://127.0.0.1:{hubspot_port}  "
            "(token: pat-sandbox; OAuth client sandbox-client-id / sandbox-client-secret)"
        )
        console.print(
            f"[bold]QuickBooks sandbox[/]  http://127.0.0.1:{quickbooks_port}/v3/company/{realm}  "
            "(token: qbo-sandbox-token; discovery /.well-known/openid_configuration)"
        )
        console.print(f"QuickBooks realm id: [bold]{realm}[/]   seed: {seed}   Ctrl-C to stop")

    asyncio.run(
        serve_all(
            [Served("hubspot", hs, hubspot_port), Served("quickbooks", qb, quickbooks_port)],
            on_started=started,
        )
    )


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
        8000, help="Console port; the HubSpot sandbox uses port+1, QuickBooks port+2."
    ),
    data_dir: Path = DATA_DIR,
    poll_interval: float = typer.Option(5.0, help="Seconds between polls of both change feeds."),
    scale: int = typer.Option(
        0, help="Add this many generated invoices to the demo data (e.g. 10000, 100000)."
    ),
) -> None:
    """Run everything on one machine: sandboxes with demo data, the worker and the console."""
    from ledgerbridge.demo import DemoOptions, run_demo

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

    since_date = dt.date.fromisoformat(since) if since else None

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


@app.command()
def status(data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
    """Connections and how many records are in each sync state."""
    from rich.table import Table

    async def run(runtime):
        store = runtime.store
        table = Table(title="ledgerbridge status")
        for col in (
            "connection",
            "health",
            "pending",
            "synced",
            "failed",
            "excluded",
            "blocked",
            "diverged",
            "queued",
        ):
            table.add_column(col)
        for info in store.list_connections():
            counts = store.count_states(info.id)
            table.add_row(
                info.name,
                info.status + (f": {info.status_message}" if info.status_message else ""),
                *(str(counts.get(s, 0)) for s in _statuses()),
                str(store.count_dirty(info.id)),
            )
        console.print(table)

    _with_runtime(data_dir, run)


def _statuses():
    from ledgerbridge.domain import SyncStatus

    return (
        SyncStatus.PENDING,
        SyncStatus.SYNCED,
        SyncStatus.FAILED,
        SyncStatus.EXCLUDED,
        SyncStatus.BLOCKED,
        SyncStatus.DIVERGED,
    )


@app.command()
def failures(
    limit: int = typer.Option(50, help="How many to show."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Every record failing to sync: category, message and how to fix it; and every record
    whose two sides disagree (diverged): each field with both values."""
    from rich.table import Table

    from ledgerbridge.domain import SyncStatus

    async def run(runtime):
        page = runtime.store.list_failures(limit=limit)
        diverged = runtime.store.find_states(status=SyncStatus.DIVERGED, limit=limit)
        if not page.rows:
            console.print("[green]Nothing is failing to sync.[/]")
            if diverged.rows:
                _print_diverged(diverged)
            return
        table = Table(title=f"Failing to sync ({page.total})")
        for col in ("id", "record", "category", "message", "fix", "attempts", "last attempt"):
            table.add_column(col, overflow="fold")
        for row in page.rows:
            st = row.state
            label = st.label or f"{st.key.object_type} {st.key.side.value}:{st.key.source_id}"
            table.add_row(
                str(row.id),
                label,
                st.category or "",
                st.message or "",
                st.hint or "",
                str(st.attempts),
                st.last_attempt_at.strftime("%Y-%m-%d %H:%M") if st.last_attempt_at else "",
            )
        # Failing first (the ids `ledgerbridge retry` takes), then what is out of sync.
        console.print(table)
        if diverged.rows:
            _print_diverged(diverged)

    _with_runtime(data_dir, run)


def _print_diverged(page) -> None:
    """Records whose two sides disagree after a sync: each differing field with both values."""
    from rich.table import Table

    table = Table(title=f"Out of sync ({page.total})")
    for col in ("id", "record", "field", "HubSpot", "QuickBooks", "note"):
        table.add_column(col, overflow="fold")
    for row in page.rows:
        st = row.state
        label = st.label or f"{st.key.object_type} {st.key.side.value}:{st.key.source_id}"
        for n, diff in enumerate(st.differences or ()):
            table.add_row(
                str(row.id) if n == 0 else "",
                label if n == 0 else "",
                diff.field,
                diff.hubspot if diff.hubspot is not None else "(none)",
                diff.quickbooks if diff.quickbooks is not None else "(none)",
                diff.note or "",
            )
    console.print(table)


@app.command()
def retry(
    state_id: int | None = typer.Argument(None, help="The id shown by `ledgerbridge failures`."),
    all_: bool = typer.Option(False, "--all", help="Retry every failing record."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Queue failing records for another attempt (the worker picks them up)."""
    if state_id is None and not all_:
        raise typer.BadParameter("give an ID from `ledgerbridge failures`, or --all")

    async def run(runtime):
        if all_:
            console.print(f"{runtime.store.retry_all()} records queued for retry")
            return
        key = runtime.store.retry_by_id(state_id)
        if key is None:
            console.print(f"[red]No sync state with id {state_id}[/]")
            raise typer.Exit(1)
        console.print(f"queued {key.object_type} {key.side.value}:{key.source_id} for retry")

    _with_runtime(data_dir, run)


from ledgerbridge.cli_reconcile import register as _register_reconcile  # noqa: E402

_register_reconcile(app, console, _with_runtime)


def _register_scale() -> None:
    from ledgerbridge.cli_scale import register

    register(app)


_register_scale()


def main() -> None:  # pragma: no cover - console_scripts entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
