"""`ledgerbridge demo`: the whole product on one machine, on embedded defaults.

SQLite in the data dir, both sandboxes seeded with demo data (HubSpot on port+1, QuickBooks on
port+2, their state kept in the data dir so links stay true across restarts), a connection made
through the sandboxes' OAuth, webhooks from both wired to this process, the worker running, and
the console on `port`. The stack itself is built by `process_stack` (as `ledgerbridge serve` and
the console's test stack build it); this module picks the demo's ports, data and options.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ledgerbridge import process_stack
from ledgerbridge.bootstrap import Runtime
from ledgerbridge.connect import SandboxEndpoints
from ledgerbridge.engine.fieldmap import FeeSettings, SyncSettings
from ledgerbridge.private_files import private_dir
from ledgerbridge.process_stack import ADMIN_USER, build_process_stack
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.servers import Served, port_free, serve_all
from ledgerbridge.settings import Settings


@dataclass
class DemoOptions:
    port: int = 8000
    data_dir: Path = Path(".ledgerbridge")
    seed: str = "demo"
    poll_interval: float = 5.0
    faults: FaultPlan | None = None
    hubspot_rate_limits: bool = False
    qbo_throttle: bool = False
    time_scale: float = 1.0
    with_console: bool = True
    with_worker: bool = True
    quiet: bool = False
    showcase_failure: bool = True
    extra_env: dict[str, Any] = field(default_factory=dict)
    scale: int = 0  # generated invoices added to the demo data (sandbox/scale_data.py)


def sandbox_apps(options: DemoOptions) -> tuple[Any, Any]:
    """The demo's sandboxes: on port+1 and port+2, their state kept in the data dir."""
    return process_stack.sandbox_apps(
        f"http://127.0.0.1:{options.port}",
        seed=options.seed,
        state_dir=options.data_dir / "sandbox",
        faults=options.faults,
        hubspot_rate_limits=options.hubspot_rate_limits,
        qbo_throttle=options.qbo_throttle,
        time_scale=options.time_scale,
        scale=options.scale if options.seed == "demo" else 0,
    )


def add_showcase_failure(hubspot_app: Any) -> str | None:
    """One open euro invoice in HubSpot: the demo QuickBooks company is USD-only, so it fails to
    sync visibly (banner, Failing-to-sync panel, fix hint) until a filter excludes it or
    multicurrency is turned on. Added once; a restarted demo keeps its state."""
    sb = hubspot_app.state.sandbox
    if any(r.properties.get("hs_currency") == "EUR" for r in sb.store.live("invoices")):
        return None
    contact = sb.store.find_by("contacts", "email", "olga.ivanova@orchidflorists.example")
    product = sb.store.find_by("products", "hs_sku", "CONS-HR")
    if contact is None or product is None:
        return None
    invoice_id = sb.create_object(
        "invoices",
        {"hs_currency": "EUR", "hs_title": "Workshop in Berlin", "hs_due_date": "2026-12-31"},
        [
            {
                "to": {"id": contact.id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}],
            }
        ],
    )
    sb.create_object(
        "line_items",
        {
            "hs_product_id": product.id,
            "quantity": "8",
            "price": "140.00",
            "hs_line_item_currency_code": "EUR",
        },
        [
            {
                "to": {"id": invoice_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 410}],
            }
        ],
    )
    sb.update_object("invoices", invoice_id, {"hs_invoice_status": "open"})
    return invoice_id


async def run_demo(
    options: DemoOptions,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Runtime, Any, Any], None] | None = None,
    console: Console | None = None,
) -> None:
    out = console or Console()
    port = options.port
    for p in (port, port + 1, port + 2):
        if not port_free(p):
            raise SystemExit(f"port {p} is in use: pick another with --port")
    private_dir(options.data_dir)
    settings = Settings(
        data_dir=options.data_dir,
        port=port,
        poll_interval_seconds=options.poll_interval,
        **options.extra_env,
    )
    ends = SandboxEndpoints(
        f"http://127.0.0.1:{port + 1}", f"http://127.0.0.1:{port + 2}", f"http://127.0.0.1:{port}"
    )
    hs, qb = sandbox_apps(options)
    if options.seed == "demo" and options.showcase_failure:
        add_showcase_failure(hs)
    stack = await build_process_stack(settings, sandboxes=ends, with_console=options.with_console)
    runtime, password = stack.runtime, stack.password
    stop = stop or asyncio.Event()
    connected = asyncio.Event()

    async def started() -> None:
        # The demo books processing fees as expenses (off by default for real connections).
        await stack.connect(SyncSettings(fees=FeeSettings(enabled=True)))
        connected.set()
        if not options.quiet:
            realm = qb.state.sandbox.default_realm_id
            out.print(f"[bold green]ledgerbridge is running[/]  console: http://127.0.0.1:{port}/")
            out.print(
                f"  login: user [bold]{ADMIN_USER}[/], password "
                + (f"[bold]{password}[/]" if password else "from LEDGERBRIDGE_ADMIN_PASSWORD")
            )
            out.print(f"  HubSpot sandbox:    {ends.hubspot_base}   (token pat-sandbox)")
            out.print(
                f"  QuickBooks sandbox: {ends.qbo_base}/v3/company/{realm}   (token qbo-sandbox-token)"
            )
            out.print(f"  data: {options.data_dir.resolve()}   Ctrl-C to stop")
        if on_ready is not None:
            on_ready(runtime, hs, qb)

    async def worker(stop_event: asyncio.Event) -> None:
        await connected.wait()
        if options.with_worker:
            await stack.run_worker(stop_event, poll_interval=options.poll_interval)
        else:
            await stop_event.wait()

    try:
        await serve_all(
            [
                Served("console", stack.front, port),
                Served("hubspot", hs, port + 1),
                Served("quickbooks", qb, port + 2),
            ],
            stop=stop,
            background=[worker],
            on_started=started,
        )
    finally:
        await stack.aclose()
        if not options.quiet:
            out.print("ledgerbridge stopped")
