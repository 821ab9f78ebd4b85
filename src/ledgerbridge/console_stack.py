"""The whole product in one process on free local ports: the console's browser tests and
`python -m ledgerbridge.screenshots` run against it.

Both sandboxes (demo data) run in their own threads; the console, the webhook ingress and the
in-process worker share one event loop in a third thread, built by `process_stack` and
connected through the sandboxes' OAuth flows, exactly as `ledgerbridge demo` does. Every server
binds 127.0.0.1 on a free port; the database is SQLite in a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from pydantic import SecretStr

from ledgerbridge.bootstrap import Runtime
from ledgerbridge.connect import SandboxEndpoints
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.process_stack import build_process_stack, sandbox_apps
from ledgerbridge.settings import Settings

ADMIN_PASSWORD = "correct horse battery staple"
HUBSPOT_TOKEN = "pat-sandbox"
QBO_TOKEN = "qbo-sandbox-token"
T = TypeVar("T")


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the test process keeps its own signal handlers


def _serve_in_thread(app: Any, sock: socket.socket) -> tuple[_Server, threading.Thread]:
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread


@dataclass
class ConsoleStack:
    console_url: str
    hubspot_url: str
    qbo_url: str
    realm_id: str
    hubspot: Any  # the HubSpot sandbox app (app.state.sandbox)
    quickbooks: Any  # the QuickBooks sandbox app
    loop: asyncio.AbstractEventLoop
    runtime: Runtime
    password: str = ADMIN_PASSWORD
    _stop: Any = None
    _threads: list[Any] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the stack's loop (where the runtime's clients live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def connection_id(self) -> int:
        return min(self.runtime.connections)

    def wait_idle(self, timeout: float = 90.0, quiet: float = 1.0) -> None:
        """Wait until the worker has nothing due (e.g. the first sync of the demo data is done)."""
        deadline = time.monotonic() + timeout
        calm_since: float | None = None
        while time.monotonic() < deadline:
            now = dt.datetime.now(dt.UTC)
            due = self.runtime.store.next_due_at(self.connection_id, now)
            if due is None or due > now + dt.timedelta(seconds=5):
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since >= quiet:
                    return
            else:
                calm_since = None
            time.sleep(0.1)
        raise TimeoutError(f"the worker was still busy after {timeout} s")

    def set_sync_settings(self, settings: SyncSettings) -> None:
        """Replace the connection's sync settings (stored, and in the running engine)."""

        async def update() -> None:
            self.runtime.update_sync_settings(self.connection_id, settings)

        self.run(update())

    def hubspot_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.hubspot_url,
            headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
            timeout=10,
        )

    def qbo_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.qbo_url}/v3/company/{self.realm_id}",
            headers={"Authorization": f"Bearer {QBO_TOKEN}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=10,
        )


@contextlib.contextmanager
def console_stack(
    data_dir: Path,
    *,
    poll_interval: float = 0.5,
    sync: SyncSettings | None = None,
    worker: bool = True,
) -> Iterator[ConsoleStack]:
    """`worker`: run the in-process worker (off: nothing syncs, e.g. a benchmark of the console
    alone)."""
    hs_sock, qb_sock, console_sock = _socket(), _socket(), _socket()
    console_url = _url(console_sock)
    hs, qb = sandbox_apps(console_url, seed="demo")
    hs_server, hs_thread = _serve_in_thread(hs, hs_sock)
    qb_server, qb_thread = _serve_in_thread(qb, qb_sock)
    ends = SandboxEndpoints(_url(hs_sock), _url(qb_sock), console_url)
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        settings = Settings(
            data_dir=data_dir,
            admin_password=SecretStr(ADMIN_PASSWORD),
            poll_interval_seconds=poll_interval,
        )
        process = await build_process_stack(settings, sandboxes=ends)
        runtime = process.runtime
        try:
            await process.connect(sync)
            server = _Server(
                uvicorn.Config(process.front, log_level="warning", lifespan="on", access_log=False)
            )
            serving = asyncio.create_task(server.serve(sockets=[console_sock]))
            working = asyncio.create_task(
                process.run_worker(stop, poll_interval=poll_interval, rescan_seconds=1.0)
                if worker
                else stop.wait()
            )
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.01)
            ready.update(runtime=runtime, stop=stop)
            started.set()
            await stop.wait()
            server.should_exit = True
            await asyncio.gather(serving, working, return_exceptions=True)
        except BaseException as exc:
            ready["error"] = exc
            started.set()
            raise
        finally:
            await process.aclose()

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(Exception):
            loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run_loop, daemon=True, name="console-stack")
    thread.start()
    try:
        while not (hs_server.started and qb_server.started):
            if not hs_thread.is_alive() or not qb_thread.is_alive():
                raise RuntimeError("a sandbox did not start")
            threading.Event().wait(0.01)
        if not started.wait(60):
            raise RuntimeError("the console stack did not start within 60 s")
        if "error" in ready:
            raise RuntimeError(f"the console stack failed to start: {ready['error']!r}") from ready[
                "error"
            ]
        stack = ConsoleStack(
            console_url=console_url,
            hubspot_url=ends.hubspot_base,
            qbo_url=ends.qbo_base,
            realm_id=qb.state.sandbox.default_realm_id,
            hubspot=hs,
            quickbooks=qb,
            loop=loop,
            runtime=ready["runtime"],
        )
        yield stack
    finally:
        if "stop" in ready:
            loop.call_soon_threadsafe(ready["stop"].set)
        thread.join(timeout=20)
        for server, server_thread in ((hs_server, hs_thread), (qb_server, qb_thread)):
            server.should_exit = True
            server_thread.join(timeout=10)
        for sock in (hs_sock, qb_sock, console_sock):
            sock.close()
