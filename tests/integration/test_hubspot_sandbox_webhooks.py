"""Webhook delivery from the HubSpot sandbox, in-process: batching, event shapes per kind,
subscriptions, retries with attemptNumber and backoff, giving up. No wall-clock waits: tests
call `flush_webhooks()` instead of letting the background task run."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge.sandbox.hubspot import create_app, sign_v3

TARGET = "http://receiver.test/hooks"


class Receiver:
    """An in-process webhook target; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], list[dict[str, Any]], bytes]] = []
        self.statuses: list[int] = []

        async def hook(request: Request) -> Response:
            raw = await request.body()
            self.requests.append((dict(request.headers), json.loads(raw), raw))
            return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

        self.app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for _, batch, _ in self.requests for e in batch]


@pytest.fixture
def hub() -> tuple[Any, Receiver]:
    receiver = Receiver()
    app = create_app()
    sb = app.state.sandbox
    sb.webhooks.transport = httpx.ASGITransport(app=receiver.app)
    sb.set_webhook(TARGET, "secret-1")
    return sb, receiver


async def test_events_are_batched_signed_and_typed(hub) -> None:
    sb, receiver = hub
    contact = sb.create_object("contacts", {"email": "a@x.example"})
    company = sb.create_object("companies", {"name": "Acme"})
    sb.update_object("contacts", contact, {"firstname": "Ada"})
    sb.associate("contacts", contact, "companies", company)
    inv = sb.create_object("invoices", {"hs_currency": "USD"})
    sb.archive_object("invoices", inv)
    assert await sb.flush_webhooks() == 1
    assert len(receiver.requests) == 1  # one batch
    headers, events, raw = receiver.requests[0]
    assert headers["x-hubspot-signature-v3"] == sign_v3(
        "secret-1", "POST", TARGET, raw.decode(), headers["x-hubspot-request-timestamp"]
    )
    kinds = [(e["subscriptionType"], e["objectId"]) for e in events]
    assert ("contact.creation", int(contact)) in kinds
    assert ("company.creation", int(company)) in kinds
    assert ("invoice.creation", int(inv)) in kinds and ("invoice.deletion", int(inv)) in kinds
    change = next(e for e in events if e["subscriptionType"] == "contact.propertyChange")
    assert (change["propertyName"], change["propertyValue"], change["changeSource"]) == (
        "firstname",
        "Ada",
        "API",
    )
    assoc = [e for e in events if e["subscriptionType"].endswith("associationChange")]
    assert {(e["fromObjectId"], e["toObjectId"]) for e in assoc} == {
        (int(contact), int(company)),
        (int(company), int(contact)),
    }
    assert all(e["associationRemoved"] is False for e in assoc)
    assert len({e["eventId"] for e in events}) == len(events)
    assert not any(e.get("propertyName") == "hs_lastmodifieddate" for e in events)


async def test_payment_drives_invoice_property_change_events(hub) -> None:
    sb, receiver = hub
    contact = sb.create_object("contacts", {"email": "a@x.example"})
    line = sb.create_object("line_items", {"name": "x", "price": "40", "quantity": "1"})
    inv = sb.create_object(
        "invoices",
        {"hs_currency": "USD", "hs_invoice_status": "open"},
        [
            {
                "to": {"id": contact},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}],
            },
            {
                "to": {"id": line},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 409}],
            },
        ],
    )
    await sb.flush_webhooks()
    receiver.requests.clear()
    sb.create_object(
        "commerce_payments",
        {
            "hs_initial_amount": "40",
            "hs_initiated_date": "2026-01-01",
            "hs_latest_status": "succeeded",
        },
        [
            {
                "to": {"id": inv},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 542}],
            }
        ],
    )
    await sb.flush_webhooks()
    changes = {
        (e["propertyName"], e["propertyValue"])
        for e in receiver.events
        if e["subscriptionType"] == "invoice.propertyChange" and e["objectId"] == int(inv)
    }
    assert {
        ("hs_invoice_status", "paid"),
        ("hs_balance_due", "0.00"),
        ("hs_amount_paid", "40.00"),
    } <= changes


async def test_subscriptions_filter_and_generic_object_events(hub) -> None:
    sb, receiver = hub
    sb.set_webhook(TARGET, "secret-1", ["object.creation", "contact.propertyChange"])
    inv = sb.create_object("invoices", {"hs_currency": "USD"})
    contact = sb.create_object("contacts", {"email": "a@x.example"})
    sb.update_object("contacts", contact, {"firstname": "Z"})
    sb.update_object("invoices", inv, {"hs_title": "t"})  # not subscribed
    await sb.flush_webhooks()
    types = sorted((e["subscriptionType"], e["objectTypeId"]) for e in receiver.events)
    assert types == [
        ("contact.propertyChange", "0-1"),
        ("object.creation", "0-1"),
        ("object.creation", "0-53"),
    ]


async def test_failed_delivery_is_retried_with_attempt_number_and_backoff(hub) -> None:
    sb, receiver = hub
    receiver.statuses = [500, 503]
    sb.create_object("contacts", {"email": "a@x.example"})
    assert await sb.flush_webhooks() == 0
    assert sb.webhooks.pending() == 1
    assert await sb.webhooks.deliver_ready() == 0  # backing off: not due yet
    assert len(receiver.requests) == 1
    assert await sb.flush_webhooks() == 0  # forced retry, fails again
    assert await sb.flush_webhooks() == 1
    assert [batch[0]["attemptNumber"] for _, batch, _ in receiver.requests] == [0, 1, 2]
    assert [batch[0]["eventId"] for _, batch, _ in receiver.requests] == [1, 1, 1]  # same event
    assert sb.webhooks.pending() == 0


async def test_unreachable_target_gives_up_after_max_attempts(hub) -> None:
    sb, _ = hub
    sb.webhooks.transport = None
    sb.set_webhook("http://127.0.0.1:9/nothing-listens-here")
    sb.webhooks.max_attempts = 3
    sb.create_object("contacts", {"email": "a@x.example"})
    for _ in range(3):
        await sb.flush_webhooks()
    assert sb.webhooks.pending() == 0 and len(sb.webhooks.failed) == 1
    assert [d["ok"] for d in sb.webhooks.delivered] == [False, False, False]


async def test_no_target_means_no_queue() -> None:
    app = create_app()
    sb = app.state.sandbox
    sb.create_object("contacts", {"email": "a@x.example"})
    assert sb.webhooks.pending() == 0


async def test_admin_endpoint_sets_subscriptions() -> None:
    receiver = Receiver()
    app = create_app()
    sb = app.state.sandbox
    sb.webhooks.transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hs"
    ) as admin:
        resp = await admin.put(
            "/_sandbox/webhooks", json={"url": TARGET, "secret": "s2", "events": ["deal.creation"]}
        )
        assert resp.status_code == 200 and resp.json()["events"] == ["deal.creation"]
        sb.create_object("contacts", {"email": "a@x.example"})
        sb.create_object("deals", {"dealname": "Big"})
        resp = await admin.post("/_sandbox/webhooks/flush")
        assert resp.json()["delivered_batches"] == 1
    assert [e["subscriptionType"] for e in receiver.events] == ["deal.creation"]
