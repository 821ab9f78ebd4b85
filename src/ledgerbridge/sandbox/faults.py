"""Fault injection shared by both sandboxes.

A FaultPlan says how often a request fails and how: a 5xx, a 429, added latency, or "commit then
time out" (the write happens, the client never hears back: the connection is dropped after the
handler ran). It is set by CLI flags or at runtime through the admin endpoint
`GET/PUT /_sandbox/faults` (JSON body with the FaultPlan fields).

Only paths under `api_prefixes` are subject to faults; admin, OAuth and discovery endpoints never
fail, so tests can always reconfigure the sandbox.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PATH = "/_sandbox/faults"


class DroppedConnection(Exception):
    """Raised after a committed write to make the client never hear back."""


@dataclass
class FaultPlan:
    error_rate: float = 0.0  # fraction of requests answered with a 5xx (before any write)
    rate_limit_rate: float = 0.0  # fraction answered with 429
    commit_timeout_rate: float = (
        0.0  # fraction of writes (POST/PUT/PATCH/DELETE) committed, then dropped
    )
    latency_ms: int = 0  # added to every faultable request
    seed: int | None = None
    status_5xx: int = 503
    retry_after: int = 1  # seconds, sent with 429
    only_methods: list[str] = field(default_factory=list)  # restrict faults to these methods

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def active(self) -> bool:
        return bool(
            self.error_rate or self.rate_limit_rate or self.commit_timeout_rate or self.latency_ms
        )


ErrorBody = Callable[[int], tuple[dict[str, Any], dict[str, str]]]


class FaultInjector:
    """ASGI middleware. `error_body(status)` returns (json body, extra headers) in the emulated
    API's own error shape, so clients see faults exactly as the real API would send them."""

    retry_after_header = True  # QBO's 429s carry none (its sandbox turns this off)

    def __init__(
        self,
        app: ASGIApp,
        plan: FaultPlan | None = None,
        *,
        api_prefixes: tuple[str, ...] = ("/",),
        error_body: ErrorBody | None = None,
        excluded_prefixes: tuple[str, ...] = ("/_sandbox", "/oauth", "/.well-known"),
    ) -> None:
        self.app = app
        self.api_prefixes = api_prefixes
        self.excluded_prefixes = excluded_prefixes
        self.error_body = error_body or (lambda status: ({"message": "injected fault"}, {}))
        self.set_plan(plan or FaultPlan())
        self.counts: dict[str, int] = {"5xx": 0, "429": 0, "commit_timeout": 0}

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)

    def _faultable(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if any(path.startswith(p) for p in self.excluded_prefixes):
            return False
        if self.plan.only_methods and scope.get("method") not in self.plan.only_methods:
            return False
        return any(path.startswith(p) for p in self.api_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if not self.plan.active or not self._faultable(scope):
            await self.app(scope, receive, send)
            return
        plan = self.plan
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        roll = self.rng.random()
        if roll < plan.error_rate:
            self.counts["5xx"] += 1
            await self._respond(send, plan.status_5xx)
            return
        if roll < plan.error_rate + plan.rate_limit_rate:
            self.counts["429"] += 1
            await self._respond(
                send, 429, {"Retry-After": str(plan.retry_after)} if self.retry_after_header else {}
            )
            return
        is_write = scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")
        if is_write and roll < plan.error_rate + plan.rate_limit_rate + plan.commit_timeout_rate:
            self.counts["commit_timeout"] += 1
            await self._commit_then_drop(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _commit_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the handler to completion (the write commits), swallow its response, then start a
        response whose body never completes and abort: over a socket the server closes the
        connection mid-body; in-process the exception reaches the client. Either way the client
        gets a transport error, never the answer."""

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise DroppedConnection("sandbox fault: committed, then dropped the connection")

    async def _respond(
        self, send: Send, status: int, headers: dict[str, str] | None = None
    ) -> None:
        body, extra = self.error_body(status)
        raw = json.dumps(body).encode()
        all_headers = {"content-type": "application/json", **extra, **(headers or {})}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()]
                + [(b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200
        if scope.get("method") in ("PUT", "POST"):
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            try:
                self.set_plan(FaultPlan.from_dict(json.loads(b"".join(chunks) or b"{}")))
            except (ValueError, TypeError) as exc:
                raw = json.dumps({"error": str(exc)}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": raw})
                return
        raw = json.dumps({"plan": self.plan.to_dict(), "counts": self.counts}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})
