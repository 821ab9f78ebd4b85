"""Request bodies over the cap are refused (413) before they are read, on every route.

Over a real socket: a client announcing 300 MiB gets 413 without sending it; a chunked body
with no length is cut off once it passes the cap; the console's form posts are capped too.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from security_helpers import Served

CAP = 1024 * 1024


def _raw_request(url: str, head: str, body: bytes = b"") -> str:
    """Send the head (and a little body), read the answer; the rest is never sent."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


@pytest.mark.parametrize("path", ["/webhooks/hubspot", "/webhooks/quickbooks", "/login"])
def test_announced_300_mib_body_is_refused_before_reading(served: Served, path: str) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {300 * 1024 * 1024}\r\n"
    )
    answer = _raw_request(served.url, head, b"[" * 1000)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert f"request body is larger than {CAP} bytes" in answer


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        sent += 64 * 1024
        yield b" " * (64 * 1024)


@pytest.mark.parametrize("path", ["/webhooks/hubspot", "/webhooks/quickbooks", "/login"])
def test_streamed_body_without_length_is_cut_at_the_cap(served: Served, path: str) -> None:
    try:
        response = httpx.post(served.url + path, content=_chunks(8 * CAP), timeout=30)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pytest.fail("the server should answer 413, not drop the connection")
    assert response.status_code == 413
    assert response.json()["error"] == f"request body is larger than {CAP} bytes"
    assert served.dirty(served.sandbox_id) == []


def test_body_at_the_cap_is_read(served: Served) -> None:
    response = httpx.post(served.url + "/webhooks/quickbooks", content=b" " * CAP, timeout=30)
    assert response.status_code == 401  # read in full, then refused for its signature
