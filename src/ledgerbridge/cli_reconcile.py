"""`ledgerbridge reconcile`: compare both books, repair what the sync matrix allows, report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def _parse_since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("use a date as YYYY-MM-DD", param_hint="--since") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _figures(console: Console, title: str, r: object) -> None:
    table = Table(title=title)
    for col in ("checked", "in sync", "repaired", "diverged", "orphans", "duplicates"):
        table.add_column(col, justify="right")
    table.add_column("API calls", justify="right")
    table.add_column("time", justify="right")
    seconds = getattr(r, "duration_seconds", None)
    if seconds is None and hasattr(r, "duration"):
        seconds = r.duration.total_seconds()  # type: ignore[attr-defined]
    table.add_row(
        *(
            str(getattr(r, name))
            for name in ("checked", "in_sync", "repaired", "diverged", "orphans", "duplicates")
        ),
        str(r.api_calls),
        f"{seconds:.1f}s" if seconds is not None else "",
    )
    console.print(table)


def _findings(console: Console, findings: list) -> None:  # type: ignore[type-arg]
    if not findings:
        console.print("[green]Both books agree on every record checked.[/]")
        return
    table = Table(title=f"Findings ({len(findings)})")
    for col in (
        "outcome",
        "record",
        "HubSpot",
        "QuickBooks",
        "field",
        "HubSpot value",
        "QuickBooks value",
        "note",
    ):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(
            f.outcome,
            f.object_type,
            f.hubspot_id or "",
            f.qbo_id or "",
            f.field,
            f.hubspot or "",
            f.quickbooks or "",
            f.note or "",
        )
    console.print(table)


def register(app: typer.Typer, console: Console, with_runtime) -> None:  # type: ignore[no-untyped-def]
    @app.command()
    def reconcile(
        since: str | None = typer.Option(
            None, help="Only records changed on or after this date (YYYY-MM-DD); default: all."
        ),
        repair: bool = typer.Option(
            True, "--repair/--no-repair", help="Re-sync what the sync matrix says how to fix."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Compare and report only: change nothing, store nothing."
        ),
        report: bool = typer.Option(
            False, "--report", help="Show the last stored run and what it found; run nothing."
        ),
        connection: int | None = typer.Option(None, help="Connection id (default: the first)."),
        data_dir: Path | None = typer.Option(None, "--data-dir"),
    ) -> None:
        """Compare every linked invoice and payment on both sides; repair or mark diverged."""
        from ledgerbridge.reconciliation import reconcile_connection

        start = _parse_since(since)

        async def run(runtime):  # type: ignore[no-untyped-def]
            conn = runtime.connection(connection)
            if report:
                last = runtime.store.list_reconcile_runs(conn.id, limit=1)
                if not last:
                    console.print("No reconciliation has run yet. Run `ledgerbridge reconcile`.")
                    raise typer.Exit(1)
                run_ = last[0]
                _figures(
                    console,
                    f"Run {run_.id} ({run_.scope}, {run_.started_at:%Y-%m-%d %H:%M} UTC)",
                    run_,
                )
                _findings(console, runtime.store.list_reconcile_findings(run_.id))
                return
            run_id, result = await reconcile_connection(
                runtime, conn, since=start, repair=repair, dry_run=dry_run
            )
            label = "dry run" if dry_run else f"run {run_id}"
            _figures(console, f"{conn.info.name}: {result.scope} reconciliation ({label})", result)
            _findings(console, list(result.findings))
            if result.diverged or result.orphans or result.duplicates:
                raise typer.Exit(2)

        with_runtime(data_dir, run)
