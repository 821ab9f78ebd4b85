"""QuickBooksConnector under the sandbox's fault injection (`/_sandbox/faults`): retries happen,
the requestid of a create stays fixed across them, a commit-then-timeout is an UnknownOutcome
(recovered by natural key where the connector can), batches are never resent blindly, the
10-in-flight limit keeps the throttled sandbox happy, and a chaos run creates no duplicates."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.inprocess import InProcessTransport
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import (
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentApplication,
    Product,
)
from ledgerbridge.engine.ports import InvoiceCreate
from ledgerbridge.errors import Conflict, SyncError, Transient, UnknownOutcome
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.sandbox.quickbooks import create_app
from ledgerbridge.sandbox.quickbooks.seed import DEFAULT_ITEMS

BASE = "http://quickbooks.test"


class Recording(InProcessTransport):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        self.raw_queries: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, dict(request.url.params)))
        self.raw_queries.append(request.url.query.decode())
        return await super().handle_async_request(request)

    def posts(self, suffix: str) -> list[dict[str, str]]:
        return [
            params
            for method, path, params in self.sent
            if method == "POST" and path.endswith(suffix)
        ]


class Env:
    def __init__(self, app: Any, transport: Recording, http: httpx.AsyncClient) -> None:
        self.app = app
        self.sandbox = app.state.sandbox
        self.realm = self.sandbox.default_realm_id
        self.transport = transport
        self.http = http
        self.slept = 0.0
        self.qbo = self.connector()

    def connector(self) -> QuickBooksConnector:
        async def sleep(seconds: float) -> None:
            self.slept += seconds
            await asyncio.sleep(0)

        retry = RetryPolicy(
            sleep=sleep,
            clock=lambda: self.slept,
            rng=random.Random(3),
            max_attempts=8,
            max_total_wait=600,
        )
        return QuickBooksConnector(
            self.http,
            StaticTokenProvider("qbo-sandbox-token"),
            self.realm,
            base_url=BASE,
            retry=retry,
        )

    async def faults(self, **plan: Any) -> dict[str, Any]:
        """Set the plan through the admin endpoint; returns the fault counts so far."""
        response = await self.http.put("/_sandbox/faults", json=FaultPlan(**plan).to_dict())
        assert response.status_code == 200, response.text
        return response.json()["counts"]

    def count(self, entity: str) -> int:
        return self.sandbox.query(self.realm, f"SELECT COUNT(*) FROM {entity}")["totalCount"]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    app = create_app(seed="empty")
    transport = Recording(app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Env(app, transport, http)


async def basics(env: Env) -> tuple[str, list[str]]:
    customer = await env.qbo.create_customer(
        Customer(email="ada@acme.example", display_name="Acme Analytics"), "rq-c"
    )
    item = await env.qbo.create_item(
        Product(name="Consulting hour", sku="CONS-HR", unit_price=Decimal(150)), "rq-i"
    )
    return customer.id, [item.id]


def invoice(n: int, amount: str = "150.00") -> Invoice:
    return Invoice(
        currency="USD",
        status=InvoiceStatus.OPEN,
        number=f"INV-{n}",
        issue_date=dt.date(2024, 5, 1),
        lines=(
            LineItem(
                name="Consulting hour", quantity=Decimal(n % 5 + 1), unit_price=Decimal(amount)
            ),
        ),
    )


async def test_query_is_encoded_like_recorded_traffic(env: Env):
    assert not await env.qbo.display_name_taken("Amy's Bird Sanctuary")
    raw = [q for q in env.transport.raw_queries if "DisplayName" in q]
    assert len(raw) == 3  # Customer, Vendor, Employee
    assert all("%27Amy%5C%27s%20Bird%20Sanctuary%27" in q and "+" not in q for q in raw)
    assert all("minorversion=75" in q for q in raw)


async def test_retries_keep_the_requestid_fixed(env: Env):
    customer_id, items = await basics(env)
    await env.faults(error_rate=0.6, rate_limit_rate=0.2, seed=11, only_methods=["POST"])
    result = await env.qbo.create_invoice(invoice(1), customer_id, items, {}, "rq-fixed-1", "k-1")
    await env.faults()
    sent = env.transport.posts("/invoice")
    assert len(sent) > 1  # the injected 5xx/429s were retried
    assert {p["requestid"] for p in sent} == {"rq-fixed-1"}
    assert all(p["minorversion"] == "75" for p in sent)
    assert env.count("Invoice") == 1 and result.created
    assert env.slept > 0


async def test_commit_then_timeout_is_recovered_by_marker_without_resending(env: Env):
    customer_id, items = await basics(env)
    await env.faults(commit_timeout_rate=1.0, only_methods=["POST"])
    result = await env.qbo.create_invoice(invoice(2), customer_id, items, {}, "rq-2", "k-2")
    await env.faults()
    assert not result.created  # found by its PrivateNote marker, not created twice
    assert len(env.transport.posts("/invoice")) == 1
    assert env.count("Invoice") == 1
    got = await env.qbo.get_invoice(result.id)
    assert got is not None and got.context["ledgerbridge.key"] == "k-2"


async def test_commit_then_timeout_without_lookup_is_unknown_outcome(env: Env):
    await env.faults(commit_timeout_rate=1.0, only_methods=["POST"])
    api = env.qbo.api
    with pytest.raises(UnknownOutcome):
        await api.transport.request(
            "POST",
            api.path("customer"),
            params=api.params(requestid="rq-raw"),
            json_body={"DisplayName": "Harbor Coffee"},
        )
    await env.faults()
    assert env.count("Customer") == 1  # it did commit


async def test_void_under_constant_commit_timeouts_ends_as_unknown_outcome(env: Env):
    customer_id, items = await basics(env)
    made = await env.qbo.create_invoice(invoice(3), customer_id, items, {}, "rq-3", "k-3")
    await env.faults(commit_timeout_rate=1.0, only_methods=["POST"])
    with pytest.raises(UnknownOutcome):
        await env.qbo.void_invoice(made.id, "0")
    await env.faults()
    got = await env.qbo.get_invoice(made.id)
    assert got is not None and got.status is InvoiceStatus.VOIDED  # the engine re-reads and sees it


async def test_lost_batch_is_looked_up_not_resent(env: Env):
    customer_id, items = await basics(env)
    requests = [
        InvoiceCreate(invoice(n), customer_id, items, f"rq-b{n}", f"kb-{n}") for n in range(12)
    ]
    await env.faults(commit_timeout_rate=1.0, only_methods=["POST"])
    results = await env.qbo.batch_create_invoices(requests)
    await env.faults()
    assert all(not isinstance(r, SyncError) and not r.created for r in results)
    assert len(env.transport.posts("/batch")) == 1
    assert env.count("Invoice") == 12


async def test_throttled_sandbox_sees_at_most_ten_in_flight():
    app = create_app(seed="empty", throttle=True)
    transport = Recording(app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        e = Env(app, transport, http)
        await e.faults(latency_ms=20)  # keep requests in flight long enough to overlap
        e.sandbox.throttle.time_scale = 1.0
        customer_id, items = await basics(e)
        made = await e.qbo.create_invoice(invoice(4), customer_id, items, {}, "rq-4", "k-4")
        e.slept = 0.0
        results = await asyncio.gather(*(e.qbo.get_invoice(made.id) for _ in range(40)))
        assert all(r is not None and r.id == made.id for r in results)
        assert e.slept == 0  # no 429 had to be waited out


async def test_chaos_creates_each_record_once_with_exact_totals(env: Env):
    """Customers, invoices and payments under 5xx, 429 and commit-then-timeout faults, driven
    the way the engine drives the port: on UnknownOutcome look up by natural key, then retry."""
    await env.faults(error_rate=0.1, rate_limit_rate=0.1, commit_timeout_rate=0.15, seed=5)
    qbo = env.qbo
    requestids: dict[str, set[str]] = defaultdict(set)

    async def until_done(make, find):
        for _ in range(10):
            try:
                return await make()
            except UnknownOutcome:
                found = await find()
                if found is not None:
                    return found
            except SyncError as error:
                assert isinstance(error, Transient | Conflict), error
        raise AssertionError("never converged")

    async def customer() -> str:
        async def make():
            return (
                await qbo.create_customer(
                    Customer(email="zed@z.example", display_name="Zed Co"), "rq-cust"
                )
            ).id

        async def find():
            c = await qbo.find_customer_by_email("zed@z.example")
            return c.id if c else None

        return await until_done(make, find)

    customer_id = await customer()
    item_id = await until_done(
        lambda: qbo.create_item(
            Product(name="Widget", sku="W-1", unit_price=Decimal("19.95")), "rq-item"
        ),
        lambda: qbo.find_item("W-1", "Widget"),
    )
    item_id = item_id.id
    expected: dict[str, Decimal] = {}
    invoice_ids: dict[str, str] = {}
    for n in range(12):
        inv = Invoice(
            currency="USD",
            status=InvoiceStatus.OPEN,
            number=f"C-{n}",
            lines=(LineItem(name="Widget", quantity=Decimal(n + 1), unit_price=Decimal("19.95")),),
        )
        key = f"chaos:{n}"
        result = await until_done(
            lambda inv=inv, key=key: qbo.create_invoice(
                inv, customer_id, [item_id], {}, f"rq-{key}", key
            ),
            lambda inv=inv, key=key: qbo.find_invoice(inv.number, key),
        )
        invoice_ids[key] = result.id
        expected[result.id] = inv.total
    for n, (key, inv_id) in enumerate(invoice_ids.items()):
        share = (expected[inv_id] / 2).quantize(Decimal("0.01")) if n % 2 else expected[inv_id]
        pay = Payment(
            amount=share,
            currency="USD",
            date=dt.date(2024, 6, 1),
            applications=(PaymentApplication(inv_id, share),),
        )
        await until_done(
            lambda pay=pay, key=key: qbo.create_payment(
                pay, customer_id, f"rq-pay-{key}", f"pay:{key}"
            ),
            lambda key=key: qbo.find_payment(f"pay:{key}"),
        )
    counts = await env.faults()
    for method, path, params in env.transport.sent:
        if method == "POST" and "requestid" in params:
            requestids[path].add(params["requestid"])
    assert counts["commit_timeout"] > 0 and counts["5xx"] > 0 and counts["429"] > 0
    assert env.count("Customer") == 1 and env.count("Item") == len(DEFAULT_ITEMS) + 1
    assert env.count("Invoice") == 12 and env.count("Payment") == 12
    # One requestid per logical create, however many times each was sent.
    assert requestids[f"/v3/company/{env.realm}/invoice"] == {f"rq-{key}" for key in invoice_ids}
    assert len(env.transport.posts("/invoice")) >= 12
    for n, inv_id in enumerate(invoice_ids.values()):
        got = await qbo.get_invoice(inv_id)
        assert got is not None and got.total == expected[inv_id]
        paid = (expected[inv_id] / 2).quantize(Decimal("0.01")) if n % 2 else expected[inv_id]
        assert got.amount_paid == paid and got.balance_due == expected[inv_id] - paid
