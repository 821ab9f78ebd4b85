"""QBO throttling, per realm: 500 requests per minute, 10 concurrent requests, 120 batch calls
per minute (40 in Intuit's older guidance: `batch_per_minute`); each batch item also counts
toward the 500. Sandbox companies also get at most 10 requests per second (`per_second`, off
unless set). Going over answers HTTP 429 with the ThrottleExceeded fault (code 3001) and, like
QBO, no Retry-After header. `time_scale` compresses the minute (60 → one second) so a
benchmark can meet the limits quickly. Off unless enabled.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.sandbox.faults import ASGIApp, Receive, Scope, Send
from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.wire import company_tz, dumps, response_time

_REALM = re.compile(r"^/v3/company/([^/]+)/(.*)$")


@dataclass
class Limits:
    per_minute: int = 500
    concurrent: int = 10
    batch_per_minute: int = 120
    per_second: int | None = None  # the sandbox-company rule (10), counted per HTTP request


@dataclass
class _RealmWindow:
    requests: deque[float] = field(default_factory=deque)
    batches: deque[float] = field(default_factory=deque)
    second: deque[float] = field(default_factory=deque)
    in_flight: int = 0


class Throttle:
    def __init__(
        self,
        *,
        enabled: bool,
        time_scale: float = 1.0,
        limits: Limits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.time_scale = time_scale
        self.limits = limits or Limits()
        self.monotonic = monotonic
        self.realms: dict[str, _RealmWindow] = {}
        self.rejected = 0

    @property
    def window(self) -> float:
        return 60.0 / self.time_scale

    def _trim(self, log: deque[float], now: float) -> None:
        while log and log[0] <= now - self.window:
            log.popleft()

    def admit(self, realm: str, is_batch: bool) -> bool:
        """Count one request in; False when it must be answered 429."""
        state = self.realms.setdefault(realm, _RealmWindow())
        now = self.monotonic()
        self._trim(state.requests, now)
        self._trim(state.batches, now)
        per_second = self.limits.per_second
        if per_second is not None:
            while state.second and state.second[0] <= now - 1.0 / self.time_scale:
                state.second.popleft()
            if len(state.second) >= per_second:
                self.rejected += 1
                return False
        if (
            state.in_flight >= self.limits.concurrent
            or len(state.requests) >= self.limits.per_minute
        ):
            self.rejected += 1
            return False
        if is_batch and len(state.batches) >= self.limits.batch_per_minute:
            self.rejected += 1
            return False
        state.requests.append(now)
        if per_second is not None:
            state.second.append(now)
        if is_batch:
            state.batches.append(now)
        state.in_flight += 1
        return True

    def release(self, realm: str) -> None:
        self.realms[realm].in_flight -= 1

    def charge(self, realm: str, extra: int) -> None:
        """Batch items beyond the first count toward the per-minute limit."""
        if not self.enabled or extra <= 0:
            return
        state = self.realms.setdefault(realm, _RealmWindow())
        now = self.monotonic()
        state.requests.extend([now] * extra)


class ThrottleMiddleware:
    def __init__(self, app: ASGIApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _REALM.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or not self.throttle.enabled:
            await self.app(scope, receive, send)
            return
        realm, rest = match.group(1), match.group(2)
        if not self.throttle.admit(realm, rest.rstrip("/") == "batch"):
            await _too_many(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.throttle.release(realm)


async def _too_many(send: Send) -> None:
    body = dumps({"Fault": errors.throttled(), "time": _now()}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _now() -> str:
    return response_time(dt.datetime.now(dt.UTC), company_tz())
