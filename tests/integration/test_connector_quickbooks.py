"""QuickBooksConnector against the QBO sandbox, in process (httpx ASGI transport).

Covers the LedgerPort: company settings, customers (email index, display names across
Customer/Vendor/Employee, escaping), items, invoices (create/find/update/void, custom fields,
currency checks), payments split across invoices, CDC and its fallbacks, /batch, PDF, OAuth.
Fault-injection tests live in test_connector_quickbooks_faults.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.connectors.quickbooks import auth as qbo_auth
from ledgerbridge.connectors.quickbooks import webhooks as qbo_webhooks
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
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
    Product,
    Side,
)
from ledgerbridge.engine.ports import INVOICE, InvoiceCreate
from ledgerbridge.errors import Conflict, Duplicate, Invalid
from ledgerbridge.sandbox.quickbooks import create_app

BASE = "http://quickbooks.test"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Company:
    app: Any
    sandbox: Any
    realm: str
    qbo: QuickBooksConnector
    http: httpx.AsyncClient

    def count(self, entity: str) -> int:
        return self.sandbox.query(self.realm, f"SELECT COUNT(*) FROM {entity}")["totalCount"]


def make_connector(
    http: httpx.AsyncClient, realm: str, tokens: Any = None, **kw: Any
) -> QuickBooksConnector:
    t = FakeTime()
    retry = RetryPolicy(sleep=t.sleep, clock=t.clock, rng=random.Random(0))
    return QuickBooksConnector(
        http,
        tokens or StaticTokenProvider("qbo-sandbox-token"),
        realm,
        base_url=BASE,
        retry=retry,
        monotonic=t.clock,
        **kw,
    )


@pytest.fixture
async def company() -> AsyncIterator[Company]:
    app = create_app(seed="empty")
    sandbox = app.state.sandbox
    async with in_process_client(app, BASE) as http:
        yield Company(
            app,
            sandbox,
            sandbox.default_realm_id,
            make_connector(http, sandbox.default_realm_id),
            http,
        )


async def setup_customer_and_items(c: Company) -> tuple[str, list[str]]:
    created = await c.qbo.create_customer(
        Customer(
            email="ada@acme.example",
            first_name="Ada",
            last_name="Lovelace",
            company_name="Acme Analytics",
            display_name="Acme Analytics",
        ),
        "rq-cust-1",
    )
    items = []
    for n, (name, sku, price) in enumerate(
        [
            ("Consulting hour", "CONS-HR", "150.00"),
            ("Support plan", "SUP-PRO", "89.99"),
            ("Card fee", "FEE-CARD", "0"),
        ]
    ):
        result = await c.qbo.create_item(
            Product(name=name, sku=sku, unit_price=Decimal(price)), f"rq-item-{n}"
        )
        items.append(result.id)
    return created.id, items


def hubspot_invoice(**kw: Any) -> Invoice:
    base = dict(
        currency="USD",
        lines=(
            LineItem(
                name="Consulting hour",
                quantity=Decimal("2.5"),
                unit_price=Decimal("150.00"),
                sku="CONS-HR",
            ),
            LineItem(
                name="Support plan",
                quantity=Decimal(3),
                unit_price=Decimal("89.99"),
                description="Priority support, monthly",
            ),
            LineItem(
                name="Card fee", quantity=Decimal(1), unit_price=Decimal("3.10"), kind=LineKind.FEE
            ),
        ),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="ada@acme.example"),
        number="INV-1001",
        issue_date=dt.date(2024, 5, 1),
        due_date=dt.date(2024, 5, 31),
        discount=Discount("percent", Decimal("10")),
        memo="Thank you for your business",
    )
    base.update(kw)
    return Invoice(**base)


async def test_company_settings(company: Company):
    assert await company.qbo.company_currency() == ("USD", False)
    defs = await company.qbo.custom_field_definitions()
    assert [(d.definition_id, d.name) for d in defs] == [
        ("1", "PO Number"),
        ("2", "Sales Rep"),
        ("3", "Project"),
    ]


async def test_customers_by_email_and_display_names(company: Company):
    qbo = company.qbo
    assert await qbo.find_customer_by_email("obrien@birch.example") is None
    created = await qbo.create_customer(
        Customer(
            email="OBrien@Birch.example",
            first_name="Liam",
            last_name="O'Brien",
            company_name="Birch & Co",
            display_name="O'Brien, Birch & Co",
        ),
        "rq-1",
    )
    found = await qbo.find_customer_by_email(" obrien@birch.EXAMPLE ")
    assert (
        found is not None and found.id == created.id and found.display_name == "O'Brien, Birch & Co"
    )
    assert await qbo.display_name_taken("O'Brien, Birch & Co")
    assert not await qbo.display_name_taken("Birch & Co")
    # A vendor and an employee hold names too (DisplayName is unique across all three).
    company.sandbox.create_entity(company.realm, "Vendor", {"DisplayName": "Harbor Coffee"})
    company.sandbox.create_entity(
        company.realm,
        "Employee",
        {"GivenName": "Rosa", "FamilyName": "Diaz", "DisplayName": "Rosa Diaz"},
    )
    assert await qbo.display_name_taken("Harbor Coffee")
    assert await qbo.display_name_taken("Rosa Diaz")
    with pytest.raises(Duplicate) as info:
        await qbo.create_customer(
            Customer(email="x@harbor.example", display_name="Harbor Coffee"), "rq-2"
        )
    assert info.value.code == "6240" and "already uses this name" in info.value.hint
    # Customers made in QBO's UI after the index was built are found too.
    company.sandbox.create_entity(
        company.realm,
        "Customer",
        {"DisplayName": "Nimbus Cloud", "PrimaryEmailAddr": {"Address": "Ops@Nimbus.example"}},
    )
    qbo.customers.refresh_interval = 0
    late = await qbo.find_customer_by_email("ops@nimbus.example")
    assert late is not None and late.display_name == "Nimbus Cloud"


async def test_items_by_sku_then_name(company: Company):
    qbo = company.qbo
    assert await qbo.find_item("CONS-HR", "Consulting hour") is None
    made = await qbo.create_item(
        Product(
            name="Consulting: senior hour",
            sku="CONS-HR",
            description="Senior",
            unit_price=Decimal("150"),
        ),
        "rq-i1",
    )
    by_sku = await qbo.find_item("CONS-HR", "something else")
    assert by_sku is not None and by_sku.id == made.id and by_sku.sku == "CONS-HR"
    by_name = await qbo.find_item(None, "Consulting: senior hour")  # the colon was made safe
    assert by_name is not None and by_name.id == made.id
    quoted = await qbo.create_item(Product(name="Birch & Co's widget"), "rq-i2")
    found = await qbo.find_item("NO-SUCH-SKU", "Birch & Co's widget")
    assert found is not None and found.id == quoted.id


async def test_invoice_create_read_find_update_void(company: Company):
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    invoice = hubspot_invoice()
    key = "1:invoice:501:1"
    created = await qbo.create_invoice(
        invoice, customer_id, items, {"PO Number": "PO-77"}, "rq-inv-1", key
    )
    assert created.created and created.number == "INV-1001" and created.version == "0"
    got = await qbo.get_invoice(created.id)
    assert got is not None
    assert got.total == invoice.total and got.subtotal == invoice.subtotal
    assert got.discount == Discount("percent", Decimal("10"))
    assert got.custom_fields == {"PO Number": "PO-77"}
    assert got.due_date == dt.date(2024, 5, 31) and got.memo == "Thank you for your business"
    assert got.context["ledgerbridge.key"] == key and got.origin is Side.HUBSPOT
    assert [line.product_id for line in got.lines] == items
    # Natural-key lookups after an unknown outcome.
    assert (await qbo.find_invoice("INV-1001", key)).id == created.id
    assert (await qbo.find_invoice(None, key)).id == created.id
    assert await qbo.find_invoice("INV-1001", "another-key") is None  # same number, not ours
    assert await qbo.find_invoice(None, "never-written") is None
    # Sparse update with the SyncToken; a stale token is a Conflict.
    changed = hubspot_invoice(
        due_date=dt.date(2024, 6, 30), discount=Discount("amount", Decimal("25.00"))
    )
    updated = await qbo.update_invoice(
        created.id, "0", changed, customer_id, items, {"PO Number": "PO-78"}
    )
    assert updated.version == "1"
    got = await qbo.get_invoice(created.id)
    assert got is not None and got.total == changed.total and got.due_date == dt.date(2024, 6, 30)
    assert (
        got.custom_fields == {"PO Number": "PO-78"} and got.context["ledgerbridge.key"] == key
    )  # marker kept
    with pytest.raises(Conflict):
        await qbo.update_invoice(created.id, "0", changed, customer_id, items, {})
    voided = await qbo.void_invoice(created.id, "1")
    got = await qbo.get_invoice(created.id)
    assert got is not None and got.status is InvoiceStatus.VOIDED and voided.version == got.version
    pdf = await qbo.invoice_pdf(created.id)
    assert pdf.startswith(b"%PDF")


async def test_invoice_errors_fail_alone_and_create_nothing(company: Company):
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    before = company.count("Invoice")
    with pytest.raises(Invalid) as info:
        await qbo.create_invoice(
            hubspot_invoice(currency="EUR"), customer_id, items, {}, "rq-eur", "k-eur"
        )
    assert "multicurrency" in info.value.hint.lower() or "Multicurrency" in info.value.hint
    with pytest.raises(Invalid):
        await qbo.create_invoice(
            hubspot_invoice(number="X" * 30), customer_id, items, {}, "rq-long", "k-long"
        )
    with pytest.raises(Exception, match="custom field"):
        await qbo.create_invoice(
            hubspot_invoice(), customer_id, items, {"Purchase order": "1"}, "rq-cf", "k-cf"
        )
    await qbo.create_invoice(hubspot_invoice(), customer_id, items, {}, "rq-a", "k-a")
    with pytest.raises(Duplicate) as dup:  # same DocNumber again: 6140
        await qbo.create_invoice(hubspot_invoice(), customer_id, items, {}, "rq-b", "k-b")
    assert dup.value.code == "6140"
    assert company.count("Invoice") == before + 1


async def test_multicurrency_company_accepts_foreign_invoice(company: Company):
    company.sandbox.set_preferences(
        company.realm, {"CurrencyPrefs": {"MultiCurrencyEnabled": True}}
    )
    qbo = make_connector(company.http, company.realm)
    assert await qbo.company_currency() == ("USD", True)
    eur = company.sandbox.create_entity(
        company.realm,
        "Customer",
        {"DisplayName": "Fjord Robotics", "CurrencyRef": {"value": "EUR"}},
    )
    _, items = await setup_customer_and_items(company)
    created = await qbo.create_invoice(
        hubspot_invoice(currency="EUR"), eur["Id"], items, {}, "rq-eur", "k-eur"
    )
    got = await qbo.get_invoice(created.id)
    assert got is not None and got.currency == "EUR" and got.total == hubspot_invoice().total


async def test_payment_split_across_invoices(company: Company):
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    one = await qbo.create_invoice(
        hubspot_invoice(number="A-1"), customer_id, items, {}, "rq-1", "k-1"
    )
    two = await qbo.create_invoice(
        hubspot_invoice(number="A-2", discount=None), customer_id, items, {}, "rq-2", "k-2"
    )
    total_one, total_two = hubspot_invoice().total, hubspot_invoice(discount=None).total
    payment = Payment(
        amount=total_one + Decimal("100.00"),
        currency="USD",
        date=dt.date(2024, 6, 1),
        applications=(
            PaymentApplication(one.id, total_one),
            PaymentApplication(two.id, Decimal("100.00")),
        ),
        method="check",
        reference="CHK-1001",
    )
    made = await qbo.create_payment(payment, customer_id, "rq-pay-1", "1:payment:hs-9")
    got_one, got_two = await qbo.get_invoice(one.id), await qbo.get_invoice(two.id)
    assert got_one is not None and got_one.status is InvoiceStatus.PAID and got_one.balance_due == 0
    assert got_two is not None and got_two.status is InvoiceStatus.OPEN
    assert got_two.balance_due == total_two - Decimal("100.00") and got_two.amount_paid == Decimal(
        "100.00"
    )
    read = await qbo.get_payment(made.id)
    assert read is not None and read.applications == payment.applications
    assert read.method == "check" and read.reference == "CHK-1001" and read.origin is Side.HUBSPOT
    found = await qbo.find_payment("1:payment:hs-9")
    assert found is not None and found.id == made.id
    assert await qbo.find_payment("nope") is None


async def test_changes_cdc_and_fallbacks(company: Company):
    qbo = company.qbo
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    customer_id, items = await setup_customer_and_items(company)
    inv = await qbo.create_invoice(hubspot_invoice(), customer_id, items, {}, "rq-1", "k-1")
    pages = await qbo.changes(start, ["Invoice", "Payment", "Customer"])
    assert pages["Invoice"].ids == [inv.id] and pages["Invoice"].versions == {inv.id: "0"}
    assert pages["Payment"].ids == [] and pages["Customer"].ids == [customer_id]
    assert pages["Invoice"].cursor and qbo.feed.fallbacks == 0
    # Deleted transactions come back as deleted ids.
    company.sandbox.create_entity  # noqa: B018 - the sandbox API is used through the connector below
    await qbo.api.update("Invoice", {"Id": inv.id, "SyncToken": "0"}, operation="delete")
    pages = await qbo.changes(start, ["Invoice"])
    assert pages["Invoice"].deleted_ids == [inv.id] and pages["Invoice"].ids == []
    # Older than 30 days: the query API instead of CDC.
    inv2 = await qbo.create_invoice(
        hubspot_invoice(number="B-2"), customer_id, items, {}, "rq-2", "k-2"
    )
    old = await qbo.changes(dt.datetime.now(dt.UTC) - dt.timedelta(days=45), ["Invoice"])
    assert inv2.id in old["Invoice"].ids and qbo.feed.fallbacks == 1


async def test_cdc_cap_of_1000_falls_back_to_query(company: Company):
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 10,
                "SalesItemLineDetail": {"ItemRef": {"value": items[0]}},
            }
        ],
    }
    for _ in range(1005):
        company.sandbox.create_entity(company.realm, "Invoice", body, emit=False)
    pages = await qbo.changes(start, ["Invoice"])
    assert len(pages["Invoice"].ids) == 1005
    assert qbo.feed.fallbacks == 1


async def test_cdc_cap_across_entities_loses_no_payment(company: Company):
    """CDC's 1000 objects are per response, not per entity: 900 invoices and 200 payments
    changed at once must all come back (the payments were the ones cut off)."""
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 10,
                "SalesItemLineDetail": {"ItemRef": {"value": items[0]}},
            }
        ],
    }
    invoices = [
        company.sandbox.create_entity(company.realm, "Invoice", body, emit=False)["Id"]
        for _ in range(900)
    ]
    payments = [
        company.sandbox.create_entity(
            company.realm,
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": 1,
                "Line": [{"Amount": 1, "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]}],
            },
            emit=False,
        )["Id"]
        for i in invoices[:200]
    ]
    pages = await qbo.changes(start, ["Invoice", "Payment"])
    assert set(pages["Payment"].ids) == set(payments)
    assert set(pages["Invoice"].ids) >= set(invoices)


async def test_batch_create_invoices(company: Company):
    qbo = company.qbo
    customer_id, items = await setup_customer_and_items(company)
    requests = [
        InvoiceCreate(hubspot_invoice(number=f"B-{n}"), customer_id, items, f"rq-{n}", f"k-{n}")
        for n in range(34)
    ]
    requests[5] = InvoiceCreate(
        hubspot_invoice(number="B-5"), customer_id, [items[0], items[1], "99999"], "rq-5", "k-5"
    )
    requests[9] = InvoiceCreate(
        hubspot_invoice(number="B-9", currency="EUR"), customer_id, items, "rq-9", "k-9"
    )
    before = qbo.requests_sent
    results = await qbo.batch_create_invoices(requests)
    assert isinstance(results[5], Exception) and getattr(results[5], "category", "") in (
        "not_found",
        "validation",
    )
    assert isinstance(results[9], Invalid)
    good = [r for n, r in enumerate(results) if n not in (5, 9)]
    assert all(not isinstance(r, Exception) and r.created for r in good)
    assert company.count("Invoice") == 32
    assert qbo.requests_sent - before <= 4  # preferences + 2 batches (+ custom field defs cached)
    got = await qbo.get_invoice(good[0].id)
    assert got is not None and got.total == hubspot_invoice().total


async def test_oauth_connect_rotate_and_invalid_grant(company: Company):
    client = await qbo_auth.oauth_client_from_discovery(
        company.http,
        f"{BASE}/.well-known/openid_sandbox_configuration/",
        "sandbox-client-id",
        "sandbox-client-secret",
        "http://localhost:8000/oauth/quickbooks",
    )
    redirect = await company.http.get(client.authorization_url("st-9"))
    assert redirect.status_code == 302
    callback = qbo_auth.parse_callback(redirect.headers["location"])
    assert callback.state == "st-9" and callback.realm_id == company.realm
    tokens = await client.exchange_code(company.http, callback.code, account_id=callback.realm_id)
    saved = []
    provider = client.token_provider(company.http, tokens, on_tokens=saved.append)
    qbo = make_connector(company.http, callback.realm_id, tokens=provider)
    assert await qbo.company_currency() == ("USD", False)
    # Expire the access token server-side: one 401, one refresh, a new refresh token persisted.
    company.sandbox.oauth.access.clear()
    qbo.invalidate_settings()
    assert await qbo.company_currency() == ("USD", False)
    assert provider.refresh_count == 1 and saved[0].refresh_token != tokens.refresh_token
    # The rotated-out refresh token is dead: invalid_grant asks the user to reconnect.
    from ledgerbridge.errors import AuthExpired

    with pytest.raises(AuthExpired) as info:
        await client.refresh(company.http, tokens.refresh_token or "")
    assert info.value.hint == "Reconnect QuickBooks in Settings → Sync."


async def test_signed_webhooks_from_the_sandbox(company: Company):
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    sb = company.sandbox
    sb.set_webhook("http://ledgerbridge.test/webhooks/quickbooks", "sandbox-verifier-token")
    sb.webhooks.transport = httpx.MockTransport(receiver)
    customer_id, items = await setup_customer_and_items(company)
    inv = await company.qbo.create_invoice(hubspot_invoice(), customer_id, items, {}, "rq-1", "k-1")
    await sb.flush_webhooks()
    assert received
    keys = []
    for request in received:
        signature = request.headers.get("intuit-signature")
        assert qbo_webhooks.verify("sandbox-verifier-token", request.content, signature)
        assert not qbo_webhooks.verify("other-token", request.content, signature)
        keys.extend(dirty_keys(qbo_webhooks.parse_events(request.content)))
    assert (INVOICE, inv.id) in keys
    for fmt in ("legacy",):
        received.clear()
        sb.set_webhook(
            "http://ledgerbridge.test/webhooks/quickbooks", "sandbox-verifier-token", fmt
        )
        await company.qbo.void_invoice(inv.id, "0")
        await sb.flush_webhooks()
        events = [e for r in received for e in qbo_webhooks.parse_events(r.content)]
        assert any(e.object_type == INVOICE and e.object_id == inv.id for e in events)
