"""Browser test: an invoice in euros made in QuickBooks shows in the panel with its currency,
the exchange rate QuickBooks books it at and its total in the home currency; the same rate is
on the HubSpot invoice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


@pytest.fixture
def multicurrency(stack: ConsoleStack) -> Iterator[None]:
    def switch(on: bool) -> None:
        answer = httpx.put(
            f"{stack.qbo_url}/_sandbox/preferences",
            json={"realmId": stack.realm_id, "MultiCurrencyEnabled": on},
        )
        assert answer.status_code == 200, answer.text

    switch(True)
    try:
        yield
    finally:
        switch(False)  # the other console tests expect a one-currency company


def test_euro_invoice_shows_its_rate_and_home_total(
    page: Page, ui: Any, stack: ConsoleStack, multicurrency: None
) -> None:
    tag = uuid.uuid4().hex[:6]
    email = f"fjord-{tag}@fjord.example"
    with stack.qbo_client() as qbo:
        customer = qbo.post(
            "/customer",
            json={
                "DisplayName": f"Fjord AS {tag}",
                "PrimaryEmailAddr": {"Address": email},
                "CurrencyRef": {"value": "EUR"},
            },
        ).json()["Customer"]["Id"]
        item = qbo.post(
            "/query",
            content="select * from Item where Type = 'Service'",
            headers={"Content-Type": "application/text"},
        ).json()["QueryResponse"]["Item"][0]["Id"]
        created = qbo.post(
            "/invoice",
            json={
                "CustomerRef": {"value": customer},
                "BillEmail": {"Address": email},
                "ExchangeRate": 1.0931,
                "Line": [
                    {
                        "Amount": 1280.00,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item},
                            "Qty": 2,
                            "UnitPrice": 640.00,
                        },
                    }
                ],
            },
        )
        assert created.status_code == 200, created.text
        qbo_invoice = created.json()["Invoice"]
    assert Decimal(str(qbo_invoice["HomeTotalAmt"])) == Decimal("1399.17")  # 1280 x 1.0931

    stack.wait_idle()
    link = stack.runtime.store.get_link(
        stack.connection_id, INVOICE, Side.QUICKBOOKS, qbo_invoice["Id"]
    )
    assert link is not None and link.hubspot_id
    with stack.hubspot_client() as hs:
        props = hs.get(
            f"/crm/v3/objects/invoices/{link.hubspot_id}",
            params=[
                ("properties", p) for p in ("hs_currency", "hs_exchange_rate", "hs_amount_billed")
            ],
        ).json()["properties"]
    assert props["hs_currency"] == "EUR"
    assert Decimal(props["hs_exchange_rate"]) == Decimal("1.0931")
    assert Decimal(props["hs_amount_billed"]) == Decimal(str(qbo_invoice["TotalAmt"]))

    ui.open_invoice(page, link.hubspot_id)
    panel = page.locator("#panel")
    expect(panel.locator("[data-total]")).to_contain_text("1,280.00")
    expect(panel.locator("[data-qbo-rate]")).to_have_text("1 EUR = 1.0931 USD")
    expect(panel.locator("[data-qbo-home-total]")).to_have_text("$1,399.17")
