"""A HubSpot company rename reaches the linked QBO customer's CompanyName and DisplayName, over
real sockets (both sandboxes served by uvicorn): found by the company feed or a company webhook,
verified on both sides, and a DisplayName QuickBooks already uses fails with a fix hint and
changes nothing until it is freed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import CUSTOMER


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-rename-{uuid.uuid4().hex[:8]}", sockets=True)
    await w.sync()  # the first poll starts the contact, product and company feeds at "now"
    yield w
    await w.close()


@dataclass(frozen=True)
class Notification:
    object_type: str
    object_id: str
    account_id: str | None = None
    operation: str | None = "propertyChange"


async def _customer_of_company(world: World, name: str) -> dict[str, str]:
    email = f"rename-{uuid.uuid4().hex[:6]}@birch.example"
    contact = world.hs.contact(email, first="Bea", last="Birch", company=None)
    world.hs.sb.update_object("contacts", contact, {"company": name})  # what HubSpot copies
    company = str(world.hs.sb.create_object("companies", {"name": name}))
    world.hs.sb.associate("contacts", contact, "companies", company, 1)
    product = world.hs.product("Audit day", f"RN-{uuid.uuid4().hex[:6]}", "400.00")
    invoice = world.hs.invoice(contact, [(product, "1", "400.00")])
    await world.sync()
    assert world.invoice_state(invoice).status is SYNCED
    link = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    assert link is not None and link.qbo_id
    return {"contact": contact, "company": company, "customer": link.qbo_id}


def _names(world: World, customer_id: str) -> tuple[Any, Any]:
    row = world.qbo.get("Customer", customer_id)
    assert row is not None
    return row.get("CompanyName"), row.get("DisplayName")


async def test_company_rename_reaches_the_customer_by_the_company_feed(world: World) -> None:
    tag = uuid.uuid4().hex[:5]
    ids = await _customer_of_company(world, f"Birch Works {tag}")
    assert _names(world, ids["customer"]) == (f"Birch Works {tag}", f"Birch Works {tag}")

    world.hs.sb.update_object("companies", ids["company"], {"name": f"Birch & Sons {tag}"})
    await world.sync()

    hs_name = world.hs.props("companies", ids["company"])["name"]
    assert hs_name == f"Birch & Sons {tag}"
    assert _names(world, ids["customer"]) == (hs_name, hs_name)
    state = world.state(CUSTOMER, Side.HUBSPOT, ids["contact"])
    assert state is not None and state.status is SYNCED, state
    # The contact itself kept its own fields; QBO's customer still matches them.
    row = world.qbo.get("Customer", ids["customer"])
    assert row is not None and row["GivenName"] == "Bea" and row["FamilyName"] == "Birch"

    # Nothing new: a second round writes nothing (same SyncToken).
    token = row["SyncToken"]
    await world.sync()
    again = world.qbo.get("Customer", ids["customer"])
    assert again is not None and again["SyncToken"] == token


async def test_company_webhook_wakes_the_customer(world: World) -> None:
    tag = uuid.uuid4().hex[:5]
    ids = await _customer_of_company(world, f"Cedar Row {tag}")
    # The QBO DisplayName made from the company name with a suffix keeps its suffix.
    row = world.qbo.get("Customer", ids["customer"])
    assert row is not None
    world.qbo.state.update_entity(
        world.qbo.realm,
        "Customer",
        {
            "Id": ids["customer"],
            "SyncToken": row["SyncToken"],
            "sparse": True,
            "DisplayName": f"Cedar Row {tag} (2)",
        },
    )
    await world.sync()
    world.hs.sb.update_object("companies", ids["company"], {"name": f"Cedar Hill {tag}"})

    stats = await world.engine.handle_invoice_children(
        [Notification("company", ids["company"])], None
    )
    assert stats.marked >= 1
    report = await world.engine.run_once(100)
    assert report.claimed >= 1
    assert _names(world, ids["customer"]) == (f"Cedar Hill {tag}", f"Cedar Hill {tag} (2)")
    state = world.state(CUSTOMER, Side.HUBSPOT, ids["contact"])
    assert state is not None and state.status is SYNCED, state


async def test_display_name_taken_fails_with_a_hint_then_syncs_once_freed(world: World) -> None:
    tag = uuid.uuid4().hex[:5]
    ids = await _customer_of_company(world, f"Alder Co {tag}")
    vendor = world.qbo.create("Vendor", {"DisplayName": f"Alder Group {tag}"})

    world.hs.sb.update_object("companies", ids["company"], {"name": f"Alder Group {tag}"})
    await world.sync()

    state = world.state(CUSTOMER, Side.HUBSPOT, ids["contact"])
    assert state is not None and state.status is SyncStatus.FAILED, state
    assert f'named "Alder Group {tag}"' in (state.message or "")
    assert "rename or merge" in (state.hint or "").lower()
    # Nothing was written to QBO.
    assert _names(world, ids["customer"]) == (f"Alder Co {tag}", f"Alder Co {tag}")

    # The bookkeeper renames the vendor; the retry renames the customer.
    world.qbo.state.update_entity(
        world.qbo.realm,
        "Vendor",
        {
            "Id": vendor["Id"],
            "SyncToken": vendor["SyncToken"],
            "sparse": True,
            "DisplayName": f"Alder Group Supplies {tag}",
        },
    )
    await world.engine.sync_key(state.key)
    state = world.state(CUSTOMER, Side.HUBSPOT, ids["contact"])
    assert state is not None and state.status is SYNCED, state
    hs_name = world.hs.props("companies", ids["company"])["name"]
    assert _names(world, ids["customer"]) == (hs_name, hs_name)
