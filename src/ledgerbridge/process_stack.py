"""The one builder of the process stack: everything `ledgerbridge demo`, `ledgerbridge serve` and
the console's test stack (`console_stack.py`) run in one process.

`build_process_stack(settings)` builds the Runtime (store, connectors, engines) through the
composition root, makes sure the console's admin user exists and puts the console behind the
webhook ingress. Against the local sandboxes, `sandbox_apps` builds both emulators wired to send
their webhooks to the console, and `ProcessStack.connect` connects them through their OAuth flows.
Callers only choose how to serve it (fixed ports with `servers.serve_all`, or free sockets).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerbridge.bootstrap import (
    SANDBOX_CLIENT_SECRET,
    SANDBOX_VERIFIER_TOKEN,
    Runtime,
    build_runtime,
)
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.ingress import front_app
from ledgerbridge.private_files import private_dir
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.settings import Settings
from ledgerbridge.workers.inprocess import run_worker

ADMIN_USER = "admin"


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


def sandbox_apps(
    console_url: str,
    *,
    seed: str = "demo",
    state_dir: Path | None = None,
    faults: FaultPlan | None = None,
    hubspot_rate_limits: bool = False,
    qbo_throttle: bool = False,
    time_scale: float = 1.0,
    scale: int = 0,
) -> tuple[Any, Any]:
    """Both sandboxes (HubSpot, QuickBooks), sending their webhooks to the console at
    `console_url`. `state_dir`: where they keep their state across restarts (None: in memory)."""
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app

    hs_state = qb_state = None
    if state_dir is not None:
        hs_state = private_dir(state_dir / "hubspot")
        qb_state = private_dir(state_dir / "quickbooks")
    hs = hubspot_app(
        seed=seed,
        state_dir=hs_state,
        faults=faults,
        rate_limits=hubspot_rate_limits,
        time_scale=time_scale,
        webhook_url=f"{console_url}/webhooks/hubspot",
        webhook_secret=SANDBOX_CLIENT_SECRET,
        scale=scale,
    )
    qb = quickbooks_app(
        seed=seed,
        state_dir=qb_state,
        faults=faults,
        throttle=qbo_throttle,
        time_scale=time_scale,
        webhook_url=f"{console_url}/webhooks/quickbooks",
        verifier_token=SANDBOX_VERIFIER_TOKEN,
        scale=scale,
    )
    return hs, qb


@dataclass
class ProcessStack:
    """One process's runtime, with the console and webhook ingress in front of it."""

    runtime: Runtime
    front: Any  # the ASGI app to serve: webhook ingress, health, metrics (+ the console)
    password: str | None  # the admin password when it was generated (to print), else None
    sandboxes: SandboxEndpoints | None = None

    async def connect(self, sync: SyncSettings | None = None) -> None:
        """Connect the local sandboxes (their OAuth consents at once); the console is ready."""
        if self.sandboxes is not None:
            await connect_sandboxes(self.runtime, self.sandboxes, sync=sync)
        self.runtime.ready = True

    async def run_worker(
        self,
        stop: asyncio.Event,
        *,
        poll_interval: float | None = None,
        rescan_seconds: float = 5.0,
    ) -> None:
        """The in-process worker, until `stop` is set."""
        await run_worker(
            self.runtime, stop, poll_interval=poll_interval, rescan_seconds=rescan_seconds
        )

    async def aclose(self) -> None:
        await self.runtime.aclose()


async def build_process_stack(
    settings: Settings,
    *,
    sandboxes: SandboxEndpoints | None = None,
    with_console: bool = True,
    serving: bool = False,
) -> ProcessStack:
    """The runtime (composition root), the admin user, and the front app. `sandboxes`: the local
    sandboxes this process will connect to (their URLs are shown in the console)."""
    runtime = await build_runtime(settings)
    try:
        password = ensure_admin(runtime)
        if sandboxes is not None:
            runtime.links.update(
                hubspot_sandbox=sandboxes.hubspot_base, qbo_sandbox=sandboxes.qbo_base
            )
        console = console_app(runtime, serving=serving) if with_console else None
        front = front_app(runtime, console)
    except BaseException:
        await runtime.aclose()
        raise
    return ProcessStack(runtime, front, password, sandboxes)
