"""Outgoing webhooks, in QBO's legacy `eventNotifications` format or as CloudEvents.

Every change is queued per realm. A background task (started by the app's lifespan) delivers
each realm's queue in batches of up to 100 events after a short aggregation window, signed with
`intuit-signature` = base64(HMAC-SHA256(verifier token, raw body)). A failed delivery (non-2xx,
timeout after 3 s, connection error) blocks that realm's queue and is retried on Intuit's
schedule (10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h), divided by
`time_scale`. Tests call `await flush()` to deliver what is pending right away.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_SCHEDULE = (10, 20, 30, 300, 1200, 7200, 14400, 21600)
MAX_EVENTS = 100
FORMATS = ("cloudevents", "legacy")
VERBS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Merge": "merged",
    "Void": "voided",
    "Emailed": "emailed",
}


def sign(body: bytes, verifier_token: str) -> str:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Event:
    realm_id: str
    name: str
    entity_id: str
    operation: str
    last_updated: str  # company-local time, as legacy payloads carry it
    time: str  # UTC, CloudEvents `time`
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class _RealmQueue:
    events: deque[Event] = field(default_factory=deque)
    attempts: int = 0
    next_attempt: float = 0.0
    first_pending: float = 0.0


def legacy_payload(events: list[Event]) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": events[0].realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": e.name,
                            "id": e.entity_id,
                            "operation": e.operation,
                            "lastUpdated": e.last_updated,
                        }
                        for e in events
                    ]
                },
            }
        ]
    }


def cloudevents_payload(events: list[Event]) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": e.event_id,
            "source": "intuit.ledgerbridge-sandbox",
            "type": f"qbo.{e.name.lower()}.{VERBS.get(e.operation, e.operation.lower())}.v1",
            "datacontenttype": "application/json",
            "time": e.time,
            "intuitentityid": e.entity_id,
            "intuitaccountid": e.realm_id,
            "data": {},
        }
        for e in events
    ]


class WebhookDispatcher:
    def __init__(
        self,
        *,
        url: str | None,
        verifier_token: str,
        fmt: str,
        time_scale: float = 1.0,
        batch_window: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.verifier_token = verifier_token
        self.format = fmt
        self.time_scale = time_scale
        self.batch_window = batch_window
        self.monotonic = monotonic
        self.transport = transport
        self.queues: dict[str, _RealmQueue] = {}
        self.deliveries: list[dict[str, Any]] = []  # log of attempts, newest last (bounded)
        self._wake: asyncio.Event | None = None
        if fmt not in FORMATS:
            raise ValueError(f"webhook format must be one of {FORMATS}")

    def configure(
        self, url: str | None, verifier_token: str | None = None, fmt: str | None = None
    ) -> None:
        if fmt is not None and fmt not in FORMATS:
            raise ValueError(f"webhook format must be one of {FORMATS}")
        self.url = url
        if verifier_token is not None:
            self.verifier_token = verifier_token
        if fmt is not None:
            self.format = fmt

    def enqueue(
        self,
        realm_id: str,
        name: str,
        entity_id: str,
        operation: str,
        when: dt.datetime,
        tz: dt.tzinfo,
    ) -> None:
        if not self.url:
            return
        local = when.astimezone(tz).replace(microsecond=0)
        event = Event(
            realm_id,
            name,
            entity_id,
            operation,
            last_updated=local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            time=when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        )
        queue = self.queues.setdefault(realm_id, _RealmQueue())
        if not queue.events:
            queue.first_pending = self.monotonic()
        queue.events.append(event)
        if self._wake is not None:
            self._wake.set()

    @property
    def pending(self) -> int:
        return sum(len(q.events) for q in self.queues.values())

    def body_for(self, events: list[Event]) -> tuple[bytes, str]:
        if self.format == "legacy":
            return json.dumps(legacy_payload(events)).encode(), "application/json"
        return json.dumps(cloudevents_payload(events)).encode(), "application/cloudevents+json"

    async def _deliver(self, client: httpx.AsyncClient, realm_id: str, queue: _RealmQueue) -> bool:
        batch = list(queue.events)[:MAX_EVENTS]
        body, content_type = self.body_for(batch)
        headers = {
            "content-type": content_type,
            "intuit-signature": sign(body, self.verifier_token),
        }
        status: int | None = None
        error = None
        try:
            response = await client.post(str(self.url), content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        self.deliveries.append(
            {
                "realm_id": realm_id,
                "events": len(batch),
                "status": status,
                "error": error,
                "attempt": queue.attempts + 1,
                "ok": ok,
            }
        )
        del self.deliveries[:-500]
        if ok:
            for _ in batch:
                queue.events.popleft()
            queue.attempts = 0
            queue.next_attempt = 0.0
            queue.first_pending = self.monotonic()
        else:
            delay = RETRY_SCHEDULE[min(queue.attempts, len(RETRY_SCHEDULE) - 1)]
            queue.attempts += 1
            queue.next_attempt = self.monotonic() + delay / self.time_scale
        return ok

    async def flush(self) -> int:
        """Attempt delivery of everything pending now, ignoring windows and backoff. Returns
        the number of events delivered."""
        delivered = 0
        if not self.url:
            return 0
        async with httpx.AsyncClient(transport=self.transport, timeout=3.0) as client:
            for realm_id, queue in list(self.queues.items()):
                while queue.events:
                    size = min(len(queue.events), MAX_EVENTS)
                    if not await self._deliver(client, realm_id, queue):
                        break
                    delivered += size
        return delivered

    async def run(self, stop: asyncio.Event) -> None:
        """Background delivery loop; returns when `stop` is set."""
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(transport=self.transport, timeout=3.0) as client:
            while not stop.is_set():
                now = self.monotonic()
                wait = 1.0
                for realm_id, queue in list(self.queues.items()):
                    if not queue.events or not self.url:
                        continue
                    due = max(queue.next_attempt, queue.first_pending + self.batch_window)
                    if len(queue.events) >= MAX_EVENTS and queue.attempts == 0:
                        due = now
                    if due <= now:
                        await self._deliver(client, realm_id, queue)
                        wait = 0.0
                    else:
                        wait = min(wait, due - now)
                if wait > 0:
                    self._wake.clear()
                    stop_wait = asyncio.ensure_future(stop.wait())
                    wake_wait = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait(
                        [stop_wait, wake_wait], timeout=wait, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in (stop_wait, wake_wait):
                        task.cancel()
        self._wake = None
