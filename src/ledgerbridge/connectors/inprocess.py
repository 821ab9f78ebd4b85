"""Run a connector against an ASGI app (a sandbox) in the same process, without a socket.

httpx.ASGITransport re-raises whatever the app raised. Over a real socket a server that dies
mid-response (the sandboxes' "commit then drop the connection" fault) looks like a transport
error to the client, so this transport turns app exceptions into `httpx.RemoteProtocolError`:
the connector sees exactly what it would see over the network.
"""

from __future__ import annotations

from typing import Any

import httpx


class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        try:
            return await self._inner.handle_async_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:  # any app failure is a dropped connection to a client
            raise httpx.RemoteProtocolError(
                f"connection dropped by the server ({exc})", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def in_process_client(
    app: Any, base_url: str = "http://sandbox.test", **kwargs: Any
) -> httpx.AsyncClient:
    """An AsyncClient whose requests go straight into `app`."""
    return httpx.AsyncClient(transport=InProcessTransport(app), base_url=base_url, **kwargs)
