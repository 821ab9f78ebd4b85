"""`ledgerbridge demo`: the whole product on one machine, on embedded defaults.

SQLite in the data dir, both sandboxes seeded with demo data (HubSpot on port+1, QuickBooks on
port+2, their state kept in the data dir so links stay true across restarts), a connection made
through the sandboxes' OAuth, webhooks from both wired to this process, the worker running, and
the console on `port`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ledgerbridge.bootstrap import (
    SANDBOX_CLIENT_SECRET,
    SANDBOX_VERIFIER_TOKEN,
    Runtime,
    build_runtime,
)
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.engine.fieldmap import FeeSettings, SyncSettings
from ledgerbridge.ingress import front_app
from ledgerbridge.private_files import private_dir
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.servers import Served, port_free, serve_all
from ledgerbridge.settings import Settings
from ledgerbridge.workers.inprocess import run_worker

ADMIN_USER = "admin"


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


def ensure_admin(runtime: Runtime) -> str | None:
    """Make sure user `admin` exists. Returns the password when it was generated (to print)."""
    configured = runtime.settings.admin_password
    store = runtime.store
    if configured is not None:
        password = configured.get_secret_value()
        if store.get_user(ADMIN_USER) is None:
            store.create_user(ADMIN_USER, password)
        else:
            store.set_password(ADMIN_USER, password)
        return None
    password = secrets.token_urlsafe(12)
    if store.get_user(ADMIN_USER) is None:
        store.create_user(ADMIN_USER, password)
    else:
        store.set_password(ADMIN_USER, password)
    return password


def console_app(runtime: Runtime, *, serving: bool = False) -> Any:
    """`serving`: under `ledgerbridge serve`, where the cookie is Secure unless set otherwise."""
    from ledgerbridge.web import create_app

    configured = runtime.settings.secure_cookies
    return create_app(runtime, secure_cookies=serving if configured is None else configured)


def sandbox_apps(options: DemoOptions) -> tuple[Any, Any]:
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app

    port = options.port
    state = options.data_dir / "sandbox"
    private_dir(state / "hubspot")
    private_dir(state / "quickbooks")
    hs = hubspot_app(
        seed=options.seed,
        state_dir=state / "hubspot",
        faults=options.faults,
        rate_limits=options.hubspot_rate_limits,
        time_scale=options.time_scale,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
        webhook_secret=SANDBOX_CLIENT_SECRET,
        scale=options.scale if options.seed == "demo" else 0,
    )
    qb = quickbooks_app(
        seed=options.seed,
        state_dir=state / "quickbooks",
        faults=options.faults,
        throttle=options.qbo_throttle,
        time_scale=options.time_scale,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/quickbooks",
        verifier_token=SANDBOX_VERIFIER_TOKEN,
        scale=options.scale if options.seed == "demo" else 0,
    )
    return hs, qb


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
    runtime = await build_runtime(settings)
    password = ensure_admin(runtime)
    hs, qb = sandbox_apps(options)
    if options.seed == "demo" and options.showcase_failure:
        add_showcase_failure(hs)
    ends = SandboxEndpoints(
        f"http://127.0.0.1:{port + 1}", f"http://127.0.0.1:{port + 2}", f"http://127.0.0.1:{port}"
    )
    runtime.links.update(hubspot_sandbox=ends.hubspot_base, qbo_sandbox=ends.qbo_base)
    front = front_app(runtime, console_app(runtime) if options.with_console else None)
    stop = stop or asyncio.Event()
    connected = asyncio.Event()

    async def started() -> None:
        # The demo books processing fees as expenses (off by default for real connections).
        await connect_sandboxes(runtime, ends, sync=SyncSettings(fees=FeeSettings(enabled=True)))
        runtime.ready = True
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
            await run_worker(runtime, stop_event, poll_interval=options.poll_interval)
        else:
            await stop_event.wait()

    try:
        await serve_all(
            [
                Served("console", front, port),
                Served("hubspot", hs, port + 1),
                Served("quickbooks", qb, port + 2),
            ],
            stop=stop,
            background=[worker],
            on_started=started,
        )
    finally:
        await runtime.aclose()
        if not options.quiet:
            out.print("ledgerbridge stopped")
