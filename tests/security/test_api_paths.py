"""Ids that reach the connectors go into API URLs only as quoted digits.

Before: a signed QBO entity id `../../etc/passwd` made the worker GET /v3/company/etc/passwd
with the bearer token and file the 401 as "auth, reconnect QuickBooks", retried forever. Now
garbage ids fail at once as invalid input (category "validation", not retryable) and no
request is sent; the requests that are sent carry every variable segment percent-quoted.
"""

from __future__ import annotations

import httpx
import pytest

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.errors import VALIDATION, Conflict, Invalid, Transient

BAD_IDS = [
    "../../etc/passwd",
    "..",
    "1/2",
    "1?minorversion=1",
    "1#x",
    "%2e%2e",
    "",
    " 7",
    "-1",
    "1e3",
    "٣",  # an Arabic-Indic digit: str.isdigit() says yes, the APIs say no
    "1" * 33,
]


class Recorder:
    """An HTTP peer that records every request and answers 200 with an empty entity."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"Invoice": {"Id": "1"}, "id": "1", "properties": {}})


def _apis() -> tuple[Recorder, QboApi, HubSpotApi]:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    tokens = StaticTokenProvider("token")
    qbo = QboApi(http, tokens, "123", base_url="https://qbo.test")
    hubspot = HubSpotApi(http, tokens, base_url="https://hubspot.test")
    return recorder, qbo, hubspot


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_ids_fail_as_invalid_input_and_send_nothing(bad: str) -> None:
    recorder, qbo, hubspot = _apis()
    calls = [
        lambda: qbo.read("Invoice", bad),
        lambda: qbo.pdf("Invoice", bad),
        lambda: hubspot.get("invoices", bad),
        lambda: hubspot.update("invoices", bad, {}),
        lambda: hubspot.archive("invoices", bad),
        lambda: hubspot.associate("invoices", bad, "contacts", "1"),
    ]
    for call in calls:
        with pytest.raises(Invalid) as caught:
            await call()
        assert caught.value.category == VALIDATION
        assert not isinstance(caught.value, Transient | Conflict)  # never retried
        assert "is not a valid" in caught.value.message
        assert "ids are digits" in caught.value.hint
    assert recorder.paths == []


async def test_segments_are_quoted() -> None:
    recorder, qbo, hubspot = _apis()
    qbo.realm_id = "../1"
    await qbo.read("Invoice", "42")
    await hubspot.get("a/../b", "42")
    await hubspot.get("invoices", "x/../y", id_property="email")
    assert recorder.paths == [
        "/v3/company/..%2F1/invoice/42?minorversion=75",
        "/crm/v3/objects/a%2F..%2Fb/42",
        "/crm/v3/objects/invoices/x%2F..%2Fy?idProperty=email",
    ]
