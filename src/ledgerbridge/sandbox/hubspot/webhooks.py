"""Webhooks out: batched, signed, retried deliveries of CRM change events.

Events wait in a queue; a background task (started by the app's lifespan) sends them as JSON
arrays of up to 100, after letting a batch gather for `batch_window` seconds, so API requests
never wait on delivery. Each POST carries HubSpot's v3 signature (base64 HMAC-SHA256 of
method + URI + body + timestamp, keyed with the app's client secret) and the v1 signature. A
failed delivery (connection error, timeout or non-2xx) is retried with exponential backoff, with
`attemptNumber` counting the tries, up to `max_attempts`.

Subscriptions name `<object>.<event>` (e.g. "invoice.creation") or HubSpot's generic
`object.<event>`; every event also carries `objectTypeId`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .schema import resolve_type

EVENT_KINDS = ("creation", "propertyChange", "deletion", "associationChange")
WEBHOOK_TYPES = (
    "contact",
    "company",
    "deal",
    "product",
    "line_item",
    "invoice",
    "commerce_payment",
)
DEFAULT_SUBSCRIPTIONS = tuple(f"{t}.{k}" for t in WEBHOOK_TYPES for k in EVENT_KINDS)
# Derived bookkeeping fields change on every write; nobody subscribes to them.
_QUIET_PROPS = {"hs_lastmodifieddate", "lastmodifieddate"}


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def sign_v1(secret: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{method}{uri}{body}".encode()).hexdigest()


@dataclass
class Delivery:
    events: list[dict[str, Any]]
    attempt: int = 0
    due: float = 0.0  # time.monotonic() when it may be sent


@dataclass
class WebhookConfig:
    url: str | None = None
    secret: str = "sandbox-client-secret"
    subscriptions: list[str] = field(default_factory=lambda: list(DEFAULT_SUBSCRIPTIONS))


class WebhookDispatcher:
    def __init__(self, *, portal_id: int, app_id: int, time_scale: float = 1.0) -> None:
        self.portal_id = portal_id
        self.app_id = app_id
        self.config = WebhookConfig()
        self.batch_window = 0.1
        self.max_attempts = 10
        self.backoff_base = 1.0 / max(time_scale, 1e-9)  # seconds before the first retry
        self.backoff_cap = 3600.0 / max(time_scale, 1e-9)
        self.timeout = 5.0
        self.transport: httpx.AsyncBaseTransport | None = None  # tests may route in-process
        self._lock = threading.Lock()
        self._queue: list[tuple[float, dict[str, Any]]] = []  # (enqueued at, event)
        self._retries: list[Delivery] = []
        self._ids = itertools.count(1)
        self.delivered: list[dict[str, Any]] = []  # log of attempts, newest last (bounded)
        self.failed: list[Delivery] = []  # gave up after max_attempts

    # --- configuration --------------------------------------------------------------------------
    def set(
        self, url: str | None, secret: str | None = None, subscriptions: list[str] | None = None
    ) -> None:
        with self._lock:
            self.config.url = url or None
            if secret:
                self.config.secret = secret
            if subscriptions is not None:
                self.config.subscriptions = list(subscriptions)

    def _subscription(self, rec_type: str, kind: str) -> tuple[int, str] | None:
        t = resolve_type(rec_type)
        if t is None:
            return None
        subs = self.config.subscriptions
        for name in (f"{t.singular}.{kind}", f"object.{kind}"):
            if name in subs:
                return subs.index(name) + 1, name
        return None

    # --- intake ---------------------------------------------------------------------------------
    def enqueue(self, raw_events: list[dict[str, Any]]) -> None:
        """Turn raw state changes into HubSpot events for the current subscriptions."""
        if not self.config.url or not raw_events:
            return
        now = time.monotonic()
        with self._lock:
            for raw in raw_events:
                if raw.get("propertyName") in _QUIET_PROPS:
                    continue
                sub = self._subscription(raw["object_type"], raw["kind"])
                if sub is None:
                    continue
                t = resolve_type(raw["object_type"])
                event = {
                    "eventId": next(self._ids),
                    "subscriptionId": sub[0],
                    "portalId": self.portal_id,
                    "appId": self.app_id,
                    "occurredAt": raw["occurredAt"],
                    "subscriptionType": sub[1],
                    "attemptNumber": 0,
                    "objectId": int(raw["objectId"]),
                    "objectTypeId": t.type_id if t else None,
                    "changeSource": raw.get("changeSource", "API"),
                }
                for key in (
                    "propertyName",
                    "propertyValue",
                    "changeFlag",
                    "associationType",
                    "fromObjectId",
                    "toObjectId",
                    "associationRemoved",
                    "isPrimaryAssociation",
                    "fromObjectTypeId",
                    "toObjectTypeId",
                    "associationTypeId",
                    "associationCategory",
                ):
                    if key in raw:
                        value = raw[key]
                        event[key] = int(value) if key in ("fromObjectId", "toObjectId") else value
                self._queue.append((now, event))

    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + sum(len(d.events) for d in self._retries)

    # --- delivery -------------------------------------------------------------------------------
    def _take(self, *, force: bool) -> list[Delivery]:
        now = time.monotonic()
        with self._lock:
            ready = [e for at, e in self._queue if force or now - at >= self.batch_window]
            self._queue = [
                (at, e) for at, e in self._queue if not (force or now - at >= self.batch_window)
            ]
            batches = [Delivery(ready[i : i + 100]) for i in range(0, len(ready), 100)]
            due = [d for d in self._retries if force or d.due <= now]
            self._retries = [d for d in self._retries if d not in due]
        return batches + due

    async def _send(self, client: httpx.AsyncClient, d: Delivery) -> bool:
        url, secret = self.config.url, self.config.secret
        if not url:
            return True
        events = [{**e, "attemptNumber": d.attempt} for e in d.events]
        body = json.dumps(events, separators=(",", ":"))
        ts = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts),
            "X-HubSpot-Request-Timestamp": ts,
            "X-HubSpot-Signature": sign_v1(secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Timeout-Millis": str(int(self.timeout * 1000)),
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon",
        }
        try:
            resp = await client.post(url, content=body.encode(), headers=headers)
            ok = 200 <= resp.status_code < 300
            status: int | str = resp.status_code
        except httpx.HTTPError as exc:
            ok, status = False, type(exc).__name__
        self.delivered.append(
            {"url": url, "attempt": d.attempt, "status": status, "ok": ok, "events": len(events)}
        )
        del self.delivered[:-200]
        return ok

    def _reschedule(self, d: Delivery) -> None:
        d.attempt += 1
        if d.attempt >= self.max_attempts:
            self.failed.append(d)
            return
        d.due = time.monotonic() + min(self.backoff_base * 2 ** (d.attempt - 1), self.backoff_cap)
        with self._lock:
            self._retries.append(d)

    async def deliver_ready(self, *, force: bool = False) -> int:
        """Send what is ready (everything, with `force`); returns how many batches succeeded."""
        deliveries = self._take(force=force)
        if not deliveries:
            return 0
        ok_count = 0
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
            results = await asyncio.gather(*(self._send(client, d) for d in deliveries))
        for d, ok in zip(deliveries, results, strict=True):
            if ok:
                ok_count += 1
            else:
                self._reschedule(d)
        return ok_count

    async def flush(self) -> int:
        """Deliver everything queued now, without waiting for batching windows or backoff
        (failed batches are rescheduled as usual; call again to retry them at once)."""
        return await self.deliver_ready(force=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Background loop: polls the queue (cheap) so that writes from any thread are seen."""
        while not stop.is_set():
            # a delivery bug must not kill the loop; events stay queued
            with contextlib.suppress(Exception):
                await self.deliver_ready()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.batch_window / 2)
