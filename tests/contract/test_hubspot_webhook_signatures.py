"""Webhook signatures: the sandbox's signers against the known vectors published with HubSpot's
official Python SDK tests, and a real delivery over a socket validated by the SDK's own
`Signature.is_valid`."""

from __future__ import annotations

import json
import threading
import time

from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.utils.signature import Signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerbridge.sandbox.hubspot import create_app, sign_v1, sign_v2, sign_v3
from servers import run_asgi_server

# Known vectors (HubSpot/hubspot-api-python tests/spec/utils/test_signature.py).
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY = "{'example_field':'example_value'}"
URI = "https://www.example.com/webhook_uri"


def test_v1_vector() -> None:
    assert (
        sign_v1(SECRET, BODY) == "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    )


def test_v2_vectors() -> None:
    assert (
        sign_v2(SECRET, "POST", URI, BODY)
        == "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    )
    assert (
        sign_v2(SECRET, "GET", URI, "")
        == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )


def test_v3_vector() -> None:
    assert (
        sign_v3(SECRET, "POST", URI, BODY, "15000000")
        == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )


def test_v3_agrees_with_the_sdk_on_other_inputs() -> None:
    body = '[{"eventId":1,"objectId":2}]'
    assert sign_v3(
        "s3cret", "POST", "http://127.0.0.1:1/hooks?x=1", body, "1700000000000"
    ) == Signature.get_signature(
        "s3cret", body, "v3", "http://127.0.0.1:1/hooks?x=1", "POST", "1700000000000"
    )


def test_delivered_request_validates_with_the_sdk() -> None:
    received: list[tuple[dict[str, str], bytes, str]] = []
    arrived = threading.Event()

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body(), str(request.url)))
        arrived.set()
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    with run_asgi_server(receiver) as receiver_url:
        target = f"{receiver_url}/hooks"
        sandbox = create_app(webhook_url=target, webhook_secret="my-client-secret")
        with run_asgi_server(sandbox) as base_url:
            client = HubSpot(access_token="pat-sandbox", host=base_url)
            made = client.crm.contacts.basic_api.create(
                simple_public_object_input_for_create=ContactCreate(
                    properties={"email": "hook@x.example"}
                )
            )
            # The background task delivers within its ~100 ms batching window.
            assert arrived.wait(timeout=10), "no webhook delivered"
    headers, body, url = received[0]
    assert url == target
    ts = headers["x-hubspot-request-timestamp"]
    assert abs(int(ts) - time.time() * 1000) < 60_000
    assert Signature.is_valid(
        headers["x-hubspot-signature-v3"],
        "my-client-secret",
        body.decode(),
        target,
        http_method="POST",
        signature_version="v3",
        timestamp=ts,
    )
    assert Signature.is_valid(
        headers["x-hubspot-signature"], "my-client-secret", body.decode(), signature_version="v1"
    )
    assert not Signature.is_valid(
        headers["x-hubspot-signature-v3"],
        "other-secret",
        body.decode(),
        target,
        http_method="POST",
        signature_version="v3",
        timestamp=ts,
    )
    events = json.loads(body)
    assert isinstance(events, list)
    creation = next(e for e in events if e["subscriptionType"] == "contact.creation")
    assert creation["objectId"] == int(made.id) and creation["attemptNumber"] == 0
    assert creation["objectTypeId"] == "0-1"
    assert {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "changeSource"} <= set(
        creation
    )
