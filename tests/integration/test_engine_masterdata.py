"""Customers and items after creation, both ways, through both sandboxes and the real
connectors: a changed contact or product reaches the linked QBO customer or item and back, by
the owner rules (customers: HubSpot wins a conflict; items: QuickBooks), with the overwritten
value audited and both sides compared afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.ports import CUSTOMER, ITEM, RecordKey
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-md-{uuid.uuid4().hex[:8]}")
    await w.sync()  # the first poll starts the contact and product feeds at "now"
    yield w
    await w.close()


async def _synced_invoice(world: World) -> dict[str, str]:
    email = f"md-{uuid.uuid4().hex[:6]}@linden.example"
    contact = world.hs.contact(email, first="Lena", last="Linden", company="Linden Labs")
    product = world.hs.product("Audit day", f"AD-{uuid.uuid4().hex[:6]}", "800.00")
    invoice = world.hs.invoice(contact, [(product, "2", "800.00")])
    await world.sync()
    assert world.invoice_state(invoice).status is SYNCED
    customer = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    item = world.store.get_link(world.connection_id, ITEM, Side.HUBSPOT, product)
    assert customer is not None and customer.qbo_id and item is not None and item.qbo_id
    return {
        "contact": contact,
        "product": product,
        "customer": customer.qbo_id,
        "item": item.qbo_id,
        "email": email,
    }


def _qbo(world: World, entity: str, entity_id: str) -> dict[str, Any]:
    row = world.qbo.get(entity, entity_id)
    assert row is not None
    return row


def _qbo_update(world: World, entity: str, entity_id: str, **fields: Any) -> None:
    row = _qbo(world, entity, entity_id)
    world.qbo.state.update_entity(
        world.qbo.realm,
        entity,
        {"Id": entity_id, "SyncToken": row["SyncToken"], "sparse": True, **fields},
    )


async def test_contact_changes_reach_the_customer_and_back(world: World) -> None:
    ids = await _synced_invoice(world)

    # HubSpot: a new phone number and billing address.
    world.hs.sb.update_object(
        "contacts",
        ids["contact"],
        {
            "phone": "+1 503 555 0142",
            "address": "12 Harbor Road",
            "city": "Portland",
            "state": "OR",
            "zip": "97201",
            "country": "US",
        },
    )
    await world.sync()
    customer = _qbo(world, "Customer", ids["customer"])
    contact = world.hs.props("contacts", ids["contact"])
    assert customer["PrimaryPhone"]["FreeFormNumber"] == contact["phone"] == "+1 503 555 0142"
    bill = customer["BillAddr"]
    assert (bill["Line1"], bill["City"], bill["CountrySubDivisionCode"], bill["PostalCode"]) == (
        contact["address"],
        contact["city"],
        contact["state"],
        contact["zip"],
    )
    state = world.state(CUSTOMER, Side.HUBSPOT, ids["contact"])
    assert state is not None and state.status is SYNCED, state

    # QuickBooks: the bookkeeper corrects the name and the email.
    _qbo_update(
        world,
        "Customer",
        ids["customer"],
        GivenName="Helena",
        FamilyName="Linden-Berg",
        PrimaryEmailAddr={"Address": "helena@linden.example"},
    )
    await world.sync()
    contact = world.hs.props("contacts", ids["contact"])
    customer = _qbo(world, "Customer", ids["customer"])
    assert (
        (contact["firstname"], contact["lastname"], contact["email"])
        == (
            customer["GivenName"],
            customer["FamilyName"],
            customer["PrimaryEmailAddr"]["Address"],
        )
        == ("Helena", "Linden-Berg", "helena@linden.example")
    )
    state = world.state(CUSTOMER, Side.QUICKBOOKS, ids["customer"])
    assert state is not None and state.status is SYNCED, state
    # The contact's new email still finds the same customer for the next invoice.
    again = world.hs.invoice(ids["contact"], [(ids["product"], "1", "800.00")])
    await world.sync()
    row = world.qbo.get("Invoice", world.qbo_id_of(again))
    assert row is not None and row["CustomerRef"]["value"] == ids["customer"]


async def test_both_sides_change_the_phone_hubspot_wins_and_the_loss_is_audited(
    world: World,
) -> None:
    ids = await _synced_invoice(world)
    world.hs.sb.update_object("contacts", ids["contact"], {"phone": "555-0100"})
    _qbo_update(world, "Customer", ids["customer"], PrimaryPhone={"FreeFormNumber": "555-0199"})
    # Both changes arrive as webhooks, in either order.
    world.engine.handle_events(
        [
            ChangeEvent(Side.QUICKBOOKS, CUSTOMER, ids["customer"]),
            ChangeEvent(Side.HUBSPOT, CUSTOMER, ids["contact"]),
        ]
    )
    await world.sync()
    assert _qbo(world, "Customer", ids["customer"])["PrimaryPhone"]["FreeFormNumber"] == "555-0100"
    assert world.hs.props("contacts", ids["contact"])["phone"] == "555-0100"
    audit = [
        a
        for a in world.store.list_audit(world.connection_id, CUSTOMER, ids["contact"])
        if a.field_name == "phone"
    ]
    assert audit and audit[0].old == "555-0199" and audit[0].new == "555-0100"
    assert audit[0].winner.startswith("hubspot")


async def test_item_changes_both_ways_quickbooks_owns_conflicts(world: World) -> None:
    ids = await _synced_invoice(world)

    # QuickBooks: a new price and description reach the HubSpot product.
    _qbo_update(world, "Item", ids["item"], UnitPrice=850, Description="One auditor, one day")
    await world.sync()
    product = world.hs.props("products", ids["product"])
    item = _qbo(world, "Item", ids["item"])
    assert Decimal(product["price"]) == Decimal(str(item["UnitPrice"])) == Decimal("850")
    assert product["description"] == item["Description"] == "One auditor, one day"

    # HubSpot: a rename reaches the item.
    world.hs.sb.update_object("products", ids["product"], {"name": "Audit day (on site)"})
    await world.sync()
    assert _qbo(world, "Item", ids["item"])["Name"] == "Audit day (on site)"
    state = world.state(ITEM, Side.HUBSPOT, ids["product"])
    assert state is not None and state.status is SYNCED, state

    # Both change the price: QuickBooks (the books) wins, HubSpot's value is audited.
    world.hs.sb.update_object("products", ids["product"], {"price": "900.00"})
    _qbo_update(world, "Item", ids["item"], UnitPrice=875)
    await world.sync()
    product = world.hs.props("products", ids["product"])
    assert Decimal(product["price"]) == Decimal("875")
    assert Decimal(str(_qbo(world, "Item", ids["item"])["UnitPrice"])) == Decimal("875")
    audit = [
        a
        for a in world.store.list_audit(world.connection_id, ITEM, ids["product"])
        if a.field_name == "unit_price"
    ]
    assert audit and audit[0].old == "900" and audit[0].new == "875"

    # QuickBooks: the item is no longer sold; the HubSpot product is archived.
    _qbo_update(world, "Item", ids["item"], Active=False)
    await world.sync()
    record = world.hs.sb.store.get("products", ids["product"])
    assert record is None or getattr(record, "archived", False)
    state = world.state(ITEM, Side.QUICKBOOKS, ids["item"])
    assert state is not None and state.status is SYNCED, state


async def test_unlinked_contacts_and_echoes_are_not_queued(world: World) -> None:
    ids = await _synced_invoice(world)
    stranger = world.hs.contact(f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    stats = world.engine.handle_events([ChangeEvent(Side.HUBSPOT, CUSTOMER, stranger)])
    assert stats.marked == 0
    # Our own write to QBO comes back through CDC as an echo, not as work.
    world.hs.sb.update_object("contacts", ids["contact"], {"phone": "555-0111"})
    await world.sync()
    customer = _qbo(world, "Customer", ids["customer"])
    poll = await world.engine.poll_once()
    assert poll.marked == 0, poll
    assert customer["PrimaryPhone"]["FreeFormNumber"] == "555-0111"


async def test_customers_of_quickbooks_invoices_are_linked_and_follow(world: World) -> None:
    email = f"qbo-md-{uuid.uuid4().hex[:6]}@elm.example"
    customer = world.qbo.customer(f"Elm Bakery {uuid.uuid4().hex[:4]}", email)
    item = world.qbo.item(f"Catering {uuid.uuid4().hex[:4]}", price="300.00")
    invoice = world.qbo.invoice(customer, [(item, "1", "300.00")], email=email)
    await world.sync()
    link = world.store.get_link(world.connection_id, CUSTOMER, Side.QUICKBOOKS, customer)
    assert link is not None and link.hubspot_id, "the invoice's customer was not linked"
    invoice_link = world.store.get_link(
        world.connection_id, "invoice", Side.QUICKBOOKS, invoice["Id"]
    )
    assert invoice_link is not None and invoice_link.hubspot_id

    _qbo_update(world, "Customer", customer, PrimaryPhone={"FreeFormNumber": "+1 312 555 0166"})
    await world.sync()
    contact = world.hs.props("contacts", link.hubspot_id)
    row = _qbo(world, "Customer", customer)
    assert contact["phone"] == row["PrimaryPhone"]["FreeFormNumber"] == "+1 312 555 0166"
    assert contact["email"] == row["PrimaryEmailAddr"]["Address"] == email
    state = world.state(CUSTOMER, Side.QUICKBOOKS, customer)
    assert state is not None and state.status is SYNCED, state


async def test_a_customer_changed_in_quickbooks_during_the_step_is_merged_again(
    world: World,
) -> None:
    ids = await _synced_invoice(world)
    world.hs.sb.update_object("contacts", ids["contact"], {"phone": "555-0123"})
    # The step's update to QBO is slowed down; meanwhile the bookkeeper saves the customer, so
    # the update arrives with a stale SyncToken (5010): the step reads and merges again.
    injector = world.qbo.state.fault_injector
    injector.set_plan(FaultPlan(latency_ms=1500, only_methods=["POST"]))
    key = RecordKey(world.connection_id, CUSTOMER, Side.HUBSPOT, ids["contact"])
    sent = world.ledger.requests_sent
    step = asyncio.create_task(world.engine.sync_key(key))
    await asyncio.sleep(0.5)  # both sides read; the update is on its way
    before = _qbo(world, "Customer", ids["customer"])["SyncToken"]
    _qbo_update(
        world, "Customer", ids["customer"], PrimaryEmailAddr={"Address": "ap@linden.example"}
    )
    injector.set_plan(FaultPlan())
    result = await step

    assert result is not None and result.plan.decision.status is SYNCED
    # Read, stale update, read again, update: the conflict did happen and was merged.
    assert world.ledger.requests_sent - sent == 4
    customer = _qbo(world, "Customer", ids["customer"])
    contact = world.hs.props("contacts", ids["contact"])
    assert int(customer["SyncToken"]) == int(before) + 2  # the bookkeeper's save, then ours
    assert customer["PrimaryPhone"]["FreeFormNumber"] == contact["phone"] == "555-0123"
    assert customer["PrimaryEmailAddr"]["Address"] == contact["email"] == "ap@linden.example"
