"""Refund amounts posted to the console over a real socket (the demo stack: sandboxes,
console, worker). Before: `5,00.00` refunded $500.00 and `1e30` answered 500. Now each bad
amount is refused with a message and the payment in HubSpot is left as it was."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerbridge.bootstrap import load_sync_settings
from ledgerbridge.console_stack import ConsoleStack, console_stack
from ledgerbridge.engine.fieldmap import LongTextPolicy

PAYMENT_PROPS = ("hs_refunds_amount", "hs_latest_status", "hs_internal_comment")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(Path(tmp_path_factory.mktemp("refund"))) as running:
        yield running


@pytest.fixture(scope="module")
def console(stack: ConsoleStack) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=stack.console_url, timeout=30) as client:
        token = _csrf(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"username": "admin", "password": stack.password, "csrf_token": token},
        )
        assert answer.status_code == 303, answer.text
        yield client, _csrf(client.get("/invoices").text)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def payment_id(stack: ConsoleStack) -> str:
    with stack.hubspot_client() as hs:
        created = hs.post(
            "/crm/v3/objects/commerce_payments",
            json={
                "properties": {
                    "hs_initial_amount": "600.00",
                    "hs_currency_code": "USD",
                    "hs_latest_status": "succeeded",
                    "hs_initiated_date": "2026-01-05T00:00:00Z",
                }
            },
        )
    assert created.status_code in (200, 201), created.text
    return str(created.json()["id"])


def _payment(stack: ConsoleStack, payment_id: str) -> dict[str, str]:
    with stack.hubspot_client() as hs:
        answer = hs.get(
            f"/crm/v3/objects/commerce_payments/{payment_id}",
            params=[("properties", p) for p in PAYMENT_PROPS],
        )
    return {p: answer.json()["properties"].get(p) for p in PAYMENT_PROPS}


REFUSED = [
    (
        "5,00.00",
        "Refund not recorded: '5,00.00' is ambiguous: check the separators. Did you mean '500'?",
    ),
    ("5,00", "Refund not recorded: '5,00' is ambiguous: check the separators. Did you mean '500'?"),
    (
        "1e30",
        "Refund not recorded: '1e30' is not a number: use digits and '.' for decimals, for example 25.00.",
    ),
    (
        "1e309",
        "Refund not recorded: '1e309' is not a number: use digits and '.' for decimals, for example 25.00.",
    ),
    (
        "-Infinity",
        "Refund not recorded: '-Infinity' is not a number: use digits and '.' for decimals, for example 25.00.",
    ),
    ("0.001", "Refund not recorded: '0.001' has more than 2 decimals."),
    ("-5", "The refund must be more than zero."),
    ("700", "You can refund at most $600.00."),
]


@pytest.mark.parametrize(("amount", "message"), REFUSED)
def test_bad_refund_amount_is_refused_and_nothing_changes(
    stack: ConsoleStack,
    console: tuple[httpx.Client, str],
    payment_id: str,
    amount: str,
    message: str,
) -> None:
    client, token = console
    before = _payment(stack, payment_id)
    answer = client.post(
        f"/payments/{payment_id}/refund",
        data={"amount": amount, "reason": "duplicate", "csrf_token": token, "next": "/invoices"},
    )
    assert answer.status_code == 303
    page = html.unescape(client.get(answer.headers["location"]).text)
    assert message in page
    assert _payment(stack, payment_id) == before


def test_clear_refund_is_recorded(
    stack: ConsoleStack, console: tuple[httpx.Client, str], payment_id: str
) -> None:
    client, token = console
    answer = client.post(
        f"/payments/{payment_id}/refund",
        data={"amount": "100.00", "reason": "duplicate", "csrf_token": token},
    )
    assert answer.status_code == 303
    assert "Refund of $100.00 recorded." in html.unescape(
        client.get(answer.headers["location"]).text
    )
    after = _payment(stack, payment_id)
    assert after["hs_refunds_amount"] == "100.00"
    assert after["hs_latest_status"] == "partially_refunded"


def test_settings_page_says_how_webhooks_are_verified(console: tuple[httpx.Client, str]) -> None:
    client, _ = console
    page = " ".join(html.unescape(client.get("/settings/sync").text).split())
    expected = (
        "<dt>Webhooks</dt><dd>Signatures checked with the public sandbox secret (sandbox only)</dd>"
    )
    assert page.count(expected) == 2  # HubSpot and QuickBooks


@pytest.mark.parametrize(
    ("value", "saved"),
    [("cut", LongTextPolicy.CUT), ("fail", LongTextPolicy.FAIL), ("shorten-all", None)],
)
def test_long_text_policy_from_the_settings_page(
    stack: ConsoleStack, console: tuple[httpx.Client, str], value: str, saved: object
) -> None:
    client, token = console
    before = load_sync_settings(stack.runtime.store, stack.connection_id)
    answer = client.post(
        "/settings/sync/policies",
        data={
            "doc_number": before.doc_number.value,
            "doc_number_prefix": before.doc_number_prefix,
            "product_not_found": before.product_not_found.value,
            "customer_match_key": "email",
            "long_text": value,
            "csrf_token": token,
        },
    )
    after = load_sync_settings(stack.runtime.store, stack.connection_id)
    if saved is None:
        assert answer.status_code == 400
        assert "Choose what to do with over-long line descriptions." in html.unescape(answer.text)
        assert after == before
    else:
        assert answer.status_code == 303
        assert after.long_text is saved
        assert stack.runtime.connections[stack.connection_id].engine.settings.long_text is saved
