"""HubSpotConnector against the HubSpot sandbox, in process (httpx ASGI transport).

Covers the CrmPort: sync properties, reading invoices with everything attached (single and
batch), the change feed (composite cursor, ties, the 10,000-result cap), QBO-origin upserts
(idempotent, lines reconciled), sync state, payments, OAuth and signed webhooks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.hubspot import auth as hs_auth
from ledgerbridge.connectors.hubspot import webhooks as hs_webhooks
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.connectors.webhook_event import dirty_keys
from ledgerbridge.domain import (
    Customer,
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    Payment,
    PaymentApplication,
    SyncStatus,
)
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.errors import Conflict, Transient
from ledgerbridge.sandbox.hubspot import create_app

BASE = "http://hubspot.test"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


@dataclass
class Portal:
    app: Any
    sandbox: Any
    hs: HubSpotConnector
    http: httpx.AsyncClient
    time: FakeTime


def make_connector(http: httpx.AsyncClient, t: FakeTime, tokens: Any = None) -> HubSpotConnector:
    retry = RetryPolicy(sleep=t.sleep, clock=t.clock, rng=random.Random(0))
    return HubSpotConnector(
        http, tokens or hs_auth.private_app("pat-sandbox"), base_url=BASE, retry=retry
    )


@pytest.fixture
async def portal() -> AsyncIterator[Portal]:
    app = create_app(seed="empty")
    t = FakeTime()
    async with in_process_client(app, BASE) as http:
        connector = make_connector(http, t)
        await connector.ensure_sync_properties()
        yield Portal(app, app.state.sandbox, connector, http, t)


def assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


async def make_hubspot_invoice(
    p: Portal, *, email: str = "ada@acme.example", open_it: bool = True, extras: bool = True
) -> str:
    api = p.hs.api
    contact = await api.create(
        "contacts",
        {"email": email, "firstname": "Ada", "lastname": "Lovelace", "lifecyclestage": "customer"},
    )
    company = await api.create("companies", {"name": "Acme Analytics", "industry": "Software"})
    deal = await api.create(
        "deals", {"dealname": "Acme renewal", "pipeline": "default", "dealstage": "closedwon"}
    )
    invoice = await api.create(
        "invoices",
        {
            "hs_currency": "USD",
            "hs_purchase_order_number": "PO-77",
            "hs_due_date": "2024-07-01T00:00:00.000Z",
        },
        associations=[assoc(contact["id"], 177), assoc(company["id"], 179), assoc(deal["id"], 175)],
    )
    inv_id = invoice["id"]
    await api.batch_create(
        "line_items",
        [
            {
                "properties": {
                    "name": "Consulting hour",
                    "quantity": "3",
                    "price": "150.00",
                    "hs_sku": "CONS-HR",
                    "hs_position_on_quote": "0",
                },
                "associations": [assoc(inv_id, 410)],
            },
            {
                "properties": {
                    "name": "Support plan",
                    "quantity": "2",
                    "price": "89.99",
                    "hs_discount_percentage": "10",
                    "hs_position_on_quote": "1",
                },
                "associations": [assoc(inv_id, 410)],
            },
        ],
    )
    if extras:
        await api.create(
            "discounts",
            {"hs_label": "Loyalty", "hs_type": "PERCENT", "hs_value": "5"},
            associations=[assoc(inv_id, 412)],
        )
        await api.create(
            "fees",
            {"hs_label": "Card fee", "hs_type": "FIXED", "hs_value": "3.50"},
            associations=[assoc(inv_id, 414)],
        )
        await api.create(
            "taxes",
            {"hs_label": "Sales tax", "hs_type": "PERCENT", "hs_value": "8"},
            associations=[assoc(inv_id, 416)],
        )
    if open_it:
        await api.update("invoices", inv_id, {"hs_invoice_status": "open"})
    return inv_id


async def test_sync_properties_exist_and_ensure_is_idempotent(portal: Portal):
    await portal.hs.ensure_sync_properties()  # second time: nothing to do, no error
    props = {p["name"]: p for p in await portal.hs.api.properties("invoices")}
    status = props["ledgerbridge_sync_status"]
    assert status["type"] == "enumeration"
    assert [o["value"] for o in status["options"]] == [
        "pending",
        "synced",
        "failed",
        "excluded",
        "blocked",
        "diverged",
    ]
    assert props["qbo_invoice_id"]["hasUniqueValue"] is True


async def test_ensure_adds_the_diverged_option_to_a_portal_set_up_before_it(portal: Portal):
    # A portal set up by an earlier version has the property without `diverged`.
    old = [o for o in (await _status_options(portal)) if o["value"] != "diverged"]
    await portal.hs.api.update_property("invoices", "ledgerbridge_sync_status", {"options": old})
    assert "diverged" not in [o["value"] for o in await _status_options(portal)]
    await portal.hs.ensure_sync_properties()
    assert "diverged" in [o["value"] for o in await _status_options(portal)]


async def _status_options(portal: Portal) -> list[dict]:
    props = {p["name"]: p for p in await portal.hs.api.properties("invoices")}
    return list(props["ledgerbridge_sync_status"]["options"])
    assert "qbo_doc_number" in props and "ledgerbridge_sync_error" in props
    pay_props = {p["name"]: p for p in await portal.hs.api.properties("commerce_payments")}
    assert pay_props["ledgerbridge_payment_key"]["hasUniqueValue"] is True


async def test_read_invoice_with_everything(portal: Portal):
    inv_id = await make_hubspot_invoice(portal)
    one = await portal.hs.get_invoice(inv_id)
    assert one is not None
    record = await portal.hs.api.get("invoices", inv_id, ["hs_amount_billed", "hs_invoice_status"])
    assert one.total == Decimal(
        record["properties"]["hs_amount_billed"]
    )  # HubSpot's own arithmetic
    assert one.status is InvoiceStatus.OPEN
    assert [line.name for line in one.lines] == [
        "Consulting hour",
        "Support plan",
        "Card fee",
        "Sales tax",
    ]
    assert one.lines[0].sku == "CONS-HR"
    assert one.customer is not None and one.customer.email == "ada@acme.example"
    assert one.customer.company_name == "Acme Analytics"
    assert (
        one.context["deal.dealstage"] == "closedwon" and one.context["deal.pipeline"] == "default"
    )
    assert one.context["contact.lifecyclestage"] == "customer"
    assert one.po_number == "PO-77" and one.due_date == dt.date(2024, 7, 1)
    assert one.version and one.id == inv_id
    many = await portal.hs.get_invoices([inv_id, "999999", inv_id])
    assert many == [one]  # batch path reads the same thing; missing ids are left out
    assert await portal.hs.get_invoice("999999") is None


async def test_batch_read_of_many_invoices_uses_few_requests(portal: Portal):
    ids = [
        await make_hubspot_invoice(portal, email=f"p{i}@acme.example", extras=False)
        for i in range(12)
    ]
    before = portal.hs.requests_sent
    invoices = await portal.hs.get_invoices(ids)
    assert [i.id for i in invoices] == ids
    assert all(len(i.lines) == 2 for i in invoices)
    # 1 property list (cached afterwards) + 1 batch read + 7 association reads + 4 related reads
    assert portal.hs.requests_sent - before <= 13


async def test_change_feed_pages_in_order_and_resumes(portal: Portal):
    ids = [
        await make_hubspot_invoice(portal, email=f"f{i}@x.example", open_it=False, extras=False)
        for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await portal.hs.changed_invoices(cursor, limit=3)
        seen.extend(page.ids)
        assert set(page.versions) == set(page.ids)
        cursor = page.cursor
        if page.done:
            break
    assert sorted(seen, key=int) == sorted(ids, key=int) and len(seen) == len(set(seen))
    # Nothing new: an empty page with the same cursor.
    again = await portal.hs.changed_invoices(cursor, limit=3)
    assert again.ids == [] and again.cursor == cursor and again.done
    # A change moves a record past the cursor.
    await portal.hs.update_invoice(ids[2], Invoice(currency="USD", memo="changed"), ["memo"])
    page = await portal.hs.changed_invoices(cursor, limit=3)
    assert page.ids == [ids[2]]


async def test_change_feed_ends_on_a_full_last_page_without_another_search(portal: Portal):
    sb = portal.sandbox
    ids = [sb.create_object("invoices", {"hs_currency": "USD"}) for _ in range(5)]
    for n, i in enumerate(ids):
        sb.store.of("invoices")[i].properties["hs_lastmodifieddate"] = f"2030-01-01T00:00:0{n}.000Z"
    feed = portal.hs.invoice_feed
    before = feed.queries
    first = await portal.hs.changed_invoices(None, limit=3)
    assert not first.done and first.ids == ids[:2]  # the page's last timestamp is held back
    last = await portal.hs.changed_invoices(first.cursor, limit=3)
    # A full page, but its answer says it is all there is: done, with the whole page emitted
    # (nothing held back at its last timestamp), after two searches instead of three.
    assert last.done and [*first.ids, *last.ids] == ids
    assert feed.queries - before == 2
    after = await portal.hs.changed_invoices(last.cursor, limit=3)
    assert after.ids == [] and after.cursor == last.cursor


async def test_invoice_snapshot_bounds_the_change_feed(portal: Portal):
    sb = portal.sandbox
    ids = [sb.create_object("invoices", {"hs_currency": "USD"}) for _ in range(5)]
    for n, i in enumerate(ids):
        sb.store.of("invoices")[i].properties["hs_lastmodifieddate"] = f"2030-01-01T00:00:0{n}.000Z"
    snapshot = await portal.hs.invoice_snapshot()
    assert snapshot.count == 5 and snapshot.until is not None
    # Changed after the snapshot: left out of a walk bounded by it, seen by an unbounded one.
    later = sb.create_object("invoices", {"hs_currency": "USD"})
    for i, at in ((ids[1], "2030-01-01T00:01:00.000Z"), (later, "2030-01-01T00:02:00.000Z")):
        record = sb.store.of("invoices")[i]
        record.properties["hs_lastmodifieddate"] = at
        sb.store.reindex(record)
    bounded = await portal.hs.changed_invoices(None, 200, snapshot.until)
    assert bounded.done and sorted(bounded.ids, key=int) == sorted(
        [ids[0], ids[2], ids[3], ids[4]], key=int
    )
    unbounded = await portal.hs.changed_invoices(None, 200)
    assert sorted(unbounded.ids, key=int) == sorted([*ids, later], key=int)


async def test_change_feed_handles_timestamp_ties_bigger_than_a_page(portal: Portal):
    sb = portal.sandbox
    ids = [sb.create_object("invoices", {"hs_currency": "USD"}) for _ in range(9)]
    same = "2030-01-01T00:00:00.000Z"
    for i in ids[:7]:  # seven records share one timestamp: more than a page of 3
        sb.store.of("invoices")[i].properties["hs_lastmodifieddate"] = same
    for n, i in enumerate(ids[7:]):
        sb.store.of("invoices")[i].properties["hs_lastmodifieddate"] = (
            f"2030-01-01T00:00:0{n + 1}.000Z"
        )
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = await portal.hs.changed_invoices(cursor, limit=3)
        seen.extend(page.ids)
        cursor = page.cursor
        if page.done:
            break
    assert sorted(seen, key=int) == sorted(ids, key=int)
    assert len(seen) == len(set(seen))


async def test_change_feed_never_loses_records_past_the_10000_cap(portal: Portal):
    sb = portal.sandbox
    total = 10_150
    with sb.batch():
        ids = {sb.create_object("invoices", {"hs_currency": "USD"}) for _ in range(total)}
    seen: list[str] = []
    cursor = None
    while True:
        page = await portal.hs.changed_invoices(cursor, limit=200)
        seen.extend(page.ids)
        cursor = page.cursor
        if page.done:
            break
    assert len(seen) == total and set(seen) == ids
    assert portal.time.slept > 0  # searches were paced (5/s) on the fake clock, not the wall clock


def ledger_invoice(**kw: Any) -> Invoice:
    base = dict(
        currency="USD",
        lines=(
            LineItem(
                name="Onboarding package",
                quantity=Decimal(1),
                unit_price=Decimal("1200.00"),
                sku="ONB-STD",
            ),
            LineItem(name="Support plan", quantity=Decimal(3), unit_price=Decimal("89.99")),
        ),
        status=InvoiceStatus.OPEN,
        customer=Customer(
            email="Grace.Hopper@granite.example",
            first_name="Grace",
            last_name="Hopper",
            company_name="Granite Legal",
            id="58",
        ),
        number="1043",
        issue_date=dt.date(2024, 5, 2),
        due_date=dt.date(2024, 6, 1),
        discount=Discount("percent", Decimal("10")),
        memo="Thank you",
    )
    base.update(kw)
    return Invoice(**base)


async def test_upsert_from_ledger_is_idempotent_and_reconciles_lines(portal: Portal):
    invoice = ledger_invoice()
    first = await portal.hs.upsert_invoice_from_ledger(invoice, "266")
    assert first.created
    again = await portal.hs.upsert_invoice_from_ledger(invoice, "266")
    assert again.id == first.id and not again.created
    got = await portal.hs.get_invoice(first.id)
    assert got is not None
    assert got.total == invoice.total and got.status is InvoiceStatus.OPEN
    assert len(got.lines) == 2  # replay did not duplicate lines
    assert got.customer is not None and got.customer.email == "grace.hopper@granite.example"
    assert got.context["invoice.qbo_invoice_id"] == "266"
    assert got.context["invoice.ledgerbridge_sync_status"] == "synced"
    assert "deal.id" not in got.context  # never associated with a deal
    # QBO changed one line and added a fee: lines are replaced, not appended.
    changed = ledger_invoice(
        lines=(
            invoice.lines[0],
            LineItem(name="Support plan", quantity=Decimal(4), unit_price=Decimal("89.99")),
            LineItem(
                name="Card fee", quantity=Decimal(1), unit_price=Decimal("3.10"), kind=LineKind.FEE
            ),
        )
    )
    await portal.hs.update_invoice(first.id, changed, ["lines"])
    got = await portal.hs.get_invoice(first.id)
    assert got is not None and got.total == changed.total
    assert [(line.name, line.quantity) for line in got.lines] == [
        ("Onboarding package", Decimal(1)),
        ("Support plan", Decimal(4)),
        ("Card fee", Decimal(1)),
    ]
    contacts = [r for r in portal.sandbox.store.live("contacts")]
    assert len(contacts) == 1  # matched by email the second time


async def test_customer_without_email_is_upserted_by_qbo_id(portal: Portal):
    invoice = ledger_invoice(customer=Customer(display_name="Cash Sales", id="77"))
    a = await portal.hs.upsert_invoice_from_ledger(invoice, "300")
    b = await portal.hs.upsert_invoice_from_ledger(invoice, "301")
    ga, gb = await portal.hs.get_invoice(a.id), await portal.hs.get_invoice(b.id)
    assert ga is not None and gb is not None and ga.customer is not None and gb.customer is not None
    assert ga.customer.id == gb.customer.id


async def test_sync_state_and_field_updates(portal: Portal):
    inv_id = await make_hubspot_invoice(portal)
    result = await portal.hs.set_sync_state(
        inv_id, SyncStatus.FAILED, error="Duplicate Name Exists Error"
    )
    got = await portal.hs.get_invoice(inv_id)
    assert got is not None and got.context["invoice.ledgerbridge_sync_status"] == "failed"
    assert result.version == got.version
    await portal.hs.set_sync_state(
        inv_id, SyncStatus.SYNCED, qbo_invoice_id="266", qbo_doc_number="1043"
    )
    record = await portal.hs.api.get(
        "invoices", inv_id, ["ledgerbridge_sync_error", "qbo_invoice_id", "qbo_doc_number"]
    )
    assert record["properties"]["ledgerbridge_sync_error"] in (None, "")  # cleared
    assert (record["properties"]["qbo_invoice_id"], record["properties"]["qbo_doc_number"]) == (
        "266",
        "1043",
    )
    updated = await portal.hs.update_invoice(
        inv_id,
        Invoice(currency="USD", due_date=dt.date(2024, 9, 30), status=InvoiceStatus.VOIDED),
        ["due_date", "status"],
    )
    got = await portal.hs.get_invoice(inv_id)
    assert (
        got is not None
        and got.due_date == dt.date(2024, 9, 30)
        and got.status is InvoiceStatus.VOIDED
    )
    assert updated.version == got.version


async def test_payments_partial_then_paid_and_idempotent(portal: Portal):
    created = await portal.hs.upsert_invoice_from_ledger(ledger_invoice(discount=None), "266")
    inv_id = created.id
    total = ledger_invoice(discount=None).total  # 1469.97
    pay = Payment(
        amount=Decimal("1000.00"),
        currency="USD",
        date=dt.date(2024, 6, 3),
        applications=(PaymentApplication("266", Decimal("1000.00")),),
        method="check",
        reference="CHK-9",
    )
    first = await portal.hs.upsert_payment_from_ledger(
        pay, inv_id, Decimal("1000.00"), "1:payment:90:266"
    )
    replay = await portal.hs.upsert_payment_from_ledger(
        pay, inv_id, Decimal("1000.00"), "1:payment:90:266"
    )
    assert first.created and not replay.created and replay.id == first.id
    got = await portal.hs.get_invoice(inv_id)
    assert got is not None and got.status is InvoiceStatus.OPEN
    assert got.balance_due == total - Decimal("1000.00") and got.amount_paid == Decimal("1000.00")
    rest = Payment(
        amount=total - Decimal("1000.00"), currency="USD", date=dt.date(2024, 6, 10), method="ach"
    )
    await portal.hs.upsert_payment_from_ledger(rest, inv_id, rest.amount, "1:payment:91:266")
    got = await portal.hs.get_invoice(inv_id)
    assert got is not None and got.status is InvoiceStatus.PAID and got.balance_due == 0
    payments = await portal.hs.list_invoice_payments(inv_id)
    assert sorted(p.amount for p in payments) == sorted(
        [Decimal("1000.00"), total - Decimal("1000.00")]
    )
    assert all(
        p.processor == "quickbooks" and p.applications[0].invoice_id == inv_id for p in payments
    )
    one = await portal.hs.get_payment(first.id)
    assert one is not None and one.reference == "CHK-9" and one.method == "check"
    # The QBO payment was deleted: the HubSpot share stops counting and the balance comes back.
    gone = Payment(
        amount=Decimal("1000.00"), currency="USD", date=dt.date(2024, 6, 3), status="deleted"
    )
    await portal.hs.upsert_payment_from_ledger(gone, inv_id, Decimal("1000.00"), "1:payment:90:266")
    got = await portal.hs.get_invoice(inv_id)
    assert (
        got is not None
        and got.balance_due == Decimal("1000.00")
        and got.status is InvoiceStatus.OPEN
    )
    feed = await portal.hs.changed_payments(None, limit=10)
    assert set(feed.ids) == {p.id for p in payments}


async def test_writes_survive_injected_faults_without_duplicates(portal: Portal):
    injector = portal.sandbox.faults
    from ledgerbridge.sandbox.faults import FaultPlan

    injector.set_plan(
        FaultPlan(
            error_rate=0.15, rate_limit_rate=0.1, commit_timeout_rate=0.15, seed=7, retry_after=1
        )
    )
    invoice = ledger_invoice()
    for _attempt in range(4):  # the engine would retry an UnknownOutcome the same way
        try:
            result = await portal.hs.upsert_invoice_from_ledger(invoice, "500")
            break
        except Exception as error:  # noqa: BLE001
            assert isinstance(error, Transient | Conflict), error
    else:
        pytest.fail("upsert never succeeded")
    for n in range(3):
        pay = Payment(amount=Decimal("10.00"), currency="USD", date=dt.date(2024, 6, 3))
        for _ in range(4):
            try:
                await portal.hs.upsert_payment_from_ledger(
                    pay, result.id, Decimal("10.00"), f"k{n}"
                )
                break
            except Exception as error:  # noqa: BLE001
                assert isinstance(error, Transient | Conflict), error
    injector.set_plan(FaultPlan())
    counts = injector.counts
    assert counts["5xx"] + counts["429"] + counts["commit_timeout"] > 0
    got = await portal.hs.get_invoice(result.id)
    assert got is not None and len(got.lines) == 2 and got.total == invoice.total
    assert len(await portal.hs.list_invoice_payments(result.id)) == 3
    invoices = [r for r in portal.sandbox.store.live("invoices")]
    assert len(invoices) == 1


async def test_oauth_connect_refresh_and_use(portal: Portal):
    secret = "sandbox-client-secret"
    client = hs_auth.oauth_client(
        "sandbox-client-id",
        secret,
        "http://localhost:8000/oauth/hubspot",
        api_base=BASE,
        authorize_url=f"{BASE}/oauth/authorize",
    )
    redirect = await portal.http.get(client.authorization_url("st-1"))
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.params["state"] == "st-1"
    tokens = await client.exchange_code(portal.http, location.params["code"])
    saved = []
    provider = client.token_provider(portal.http, tokens, on_tokens=saved.append)
    connector = make_connector(portal.http, portal.time, tokens=provider)
    inv_id = await make_hubspot_invoice(portal, extras=False)
    assert (await connector.get_invoice(inv_id)) is not None
    # The sandbox expires access tokens after 30 minutes of its clock; a 401 triggers one refresh.
    portal.sandbox.tokens.access.clear()
    assert (await connector.get_invoice(inv_id)) is not None
    assert provider.refresh_count == 1 and saved and saved[0].refresh_token == tokens.refresh_token


async def test_signed_webhooks_from_the_sandbox_verify_and_mark_invoices(portal: Portal):
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    sb = portal.sandbox
    url = "http://ledgerbridge.test/webhooks/hubspot?connection=1"
    sb.set_webhook(url, "sandbox-client-secret")
    sb.webhooks.transport = httpx.MockTransport(receiver)
    sb.webhooks.batch_window = 0.0
    stop = asyncio.Event()
    task = asyncio.create_task(sb.webhooks.run(stop))
    try:
        inv_id = await make_hubspot_invoice(portal, extras=False)
        for _ in range(200):
            if any(inv_id in r.content.decode() for r in received):
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task
    assert received
    keys: list[tuple[str, str]] = []
    for request in received:
        assert hs_webhooks.verify(
            "sandbox-client-secret",
            method=request.method,
            uri=str(request.url),
            body=request.content,
            headers=dict(request.headers),
        )
        assert not hs_webhooks.verify(
            "wrong-secret",
            method=request.method,
            uri=str(request.url),
            body=request.content,
            headers=dict(request.headers),
        )
        keys.extend(dirty_keys(hs_webhooks.parse_events(request.content)))
    assert (INVOICE, inv_id) in keys
