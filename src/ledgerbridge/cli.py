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


def _fault_plan(error_rate: float, rate_limit_rate: float, commit_timeout_rate: float, latency_ms: int):
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
    seed: str = typer.Option("demo", help="demo (a believable data set) or empty (a new portal and company)."),
    state_dir: Path | None = typer.Option(None, help="Persist sandbox state here across restarts."),
    rate_limits: bool = typer.Option(False, help="Enforce the APIs' rate limits."),
    time_scale: float = typer.Option(1.0, help="Compress rate-limit windows (60 = a minute lasts a second)."),
    error_rate: float = typer.Option(0.0, help="Fraction of API calls answered with a 5xx."),
    rate_limit_rate: float = typer.Option(0.0, help="Fraction of API calls answered with a 429."),
    commit_timeout_rate: float = typer.Option(0.0, help="Fraction of writes committed, then never answered."),
    latency_ms: int = typer.Option(0, help="Latency added to every API call."),
    hubspot_webhook_url: str | None = typer.Option(None, help="Deliver HubSpot webhooks here."),
    quickbooks_webhook_url: str | None = typer.Option(None, help="Deliver QuickBooks webhooks here."),
) -> None:
    """Serve local emulators of the HubSpot CRM API and the QuickBooks Online API."""
    if seed not in ("demo", "empty"):
        raise typer.BadParameter("seed must be 'demo' or 'empty'")
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
    from ledgerbridge.servers import Served, serve_all

    faults = _fault_plan(error_rate, rate_limit_rate, commit_timeout_rate, latency_ms)
    hs_dir = state_dir / "hubspot" if state_dir else None
    qb_dir = state_dir / "quickbooks" if state_dir else None
    for d in (hs_dir, qb_dir):
        if d:
            d.mkdir(parents=True, exist_ok=True)
    hs = hubspot_app(seed=seed, state_dir=hs_dir, faults=faults, rate_limits=rate_limits,
                     time_scale=time_scale, webhook_url=hubspot_webhook_url)
    qb = quickbooks_app(seed=seed, state_dir=qb_dir, faults=faults, throttle=rate_limits,
                        time_scale=time_scale, webhook_url=quickbooks_webhook_url)

    def started() -> None:
        realm = qb.state.sandbox.default_realm_id
        console.print(f"[bold]HubSpot sandbox[/]     http://127.0.0.1:{hubspot_port}  "
                      "(token: pat-sandbox; OAuth client sandbox-client-id / sandbox-client-secret)")
        console.print(f"[bold]QuickBooks sandbox[/]  http://127.0.0.1:{quickbooks_port}/v3/company/{realm}  "
                      "(token: qbo-sandbox-token; discovery /.well-known/openid_configuration)")
        console.print(f"QuickBooks realm id: [bold]{realm}[/]   seed: {seed}   Ctrl-C to stop")

    asyncio.run(serve_all(
        [Served("hubspot", hs, hubspot_port), Served("quickbooks", qb, quickbooks_port)],
        on_started=started,
    ))


def main() -> None:  # pragma: no cover - console_scripts entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
