"""Shared HTTP machinery for both connectors.

- One retry policy (`RetryPolicy`) with an injectable clock, sleep and random source, so tests
  never wait. It retries Transient and RateLimited errors (honouring Retry-After), never
  Invalid/Conflict/Auth errors, and gives up early when the wait would exceed its budget (the
  engine then reschedules the record instead of a worker sleeping for minutes).
- `ApiTransport` sends one logical request: it holds the per-account concurrency limit only
  while a request is in flight, refreshes the token once on a 401, maps error responses through
  the API's own error table, and turns a transport failure on a write into `UnknownOutcome`.
- Every send first draws from the account's rate budget (`budget.py`) when one is given, and
  a 429 pauses that budget; retries after a 429 then wait in the budget, not in the policy.
- Idempotency keys (QBO `requestid`) are part of the request built *before* the retry loop, so
  every attempt carries the same key (as stripe-python does).
- JSON is decoded with Decimal for every non-integer number and encoded from Decimal without
  ever going through float.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import httpx

from ledgerbridge import metrics
from ledgerbridge.connectors.budget import Budget, Kind, spend
from ledgerbridge.errors import (
    RateLimited,
    SyncError,
    Transient,
    UnknownOutcome,
)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BUDGET_WAIT_REPORTED = 0.005  # seconds: shorter waits are scheduling noise, not pacing


# --------------------------------------------------------------------------------------------
# JSON with Decimal
# --------------------------------------------------------------------------------------------
def loads(raw: bytes | str) -> Any:
    """Parse JSON; non-integer numbers become Decimal (money never passes through float)."""
    return json.loads(raw, parse_float=Decimal)


# A Decimal goes through the C encoder as a marked string, then the marks are cut away so it
# lands as a bare number: the same output as _encode, many times faster on big bodies.
_DECIMAL_MARK = "\x00\x01lbdec:"
_ESCAPED_MARK = "\\u0000\\u0001lbdec:"
_MARKED = re.compile(r'"\\u0000\\u0001lbdec:(-?[0-9.]+)\\u0000"')


def dumps(value: Any) -> bytes:
    """Serialize to JSON, writing Decimal as an exact JSON number."""
    marked = 0

    def mark(item: Any) -> Any:
        nonlocal marked
        if isinstance(item, Decimal):
            if not item.is_finite():
                raise ValueError(f"cannot encode {item!r} as JSON")
            marked += 1
            return f"{_DECIMAL_MARK}{format(item, 'f')}\x00"
        if isinstance(item, Mapping):
            return dict(item)
        raise TypeError(f"cannot encode {type(item).__name__} as JSON")

    try:
        text = json.dumps(value, default=mark, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return _encode(value).encode("utf-8")  # the exact path decides (and explains)
    if marked or _ESCAPED_MARK in text:
        text, cut = _MARKED.subn(r"\1", text)
        if cut != marked or _ESCAPED_MARK in text:
            text = _encode(value)  # a string that looks like a mark: trust nothing, go slow
    return text.encode("utf-8")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode {value!r} as JSON")
        text = format(value, "f")
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Only reached for values that were never money (e.g. a float from a library).
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# --------------------------------------------------------------------------------------------
# Retry policy
# --------------------------------------------------------------------------------------------
async def _real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter. `max_total_wait` caps the time spent sleeping for one
    logical request; past it the last error is raised so the engine can reschedule."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_wait: float = 60.0
    jitter: float = 0.25  # up to +25% on each backoff, so parallel workers do not stampede
    # With a rate budget, a 429 pauses the budget and the next attempt waits there: such
    # retries cost no sleep here and get this many attempts before the engine re-queues.
    paced_attempts: int = 12
    sleep: Sleep = _real_sleep
    clock: Clock = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based), before jitter."""
        return min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))

    def delay_for(self, error: SyncError, attempt: int) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # The server said how long to wait: wait exactly that (no jitter below it).
            return max(0.0, float(error.retry_after))
        base = self.backoff(attempt)
        return base * (1 + self.jitter * self.rng.random())

    @staticmethod
    def should_retry(error: SyncError, retry_unknown: bool) -> bool:
        if isinstance(error, UnknownOutcome):
            return retry_unknown
        return isinstance(error, Transient)

    async def run(
        self,
        attempt_fn: Callable[[int], Awaitable[T]],
        *,
        retry_unknown: bool = True,
        before_retry: Callable[[SyncError], Awaitable[T | None]] | None = None,
        paced: bool = False,
    ) -> T:
        """Call `attempt_fn(attempt)` until it succeeds or the error is final.

        `before_retry(error)` runs before each retry; when it returns a value, that value is
        the result (used to look a write up by its natural key after an unknown outcome).
        If any attempt ended with an unknown outcome and the loop gives up on a retryable
        error, the caller gets UnknownOutcome: the first write may still have happened.
        """
        waited = 0.0
        unknown: UnknownOutcome | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_fn(attempt)
            except SyncError as error:
                if isinstance(error, UnknownOutcome):
                    unknown = error
                retryable = self.should_retry(error, retry_unknown)
                if paced and isinstance(error, RateLimited):
                    # The budget has paused itself for this account: wait there, not here.
                    delay = 0.0
                    give_up = attempt >= max(self.paced_attempts, self.max_attempts)
                else:
                    delay = self.delay_for(error, attempt) if retryable else 0.0
                    give_up = (
                        not retryable
                        or attempt >= self.max_attempts
                        or waited + delay > self.max_total_wait
                    )
                if give_up:
                    if (
                        unknown is not None
                        and error is not unknown
                        and isinstance(error, Transient)
                    ):
                        raise UnknownOutcome(
                            message=f"{unknown.message}; retries then failed: {error.message}",
                            hint=unknown.hint,
                            code=error.code,
                            status=error.status,
                        ) from error
                    raise
                await self.sleep(delay)
                waited += delay
                if before_retry is not None:
                    found = await before_retry(error)
                    if found is not None:
                        return found


# --------------------------------------------------------------------------------------------
# Pacing (e.g. HubSpot search: 5 requests per second per account)
# --------------------------------------------------------------------------------------------
class Pacer:
    """Spaces calls at least `interval` seconds apart (injectable clock and sleep)."""

    def __init__(
        self, per_second: float, clock: Clock = time.monotonic, sleep: Sleep = _real_sleep
    ):
        self.interval = 1.0 / per_second
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self.clock()
            if now < self._next:
                await self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


# --------------------------------------------------------------------------------------------
# One request, many attempts
# --------------------------------------------------------------------------------------------
class TokenSource(Protocol):
    async def get(self) -> str: ...
    async def refresh(self, stale: str | None = None) -> str: ...


ErrorMapper = Callable[[httpx.Response, Any], SyncError]


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any  # parsed JSON (Decimal numbers), or None
    content: bytes
    headers: httpx.Headers


class ApiTransport:
    """Sends requests for one account (a QBO realm or a HubSpot portal)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        tokens: TokenSource,
        map_error: ErrorMapper,
        *,
        api_name: str,
        retry: RetryPolicy | None = None,
        limiter: asyncio.Semaphore | None = None,
        max_in_flight: int = 10,
        default_headers: Mapping[str, str] | None = None,
        timeout: float | None = 30.0,
        budget: Budget | None = None,
    ) -> None:
        self.budget = budget  # the account's rate budget, drawn from before every send
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.map_error = map_error
        self.api_name = api_name
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or asyncio.Semaphore(max_in_flight)
        self.default_headers = dict(default_headers or {})
        self.timeout = timeout
        self.requests_sent = 0  # counted per attempt: what the API's rate limits see

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        write: bool | None = None,
        idempotent: bool | None = None,
        recover: Callable[[], Awaitable[Any]] | None = None,
        parse_json: bool = True,
        kind: Kind = "call",
        cost: int = 1,
    ) -> ApiResponse:
        """One logical request.

        write: the request changes state (default: any non-GET). A write whose answer never
          arrived raises UnknownOutcome.
        idempotent: safe to resend after an unknown outcome (reads; writes carrying an
          idempotency key, upserts, PATCHes of absolute values). Defaults to `not write`.
        recover: for a non-idempotent write, a lookup run before resending after an unknown
          outcome; a non-None result ends the loop and is returned as ApiResponse.data.
        kind, cost: what the rate budget meters ("batch" with its item count, "search").
        """
        method = method.upper()
        is_write = (method in WRITE_METHODS) if write is None else write
        can_resend = (not is_write) if idempotent is None else idempotent
        body = (
            content
            if content is not None
            else (dumps(json_body) if json_body is not None else None)
        )
        all_headers = {**self.default_headers, **(headers or {})}
        if json_body is not None and "Content-Type" not in all_headers:
            all_headers["Content-Type"] = "application/json"
        url = f"{self.base_url}{path}"

        async def attempt(_: int) -> ApiResponse:
            return await self._send_with_auth(
                method, url, params, body, all_headers, is_write, parse_json, kind, cost
            )

        before_retry = None
        if recover is not None:

            async def before_retry(error: SyncError) -> ApiResponse | None:
                if not isinstance(error, UnknownOutcome):
                    return None
                try:
                    found = await recover()
                except SyncError as lookup_error:
                    # Cannot tell whether the write happened: stop here and say so, so the
                    # engine looks the record up later instead of writing it again blindly.
                    raise UnknownOutcome(
                        message=f"{error.message}; the lookup afterwards failed: {lookup_error.message}",
                        hint=error.hint,
                    ) from lookup_error
                if found is None:
                    return None
                return ApiResponse(status=200, data=found, content=b"", headers=httpx.Headers())

        return await self.retry.run(
            attempt,
            retry_unknown=can_resend or recover is not None,
            before_retry=before_retry,
            paced=self.budget is not None,
        )

    async def _send_with_auth(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: dict[str, str],
        is_write: bool,
        parse_json: bool,
        kind: Kind = "call",
        cost: int = 1,
    ) -> ApiResponse:
        token = await self.tokens.get()
        send = (method, url, params, body, headers)
        response = await self._send_once(*send, token, is_write, kind, cost)
        if response.status_code == 401:
            # Refresh once (single-flight inside the provider) and resend. A second 401 means
            # the grant itself is gone.
            token = await self.tokens.refresh(stale=token)
            response = await self._send_once(*send, token, is_write, kind, cost)
        budget = self.budget
        if budget is not None:
            if response.status_code == 429:
                # Over the limit after all (another app, another worker without the shared
                # budget, a limit lower than configured): the whole account slows down.
                await budget.throttled(retry_after_seconds(response.headers))
            elif response.status_code < 400:
                await budget.succeeded()
        return self._finish(response, is_write, parse_json)

    async def _send_once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        headers: dict[str, str],
        token: str,
        is_write: bool,
        kind: Kind = "call",
        cost: int = 1,
    ) -> httpx.Response:
        request_headers = {**headers, "Authorization": f"Bearer {token}"}
        asked_at = time.monotonic()
        async with spend(self.budget, kind, cost), self.limiter:
            waited = time.monotonic() - asked_at
            if waited > BUDGET_WAIT_REPORTED:  # held back by the account's budget or in-flight cap
                metrics.budget_waited(self.api_name, self._account(), waited)
            self.requests_sent += 1
            try:
                response = await self.http.request(
                    method,
                    url,
                    params=params,
                    content=body,
                    headers=request_headers,
                    timeout=self.timeout,
                )
                await response.aread()
                metrics.api_call(self.api_name, self._account(), response.status_code)
                return response
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never left: safe to resend, even a write.
                raise Transient(
                    message=f"{self.api_name}: could not connect ({type(exc).__name__}: {exc})",
                    hint=f"{self.api_name} could not be reached; ledgerbridge retries automatically.",
                ) from exc
            except httpx.TransportError as exc:
                raise self._lost(exc, is_write) from exc

    def _account(self) -> str | None:
        """The portal or realm the tokens belong to (a metrics label)."""
        account = getattr(self.tokens, "account", None)
        if account is None:
            account = getattr(getattr(self.tokens, "tokens", None), "account_id", None)
        return str(account) if account is not None else None

    def _lost(self, exc: Exception, is_write: bool) -> Transient:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if is_write:
            return UnknownOutcome(
                message=f"{self.api_name}: no answer to a write ({what})",
                hint="The change may or may not have been saved; ledgerbridge checks before "
                "writing again, so no duplicate is created.",
            )
        return Transient(
            message=f"{self.api_name}: connection lost ({what})",
            hint=f"A network problem talking to {self.api_name}; ledgerbridge retries automatically.",
        )

    def _finish(self, response: httpx.Response, is_write: bool, parse_json: bool) -> ApiResponse:
        data: Any = None
        content = response.content
        if content and parse_json and _looks_json(response):
            try:
                data = loads(content)
            except ValueError:
                data = None
                if 200 <= response.status_code < 300:
                    # A success status with a broken body: the answer was cut off.
                    raise self._lost(ValueError("truncated response body"), is_write) from None
        if response.status_code >= 400:
            raise self.map_error(response, data)
        return ApiResponse(response.status_code, data, content, response.headers)


def _looks_json(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return "json" in ctype or ctype == "" or ctype.startswith("text/plain")


def retry_after_seconds(headers: httpx.Headers, default: float | None = None) -> float | None:
    """Retry-After as seconds (numeric form; HTTP-date form is rare for these APIs)."""
    value = headers.get("retry-after")
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
