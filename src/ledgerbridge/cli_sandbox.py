"""`ledgerbridge sandbox`: the HubSpot and QuickBooks emulators, served on their own (with
faults, rate limits and webhooks as asked)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console


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


def register(app: typer.Typer, console: Console) -> None:
    @app.command()
    def sandbox(
        hubspot_port: int = typer.Option(8101, help="Port of the HubSpot API sandbox."),
        quickbooks_port: int = typer.Option(
            8102, help="Port of the QuickBooks Online API sandbox."
        ),
        seed: str = typer.Option(
            "demo", help="demo (a believable data set) or empty (a new portal and company)."
        ),
        state_dir: Path | None = typer.Option(
            None, help="Persist sandbox state here across restarts."
        ),
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
            190,
            help="HubSpot requests per 10 s per app: 100 (free/starter) to 190 (pro/enterprise).",
        ),
        error_rate: float = typer.Option(0.0, help="Fraction of API calls answered with a 5xx."),
        rate_limit_rate: float = typer.Option(
            0.0, help="Fraction of API calls answered with a 429."
        ),
        commit_timeout_rate: float = typer.Option(
            0.0, help="Fraction of writes committed, then never answered."
        ),
        latency_ms: int = typer.Option(0, help="Latency added to every API call."),
        hubspot_webhook_url: str | None = typer.Option(None, help="Deliver HubSpot webhooks here."),
        quickbooks_webhook_url: str | None = typer.Option(
            None, help="Deliver QuickBooks webhooks here."
        ),
        scale: int = typer.Option(
            0,
            help="With --seed demo: add this many generated invoices (and their people, products).",
        ),
        scale_seed: int = typer.Option(
            1, help="Which generated company --scale makes (reproducible)."
        ),
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
