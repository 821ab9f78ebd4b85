"""Outgoing webhooks: signature vectors, both payload formats, batching, retries, delivered over
real sockets to a receiver and checked with python-quickbooks' own signature helper."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from qbo_harness import Served, serve
from quickbooks import QuickBooks
from quickbooks.objects.customer import Customer

from ledgerbridge.sandbox.quickbooks.webhooks import RETRY_SCHEDULE, sign
from servers import run_asgi_server

VERIFIER = "sandbox-verifier-token"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_next = 0
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            raw = await request.body()
            self.calls.append({"body": raw, "headers": dict(request.headers)})
            if self.fail_next:
                self.fail_next -= 1
                return Response(status_code=500)
            return Response(status_code=200)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(c["body"]) for c in self.calls]

    def flat(self) -> list[dict[str, Any]]:
        return [e for batch in self.events() for e in batch]

    def wait_for_events(self, count: int, timeout: float = 5.0) -> None:
        """Poll for what the sandbox's background task delivers."""
        deadline = time.monotonic() + timeout
        while len(self.flat()) < count:
            assert time.monotonic() < deadline, f"expected {count} events, got {len(self.flat())}"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with run_asgi_server(rec.app) as base:
        yield rec, f"{base}/hook"


@pytest.fixture
def served(receiver: tuple[Receiver, str]) -> Iterator[Served]:
    rec, url = receiver
    rec.calls.clear()
    rec.fail_next = 0
    with serve(webhook_url=url) as s:
        yield s


def test_signature_known_vectors() -> None:
    # python-quickbooks' unit-test vector
    assert sign(b'{"stuff":"5"}', "verify_me") == "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="
    expected = base64.b64encode(hmac.new(b"k", b"body", hashlib.sha256).digest()).decode()
    assert sign(b"body", "k") == expected
    assert QuickBooks().validate_webhook_signature(
        '{"stuff":"5"}', sign(b'{"stuff":"5"}', "verify_me"), "verify_me"
    )


def test_cloudevents_are_delivered_in_the_background_and_signed(
    served: Served, receiver: tuple[Receiver, str]
) -> None:
    rec, _ = receiver
    realm = served.state.default_realm_id
    qb = served.qb(realm)
    customer = Customer()
    customer.DisplayName = "Hooked"
    saved = customer.save(qb=qb)
    saved.Notes = "changed"
    saved.save(qb=qb)
    rec.wait_for_events(2)
    events = rec.flat()
    assert [e["type"] for e in events] == ["qbo.customer.created.v1", "qbo.customer.updated.v1"]
    first = events[0]
    assert first["specversion"] == "1.0" and first["intuitaccountid"] == realm
    assert first["intuitentityid"] == saved.Id and first["data"] == {}
    assert len({e["id"] for e in events}) == 2
    call = rec.calls[0]
    assert call["headers"]["content-type"] == "application/cloudevents+json"
    assert QuickBooks().validate_webhook_signature(
        call["body"].decode(), call["headers"]["intuit-signature"], VERIFIER
    )


def test_legacy_format_and_operations(served: Served, receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    served.state.webhooks.batch_window = 60.0  # delivered by the explicit flush below
    hooks = httpx.put(
        f"{served.base_url}/_sandbox/webhooks",
        json={"url": url, "format": "legacy", "verifier_token": "another-token"},
    )
    assert hooks.json()["format"] == "legacy"
    co = served.company()
    customer, item = co.customer("Legacy"), co.item("L", "10")
    invoice = co.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    co.http.post(f"/invoice/{invoice['Id']}/send", params={"sendTo": "a@b.example"})
    co.http.post(
        "/invoice", params={"operation": "void"}, json={"Id": invoice["Id"], "SyncToken": "1"}
    )
    co.http.post(
        "/invoice", params={"operation": "delete"}, json={"Id": invoice["Id"], "SyncToken": "2"}
    )
    delivered = httpx.post(f"{served.base_url}/_sandbox/webhooks/flush").json()["delivered"]
    payloads = rec.events()
    entities = [
        e
        for p in payloads
        for n in p["eventNotifications"]
        for e in n["dataChangeEvent"]["entities"]
    ]
    assert delivered == len(entities)
    assert all(n["realmId"] == co.realm for p in payloads for n in p["eventNotifications"])
    ops = [(e["name"], e["operation"]) for e in entities]
    assert ops == [
        ("Customer", "Create"),
        ("Item", "Create"),
        ("Invoice", "Create"),
        ("Invoice", "Emailed"),
        ("Invoice", "Void"),
        ("Invoice", "Delete"),
    ]
    assert set(entities[0]) == {"name", "id", "operation", "lastUpdated"}
    call = rec.calls[-1]
    assert call["headers"]["intuit-signature"] == sign(call["body"], "another-token")


def test_failed_delivery_blocks_the_queue_and_is_retried_with_backoff(
    served: Served, receiver: tuple[Receiver, str]
) -> None:
    rec, _ = receiver
    hooks = served.state.webhooks
    clock = [500.0]
    hooks.monotonic = lambda: clock[0]
    hooks.batch_window = 60.0  # keep the background task out of the way
    rec.fail_next = 2
    co = served.company()
    co.customer("Retry Me")

    async def flush() -> int:
        return await served.state.flush_webhooks()

    assert asyncio.run(flush()) == 0
    queue = hooks.queues[co.realm]
    assert len(queue.events) == 1 and queue.next_attempt == clock[0] + RETRY_SCHEDULE[0]
    co.customer("Waits Behind")
    assert asyncio.run(flush()) == 0
    assert queue.next_attempt == clock[0] + RETRY_SCHEDULE[1]
    assert asyncio.run(flush()) == 2  # both events, in order, in one batch
    batch = json.loads(rec.calls[-1]["body"])
    assert [e["type"] for e in batch] == ["qbo.customer.created.v1", "qbo.customer.created.v1"]
    assert [d["ok"] for d in hooks.deliveries][-3:] == [False, False, True]
