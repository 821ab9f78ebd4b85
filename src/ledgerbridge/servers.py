"""Serve several ASGI apps from one process (sandboxes, console), stopping them all cleanly.

uvicorn's Server normally owns SIGINT/SIGTERM; with several servers in one loop we own the
signals once, here, and ask every server (and the worker) to exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals are handled once, by serve_all


@dataclass
class Served:
    name: str
    app: Any
    port: int
    host: str = "127.0.0.1"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def make_server(item: Served, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        item.app,
        host=item.host,
        port=item.port,
        log_level=log_level,
        lifespan="on",
        access_log=False,
    )
    return _Server(config)


async def serve_all(
    items: Sequence[Served],
    *,
    stop: asyncio.Event | None = None,
    background: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
    on_started: Callable[[], Awaitable[None] | None] | None = None,
    log_level: str = "warning",
) -> None:
    """Run every app until SIGINT/SIGTERM or `stop` is set; then stop background tasks, then
    servers. `background` coroutines get the stop event and must return once it is set."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    servers = [make_server(item, log_level) for item in items]
    server_tasks = [
        asyncio.create_task(s.serve(), name=f"serve-{i.name}")
        for s, i in zip(servers, items, strict=True)
    ]
    try:
        while not all(s.started for s in servers):
            for task in server_tasks:
                if task.done():
                    task.result()  # a server failed to start (port taken...): raise it
                    raise RuntimeError("a server stopped during start-up")
            await asyncio.sleep(0.05)
        if on_started is not None:
            result = on_started()
            if asyncio.iscoroutine(result):
                await result
        bg_tasks = [asyncio.create_task(fn(stop)) for fn in background]
        stop_wait = asyncio.create_task(stop.wait())
        await asyncio.wait(
            [stop_wait, *server_tasks, *bg_tasks], return_when=asyncio.FIRST_COMPLETED
        )
        stop.set()
        for task in bg_tasks:
            if task.done() and task.exception():
                raise task.exception()  # type: ignore[misc]
        if bg_tasks:
            await asyncio.wait(bg_tasks, timeout=10)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*server_tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
