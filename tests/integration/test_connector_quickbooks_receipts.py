"""Sales receipts through the QuickBooksConnector against the QBO sandbox: a HubSpot payment
tied to no invoice recorded as one SalesReceipt (customer, amount, date, method, reference,
deposit account), read back and compared with the payment by engine/compare.py; a
commit-then-timeout is found again by its marker instead of being created twice; a deposit
account that cannot take deposits fails with a hint and writes nothing."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.inprocess import InProcessTransport
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import Customer, Payment, Product
from ledgerbridge.engine.compare import compare_sales_receipt
from ledgerbridge.engine.ports import SalesReceiptRequest
from ledgerbridge.errors import ConfigError
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.sandbox.quickbooks import create_app

BASE = "http://quickbooks.test"


class Env:
    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.sandbox = app.state.sandbox
        self.realm = self.sandbox.default_realm_id
        self.http = http
        self.slept = 0.0

        async def sleep(seconds: float) -> None:
            self.slept += seconds

        retry = RetryPolicy(
            sleep=sleep, clock=lambda: self.slept, rng=random.Random(3), max_attempts=8
        )
        self.qbo = QuickBooksConnector(
            http, StaticTokenProvider("qbo-sandbox-token"), self.realm, base_url=BASE, retry=retry
        )

    async def faults(self, **plan: Any) -> None:
        response = await self.http.put("/_sandbox/faults", json=FaultPlan(**plan).to_dict())
        assert response.status_code == 200, response.text

    def rows(self, entity: str) -> list[dict[str, Any]]:
        found = self.sandbox.query(self.realm, f"SELECT * FROM {entity}")
        return list(found.get(entity, []))

    def account_id(self, sub_type: str) -> str:
        found = self.sandbox.query(
            self.realm, f"SELECT * FROM Account WHERE AccountSubType = '{sub_type}'"
        )
        return str(found["Account"][0]["Id"])


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    app = create_app(seed="empty")
    async with httpx.AsyncClient(transport=InProcessTransport(app), base_url=BASE) as http:
        yield Env(app, http)


def hubspot_payment(reference: str = "pl_7731") -> Payment:
    """A HubSpot payment from a one-off payment link: no invoice applications."""
    return Payment(
        amount=Decimal("249.99"),
        currency="USD",
        date=dt.date(2026, 11, 30),
        method="credit_card",
        reference=reference,
        processor="hs_payments",
        id="hs-pay-7731",
    )


async def request_for(env: Env, payment: Payment, deposit_account: str) -> SalesReceiptRequest:
    customer = await env.qbo.create_customer(
        Customer(email="walkin@example.com", display_name="Walk-in Buyer"), "rq-c"
    )
    item = await env.qbo.create_item(
        Product(name="Payment link sale", sku="PAYLINK", unit_price=Decimal(0)), "rq-i"
    )
    return SalesReceiptRequest(
        customer_id=customer.id,
        item_id=item.id,
        amount=payment.amount,
        currency=payment.currency,
        date=payment.date,
        method=payment.method,
        reference=payment.reference,
        deposit_account=deposit_account,
        memo=f"HubSpot payment {payment.id}",
    )


async def test_payment_without_invoice_becomes_one_sales_receipt_that_agrees(env: Env) -> None:
    payment = hubspot_payment()
    request = await request_for(env, payment, "Checking")
    result = await env.qbo.create_sales_receipt(request, "rq-sr-1", "hubspot-receipt:hs-pay-7731")
    assert result.created
    # QBO's side as stored, not as the connector remembers it
    [stored] = env.rows("SalesReceipt")
    assert stored["TotalAmt"] == Decimal("249.99") and stored["Balance"] == 0
    assert stored["CustomerRef"]["value"] == request.customer_id
    assert stored["TxnDate"] == "2026-11-30" and stored["PaymentRefNum"] == "pl_7731"
    assert stored["DepositToAccountRef"]["value"] == env.account_id("Checking")
    assert stored["PaymentMethodRef"]["name"] == "Visa"
    read = await env.qbo.get_sales_receipt(result.id)
    assert read is not None
    differences = compare_sales_receipt(
        payment,
        read.payment,
        customer_id=request.customer_id,
        deposit_account_id=read.deposit_account_id,
        expected_deposit_account_id=env.account_id("Checking"),
    )
    assert differences == []
    # and a real disagreement is reported, field by field
    changed = compare_sales_receipt(
        Payment(**{**payment.__dict__, "amount": Decimal("250.00")}),
        read.payment,
        customer_id="999",
        deposit_account_id=read.deposit_account_id,
        expected_deposit_account_id=env.account_id("UndepositedFunds"),
    )
    assert {d.field for d in changed} == {"amount", "customer", "deposit_account"}
    assert [d.quickbooks for d in changed if d.field == "amount"] == ["249.99"]


async def test_no_deposit_account_chosen_goes_to_undeposited_funds(env: Env) -> None:
    request = await request_for(env, hubspot_payment(), "")
    result = await env.qbo.create_sales_receipt(request, "rq-sr-2", "hubspot-receipt:2")
    read = await env.qbo.get_sales_receipt(result.id)
    assert read is not None and read.deposit_account_id == env.account_id("UndepositedFunds")


async def test_commit_then_timeout_is_found_by_marker_not_created_twice(env: Env) -> None:
    request = await request_for(env, hubspot_payment(), "Checking")
    await env.faults(commit_timeout_rate=1.0, only_methods=["POST"])
    result = await env.qbo.create_sales_receipt(request, "rq-sr-3", "hubspot-receipt:3")
    await env.faults()
    assert not result.created
    assert len(env.rows("SalesReceipt")) == 1
    again = await env.qbo.find_sales_receipt("hubspot-receipt:3")
    assert again is not None and again.id == result.id
    assert env.rows("SalesReceipt")[0]["TotalAmt"] == Decimal("249.99")


async def test_deposit_account_that_takes_no_deposits_fails_with_a_hint(env: Env) -> None:
    request = await request_for(env, hubspot_payment(), "Services")
    with pytest.raises(ConfigError) as refused:
        await env.qbo.create_sales_receipt(request, "rq-sr-4", "hubspot-receipt:4")
    assert "Services" in refused.value.message and "Settings" in (refused.value.hint or "")
    assert env.rows("SalesReceipt") == []
