"""`ledgerbridge status`, `failures` and `retry`: where the records stand, what fails and why,
and another attempt for what a person fixed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console


def register(app: typer.Typer, console: Console, with_runtime: Callable[..., Any]) -> None:
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

        with_runtime(data_dir, run)

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

        with_runtime(data_dir, run)

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
        state_id: int | None = typer.Argument(
            None, help="The id shown by `ledgerbridge failures`."
        ),
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

        with_runtime(data_dir, run)
