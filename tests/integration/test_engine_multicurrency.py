"""Multicurrency, end to end through both sandboxes and the real connectors: one QBO customer
per currency, the exchange rate (HubSpot's when it has one, else QBO's ExchangeRate for the
invoice date) sent explicitly and verified on both sides, home-currency totals, and 0- and
3-decimal currencies exact to their minor unit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import FAILED, SYNCED, World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.domain.money import quantize


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-fx-{uuid.uuid4().hex[:8]}")
    w.qbo.state.set_preferences(w.qbo.realm, {"CurrencyPrefs": {"MultiCurrencyEnabled": True}})
    yield w
    await w.close()


def _contact(world: World, company: str = "Birch & Co") -> tuple[str, str]:
    email = f"fx-{uuid.uuid4().hex[:6]}@birch.example"
    return world.hs.contact(email, company=company), email


def _product(world: World, price: str) -> str:
    return world.hs.product("Consulting day", f"FX-{uuid.uuid4().hex[:6]}", price)


def _qbo_invoice(world: World, hs_id: str) -> dict[str, object]:
    row = world.qbo.get("Invoice", world.qbo_id_of(hs_id))
    assert row is not None
    return row


async def test_foreign_invoice_gets_its_own_customer_and_hubspot_rate(world: World) -> None:
    contact, email = _contact(world)
    # The bookkeeper already has this customer in USD: an EUR invoice cannot use it.
    usd_customer = world.qbo.customer("Birch & Co", email)
    product = _product(world, "980.00")
    eur = world.hs.invoice(
        contact,
        [(product, "3", "980.00")],
        currency="EUR",
        hs_exchange_rate="1.0925",
        hs_invoice_date="2026-11-03",
    )
    usd = world.hs.invoice(contact, [(product, "1", "1200.00")], hs_invoice_date="2026-11-03")

    await world.sync()

    for hs_id in (eur, usd):
        state = world.invoice_state(hs_id)
        assert state.status is SYNCED, (state.message, state.hint, state.differences)
    eur_row, usd_row = _qbo_invoice(world, eur), _qbo_invoice(world, usd)
    hs_eur, hs_usd = world.hs.props("invoices", eur), world.hs.props("invoices", usd)
    # Both sides hold the same currency, total and rate.
    assert eur_row["CurrencyRef"]["value"] == hs_eur["hs_currency"] == "EUR"  # type: ignore[index]
    assert (
        Decimal(str(eur_row["TotalAmt"]))
        == Decimal(hs_eur["hs_amount_billed"])
        == Decimal("2940.00")
    )
    assert Decimal(str(eur_row["ExchangeRate"])) == Decimal(hs_eur["hs_exchange_rate"])
    # Home-currency amount: the total at that rate, to the cent.
    assert Decimal(str(eur_row["HomeTotalAmt"])) == quantize(
        Decimal("2940.00") * Decimal("1.0925"), "USD"
    )
    # One customer per currency: the USD one is reused, an EUR one created beside it.
    assert usd_row["CustomerRef"]["value"] == usd_customer  # type: ignore[index]
    eur_customer = world.qbo.get("Customer", eur_row["CustomerRef"]["value"])  # type: ignore[index]
    assert eur_customer is not None
    assert eur_customer["CurrencyRef"]["value"] == "EUR"
    assert eur_customer["DisplayName"] == "Birch & Co (EUR)"
    assert eur_customer["PrimaryEmailAddr"]["Address"] == email
    assert Decimal(str(usd_row["TotalAmt"])) == Decimal(hs_usd["hs_amount_billed"])
    assert hs_usd["hs_currency"] == usd_row["CurrencyRef"]["value"] == "USD"  # type: ignore[index]

    # A second EUR invoice for the same contact reuses the EUR customer.
    again = world.hs.invoice(contact, [(product, "1", "980.00")], currency="EUR")
    await world.sync()
    assert world.invoice_state(again).status is SYNCED
    assert _qbo_invoice(world, again)["CustomerRef"] == eur_row["CustomerRef"]
    customers = [c for c in world.qbo.all("Customer") if c.get("PrimaryEmailAddr")]
    assert sorted(
        c["CurrencyRef"]["value"] for c in customers if c["PrimaryEmailAddr"]["Address"] == email
    ) == ["EUR", "USD"]


async def test_without_a_hubspot_rate_qbo_rate_for_the_invoice_date_is_used(
    world: World,
) -> None:
    # The company's own rates, set through the ExchangeRate API as a bookkeeper would.
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/exchangerate",
        json={"SourceCurrencyCode": "GBP", "Rate": "1.2612", "AsOfDate": "2026-11-01"},
        headers={"Authorization": "Bearer qbo-sandbox-token"},
    )
    assert response.status_code == 200, response.text
    contact, _ = _contact(world, company="Thistle Ltd")
    product = _product(world, "450.00")
    gbp = world.hs.invoice(
        contact, [(product, "2", "450.00")], currency="GBP", hs_invoice_date="2026-11-04"
    )

    await world.sync()

    state = world.invoice_state(gbp)
    assert state.status is SYNCED, (state.message, state.hint, state.differences)
    row = _qbo_invoice(world, gbp)
    hs = world.hs.props("invoices", gbp)
    assert Decimal(str(row["ExchangeRate"])) == Decimal("1.2612")
    assert Decimal(str(row["HomeTotalAmt"])) == Decimal("1135.08")  # 900.00 x 1.2612
    assert Decimal(str(row["TotalAmt"])) == Decimal(hs["hs_amount_billed"]) == Decimal("900.00")
    assert row["CurrencyRef"]["value"] == hs["hs_currency"] == "GBP"  # type: ignore[index]
    customer = world.qbo.get("Customer", row["CustomerRef"]["value"])  # type: ignore[index]
    assert customer is not None and customer["DisplayName"] == "Thistle Ltd (GBP)"


async def test_a_rate_changed_in_hubspot_afterwards_is_a_disagreement(world: World) -> None:
    contact, _ = _contact(world, company="Oak GmbH")
    product = _product(world, "100.00")
    eur = world.hs.invoice(
        contact, [(product, "1", "100.00")], currency="EUR", hs_exchange_rate="1.10"
    )
    await world.sync()
    assert world.invoice_state(eur).status is SYNCED

    world.hs.sb.update_object("invoices", eur, {"hs_exchange_rate": "1.15"})
    await world.sync()

    state = world.invoice_state(eur)
    assert state.status is SyncStatus.DIVERGED
    rates = {d.field: (d.hubspot, d.quickbooks) for d in state.differences}
    assert rates["exchange_rate"] == ("1.15", "1.1")
    assert Decimal(str(_qbo_invoice(world, eur)["ExchangeRate"])) == Decimal("1.1")


async def test_yen_has_no_minor_unit_and_dinar_has_three(world: World) -> None:
    contact, _ = _contact(world, company="Sakura KK")
    yen_product = _product(world, "12345")
    yen = world.hs.invoice(
        contact, [(yen_product, "3", "12345")], currency="JPY", discount_percent="10"
    )
    dinar_contact, _ = _contact(world, company="Pearl WLL")
    dinar_product = _product(world, "12.345")
    dinar = world.hs.invoice(dinar_contact, [(dinar_product, "2", "12.345")], currency="BHD")

    await world.sync()

    # 3 x 12345 = 37035 yen; 10 % off is 3703.5, rounded once to whole yen: 3704.
    for hs_id, currency, expected in ((yen, "JPY", "33331"), (dinar, "BHD", "24.690")):
        state = world.invoice_state(hs_id)
        assert state.status is SYNCED, (state.message, state.hint, state.differences)
        row = _qbo_invoice(world, hs_id)
        hs = world.hs.props("invoices", hs_id)
        assert row["CurrencyRef"]["value"] == hs["hs_currency"] == currency  # type: ignore[index]
        assert Decimal(str(row["TotalAmt"])) == Decimal(hs["hs_amount_billed"])
        assert Decimal(str(row["TotalAmt"])) == Decimal(expected)
        assert str(row["TotalAmt"]) == hs["hs_amount_billed"] == expected  # no stray decimals
    yen_row = _qbo_invoice(world, yen)
    discount = next(
        line
        for line in yen_row["Line"]
        if line["DetailType"] == "DiscountLineDetail"  # type: ignore[attr-defined]
    )
    assert (
        Decimal(str(discount["Amount"]))
        == Decimal(world.hs.props("invoices", yen)["hs_discount_amount"])
        == Decimal("3704")
    )


async def test_a_currency_the_company_lacks_still_fails_with_a_hint(sqlite_db_url: str) -> None:
    w = await make_world(sqlite_db_url, f"engine-fx-off-{uuid.uuid4().hex[:8]}")
    try:
        contact, _ = _contact(w)
        product = _product(w, "10.00")
        eur = w.hs.invoice(contact, [(product, "1", "10.00")], currency="EUR")
        await w.sync()
        state = w.invoice_state(eur)
        assert state.status is FAILED
        assert "multicurrency" in (state.hint or "").lower()
        assert w.qbo.count("Invoice") == 0
    finally:
        await w.close()


async def test_quickbooks_invoice_in_euro_and_its_payment_reach_hubspot(world: World) -> None:
    email = f"qbo-fx-{uuid.uuid4().hex[:6]}@fjord.example"
    customer = world.qbo.create(
        "Customer",
        {
            "DisplayName": f"Fjord AS {uuid.uuid4().hex[:4]}",
            "PrimaryEmailAddr": {"Address": email},
            "CurrencyRef": {"value": "EUR"},
        },
    )["Id"]
    item = world.qbo.item(f"Fjord survey {uuid.uuid4().hex[:4]}", price="640.00")
    invoice = world.qbo.invoice(
        customer, [(item, "3", "640.00")], email=email, ExchangeRate="1.0712"
    )
    await world.sync()

    link = world.store.get_link(world.connection_id, "invoice", Side.QUICKBOOKS, invoice["Id"])
    assert link is not None and link.hubspot_id
    hs = world.hs.props("invoices", link.hubspot_id)
    assert hs["hs_currency"] == invoice["CurrencyRef"]["value"] == "EUR"
    assert (
        Decimal(hs["hs_amount_billed"]) == Decimal(str(invoice["TotalAmt"])) == Decimal("1920.00")
    )
    assert Decimal(hs["hs_exchange_rate"]) == Decimal("1.0712")
    state = world.state("invoice", Side.QUICKBOOKS, invoice["Id"])
    assert state is not None and state.status is SYNCED, state

    # A payment of 500 EUR received in QuickBooks: HubSpot's balance follows, in euros.
    world.qbo.payment(customer, [(invoice["Id"], "500.00")], CurrencyRef={"value": "EUR"})
    await world.sync()
    hs = world.hs.props("invoices", link.hubspot_id)
    qbo_row = world.qbo.get("Invoice", invoice["Id"])
    assert qbo_row is not None
    assert Decimal(hs["hs_balance_due"]) == Decimal(str(qbo_row["Balance"])) == Decimal("1420.00")
    payments = world.hs.payments_of(link.hubspot_id)
    assert [(p["hs_currency_code"], Decimal(p["hs_initial_amount"])) for p in payments] == [
        ("EUR", Decimal("500.00"))
    ]
