"""Payments both ways: QBO payments become HubSpot commerce payments (split per invoice), HubSpot
payments from other processors become QBO Payments; payments wait for their invoices."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import BLOCKED, SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import RecordKey


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-pay-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _synced_hubspot_invoice(
    world: World, email: str, qty: str, price: str, sku: str = "CONS-HR"
) -> str:
    contact = world.hs.contact(email, first=email.split("@")[0].title(), company=None)
    product = world.hs.product(f"Product {sku}", sku, price)
    invoice_id = world.hs.invoice(contact, [(product, qty, price)])
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    return invoice_id


def _qbo_customer_of(world: World, hs_invoice_id: str) -> str:
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(hs_invoice_id))
    assert qbo_invoice is not None
    return str(qbo_invoice["CustomerRef"]["value"])


async def test_partial_qbo_payment_shows_on_hubspot_invoice_with_right_balance(
    world: World,
) -> None:
    invoice_id = await _synced_hubspot_invoice(world, "ines@ion.example", "4", "250.00")  # 1000.00
    qbo_id = world.qbo_id_of(invoice_id)
    payment = world.qbo.payment(
        _qbo_customer_of(world, invoice_id), [(qbo_id, "400.00")], PaymentRefNum="CHK-881"
    )

    await world.sync()

    state = world.payment_state(Side.QUICKBOOKS, payment["Id"])
    assert state is not None and state.status is SYNCED, state
    payments = world.hs.payments_of(invoice_id)
    assert len(payments) == 1
    assert payments[0]["hs_processor_type"] == "quickbooks"
    assert Decimal(payments[0]["hs_initial_amount"]) == Decimal("400.00")
    assert payments[0]["hs_reference_number"] == "CHK-881"
    props = world.hs.props("invoices", invoice_id)
    assert Decimal(props["hs_balance_due"]) == Decimal("600.00")
    assert props["hs_invoice_status"] == "open"
    assert world.invoice_state(invoice_id).status is SYNCED

    # The rest arrives: the invoice becomes paid; nothing is recorded twice.
    world.qbo.payment(_qbo_customer_of(world, invoice_id), [(qbo_id, "600.00")])
    await world.sync()
    await world.sync()
    payments = world.hs.payments_of(invoice_id)
    assert sorted(Decimal(p["hs_initial_amount"]) for p in payments) == [
        Decimal("400.00"),
        Decimal("600.00"),
    ]
    props = world.hs.props("invoices", invoice_id)
    assert props["hs_invoice_status"] == "paid"
    assert Decimal(props["hs_balance_due"]) == Decimal("0")
    assert world.qbo.count("Payment") == 2  # HubSpot's quickbooks payments never come back


async def test_one_qbo_payment_across_two_invoices_is_split(world: World) -> None:
    email = "jonas@juniper.example"
    contact = world.hs.contact(email, first="Jonas", company="Juniper Health")
    product = world.hs.product("Support plan", "SUP-PRO", "89.99")
    first = world.hs.invoice(contact, [(product, "3", "89.99")])  # 269.97
    second = world.hs.invoice(contact, [(product, "1", "89.99")])  # 89.99
    await world.sync()
    customer = _qbo_customer_of(world, first)
    assert customer == _qbo_customer_of(world, second)  # one customer for one email

    world.qbo.payment(
        customer, [(world.qbo_id_of(first), "269.97"), (world.qbo_id_of(second), "50.00")]
    )
    await world.sync()

    shares = {
        inv: [Decimal(p["hs_initial_amount"]) for p in world.hs.payments_of(inv)]
        for inv in (first, second)
    }
    assert shares == {first: [Decimal("269.97")], second: [Decimal("50.00")]}
    assert world.hs.props("invoices", first)["hs_invoice_status"] == "paid"
    assert Decimal(world.hs.props("invoices", second)["hs_balance_due"]) == Decimal("39.99")


async def test_hubspot_payment_from_another_processor_is_recorded_in_qbo(world: World) -> None:
    invoice_id = await _synced_hubspot_invoice(
        world, "kemi@keystone.example", "2", "349.00", sku="HW-KIT"
    )
    world.hs.pay(invoice_id, "698.00", processor="hs_payments")

    await world.sync()

    payments = world.qbo.all("Payment")
    assert len(payments) == 1
    assert Decimal(str(payments[0]["TotalAmt"])) == Decimal("698.00")
    linked = payments[0]["Line"][0]["LinkedTxn"][0]
    assert linked["TxnId"] == world.qbo_id_of(invoice_id)
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == Decimal("0")
    # ... and the QBO payment is not mirrored back to HubSpot as a second payment.
    await world.sync()
    assert len(world.hs.payments_of(invoice_id)) == 1


async def test_payment_on_qbo_invoice_waits_until_the_invoice_syncs(world: World) -> None:
    world.with_settings(
        world.engine.settings.model_copy(
            update={
                "invoices": world.engine.settings.invoices.model_copy(
                    update={"qbo_to_hubspot": False}
                )
            }
        )
    )
    customer = world.qbo.customer("Lumen Media", "liam@lumen.example")
    item = world.qbo.item("Platform license (annual)", "LIC-YR", "4990.00")
    invoice = world.qbo.invoice(customer, [(item, "1", "4990.00")], email="liam@lumen.example")
    payment = world.qbo.payment(customer, [(invoice["Id"], "1000.00")])

    await world.sync()

    state = world.payment_state(Side.QUICKBOOKS, payment["Id"])
    assert state is not None and state.status is BLOCKED
    assert state.blocked_on is not None and state.blocked_on.endswith(
        f":invoice:quickbooks:{invoice['Id']}"
    )

    # Turn QBO -> HubSpot invoices on: the invoice syncs, and the payment follows by itself.
    world.with_settings(
        world.engine.settings.model_copy(
            update={
                "invoices": world.engine.settings.invoices.model_copy(
                    update={"qbo_to_hubspot": True}
                )
            }
        )
    )
    world.store.mark_dirty(RecordKey.from_text(state.blocked_on), "test: invoice sync switched on")
    await world.sync()

    state = world.payment_state(Side.QUICKBOOKS, payment["Id"])
    assert state is not None and state.status is SYNCED
    link = world.store.get_link(world.connection_id, "invoice", Side.QUICKBOOKS, invoice["Id"])
    assert link is not None and link.hubspot_id
    payments = world.hs.payments_of(link.hubspot_id)
    assert [Decimal(p["hs_initial_amount"]) for p in payments] == [Decimal("1000.00")]
    assert Decimal(world.hs.props("invoices", link.hubspot_id)["hs_balance_due"]) == Decimal(
        "3990.00"
    )


async def test_hubspot_payment_on_an_invoice_already_paid_in_qbo_becomes_customer_credit(
    world: World,
) -> None:
    invoice_id = await _synced_hubspot_invoice(
        world, "pat@pioneer.example", "1", "500.00", sku="ONB-STD"
    )
    qbo_id = world.qbo_id_of(invoice_id)
    customer = _qbo_customer_of(world, invoice_id)
    # The bookkeeper records a 300.00 check in QBO, and the buyer also pays 500.00 online in
    # HubSpot before either payment has synced.
    world.qbo.payment(customer, [(qbo_id, "300.00")])
    hs_payment = world.hs.pay(invoice_id, "500.00")

    await world.sync()

    state = world.payment_state(Side.HUBSPOT, hs_payment)
    assert state is not None and state.status is SYNCED, state
    recorded = [
        p for p in world.qbo.all("Payment") if Decimal(str(p["TotalAmt"])) == Decimal("500.00")
    ]
    assert len(recorded) == 1
    assert Decimal(str(recorded[0]["Line"][0]["Amount"])) == Decimal("200.00")
    assert Decimal(str(recorded[0]["UnappliedAmt"])) == Decimal("300.00")
    qbo_invoice = world.qbo.get("Invoice", qbo_id)
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == Decimal("0")
    audit = world.store.list_audit(world.connection_id, "payment", hs_payment)
    assert audit and "left unapplied" in str(audit[0].new)
