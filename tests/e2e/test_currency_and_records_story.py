"""Over real sockets, through the demo stack and its signed webhooks (polling once a minute):
multicurrency invoices (one customer per currency, the exchange rate, yen without decimals)
and customers and items kept equal after creation, values compared on both sides."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from stack import DemoStack, HubSpotRest, QboRest, wait_for

TIMEOUT = 15.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    s = DemoStack(tmp_path_factory.mktemp("e2e-fx"), seed="empty", poll_interval=60.0).start()
    on = httpx.put(
        f"{s.qbo_url}/_sandbox/preferences", json={"realmId": s.realm, "MultiCurrencyEnabled": True}
    )
    assert on.status_code == 200, on.text
    yield s
    s.stop()


@pytest.fixture(scope="module")
def hs(stack: DemoStack) -> HubSpotRest:
    return stack.hubspot()


@pytest.fixture(scope="module")
def qbo(stack: DemoStack) -> QboRest:
    return stack.qbo()


def _synced(hs: HubSpotRest, invoice_id: str) -> dict[str, Any]:
    names = ["ledgerbridge_sync_status", "ledgerbridge_sync_error", "qbo_invoice_id"]
    names += ["hs_amount_billed", "hs_currency", "hs_exchange_rate", "hs_discount_amount"]

    def check() -> dict[str, Any] | None:
        props = hs.get("invoices", invoice_id, names)["properties"]
        status = props.get("ledgerbridge_sync_status")
        assert status not in ("failed", "diverged"), props
        return props if status == "synced" else None

    return wait_for(check, TIMEOUT, what=f"invoice {invoice_id} to sync")


def test_invoices_in_euro_and_yen(hs: HubSpotRest, qbo: QboRest) -> None:
    uid = uuid.uuid4().hex[:6]
    email = f"fx.{uid}@birch.example"
    contact = hs.contact(email, "Bea", "Birch", company=f"Birch {uid}")
    product = hs.product(f"Survey {uid}", f"SV-{uid}", "1250.00")
    eur = hs.invoice(
        contact, [(product, "2", "1250.00")], currency="EUR", hs_exchange_rate="1.0875"
    )
    yen = hs.invoice(contact, [(product, "3", "12345")], currency="JPY", discount_percent="10")
    usd = hs.invoice(contact, [(product, "1", "1250.00")])

    eur_hs, yen_hs, usd_hs = _synced(hs, eur), _synced(hs, yen), _synced(hs, usd)
    rows = {
        k: qbo.get("Invoice", p["qbo_invoice_id"])
        for k, p in (("EUR", eur_hs), ("JPY", yen_hs), ("USD", usd_hs))
    }
    for code, props in (("EUR", eur_hs), ("JPY", yen_hs), ("USD", usd_hs)):
        row = rows[code]
        assert row["CurrencyRef"]["value"] == props["hs_currency"] == code
        assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"])
    assert Decimal(eur_hs["hs_amount_billed"]) == Decimal("2500.00")
    assert Decimal(str(rows["EUR"]["ExchangeRate"])) == Decimal(eur_hs["hs_exchange_rate"])
    assert Decimal(str(rows["EUR"]["HomeTotalAmt"])) == Decimal("2718.75")
    # 37035 yen, 10 % off rounded once to whole yen (3704): 33331, no decimals on either side.
    assert yen_hs["hs_amount_billed"] == str(rows["JPY"]["TotalAmt"]) == "33331"
    # One QuickBooks customer per currency for the one contact.
    customers = {code: qbo.get("Customer", rows[code]["CustomerRef"]["value"]) for code in rows}
    assert {c["CurrencyRef"]["value"] for c in customers.values()} == {"EUR", "JPY", "USD"}
    assert {c["PrimaryEmailAddr"]["Address"] for c in customers.values()} == {email}
    assert customers["EUR"]["DisplayName"] == f"Birch {uid} (EUR)"
    assert customers["USD"]["DisplayName"] == f"Birch {uid}"


def test_contact_and_product_edits_reach_quickbooks_and_back(hs: HubSpotRest, qbo: QboRest) -> None:
    uid = uuid.uuid4().hex[:6]
    contact = hs.contact(f"md.{uid}@oak.example", "Otto", "Oak", company=f"Oak {uid}")
    product = hs.product(f"Pruning {uid}", f"PR-{uid}", "95.00")
    props = _synced(hs, hs.invoice(contact, [(product, "4", "95.00")]))
    row = qbo.get("Invoice", props["qbo_invoice_id"])
    customer_id = row["CustomerRef"]["value"]
    item_id = next(
        line["SalesItemLineDetail"]["ItemRef"]["value"]
        for line in row["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    )

    # HubSpot: a new phone; the webhook brings it to the QuickBooks customer.
    hs.update("contacts", contact, {"phone": "+1 206 555 0177"})
    wait_for(
        lambda: (
            qbo.get("Customer", customer_id).get("PrimaryPhone", {}).get("FreeFormNumber")
            == "+1 206 555 0177"
            or None
        ),
        TIMEOUT,
        what="the phone to reach QuickBooks",
    )

    # QuickBooks: a new price for the item; the webhook brings it to the HubSpot product.
    item = qbo.get("Item", item_id)
    qbo.http.post(
        "/item",
        json={"Id": item_id, "SyncToken": item["SyncToken"], "sparse": True, "UnitPrice": 99.5},
    ).raise_for_status()
    wait_for(
        lambda: (
            Decimal(hs.get("products", product, ["price"])["properties"]["price"])
            == Decimal("99.5")
            or None
        ),
        TIMEOUT,
        what="the price to reach HubSpot",
    )
    assert hs.get("contacts", contact, ["phone"])["properties"]["phone"] == "+1 206 555 0177"
    assert Decimal(str(qbo.get("Item", item_id)["UnitPrice"])) == Decimal("99.5")
