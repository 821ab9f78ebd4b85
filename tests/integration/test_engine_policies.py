"""Product-not-found policies and customer display-name collisions, against the sandboxes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from engine_world import FAILED, SYNCED, World, make_world

from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy, SyncSettings


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-pol-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _sales_item_ids(world: World, hs_invoice_id: str) -> list[str]:
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(hs_invoice_id))
    assert qbo_invoice is not None
    return [
        ln["SalesItemLineDetail"]["ItemRef"]["value"]
        for ln in qbo_invoice["Line"]
        if ln["DetailType"] == "SalesItemLineDetail"
    ]


async def test_policy_create_item_matches_by_sku_then_name_and_creates_the_rest(
    world: World,
) -> None:
    by_sku = world.qbo.item("Consulting (QBO name)", "CONS-HR", "150.00")
    by_name = world.qbo.item("Support plan", None, "89.99")
    contact = world.hs.contact("maya@meridian.example", first="Maya", company="Meridian Travel")
    p1 = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    p2 = world.hs.product("Support plan", "SUP-PRO", "89.99")
    p3 = world.hs.product("Onboarding package", "ONB-STD", "1200.00")
    invoice_id = world.hs.invoice(
        contact, [(p1, "2", "150.00"), (p2, "1", "89.99"), (p3, "1", "1200.00")]
    )

    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    ids = _sales_item_ids(world, invoice_id)
    assert ids[:2] == [by_sku, by_name]
    created = world.qbo.get("Item", ids[2])
    assert (
        created is not None
        and created["Name"] == "Onboarding package"
        and created["Sku"] == "ONB-STD"
    )
    assert world.qbo.added_items() == 3

    # A second invoice with the same products reuses the items (links), creates none.
    world.hs.invoice(contact, [(p3, "1", "1200.00")])
    await world.sync()
    assert world.qbo.added_items() == 3


async def test_policy_default_item_works_on_a_new_company(world: World) -> None:
    """A new QBO company already has its "Services" item: the policy needs no setup there."""
    world.with_settings(
        SyncSettings(
            product_not_found=ProductNotFoundPolicy.USE_DEFAULT_ITEM, default_item_name="Services"
        )
    )
    services = world.qbo.item_named("Services")
    assert services == "1"  # the ItemRef Intuit's own examples use
    contact = world.hs.contact("nils@nimbus.example", first="Nils", company="Nimbus Cloud")
    product = world.hs.product("Hardware kit", "HW-KIT", "349.00")
    invoice_id = world.hs.invoice(
        contact, [(product, "1", "349.00"), (None, "2", "10.00", "Shipping")]
    )

    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    assert _sales_item_ids(world, invoice_id) == [services, services]
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    descriptions = [
        ln.get("Description")
        for ln in qbo_invoice["Line"]
        if ln["DetailType"] == "SalesItemLineDetail"
    ]
    assert descriptions[0] is not None and "Hardware kit" in descriptions[0]
    assert world.qbo.added_items() == 0


async def test_policy_default_item_missing_is_a_config_failure(world: World) -> None:
    world.with_settings(
        SyncSettings(
            product_not_found=ProductNotFoundPolicy.USE_DEFAULT_ITEM,
            default_item_name="Freight and handling",
        )
    )
    contact = world.hs.contact("olga@orchid.example", first="Olga", company="Orchid Florists")
    product = world.hs.product("Hardware kit", "HW-KIT", "349.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "349.00")])
    await world.sync()
    state = world.invoice_state(invoice_id)
    assert state.status is FAILED and state.category == "config"
    assert "Freight and handling" in (state.hint or "")
    assert world.qbo.count("Invoice") == 0


async def test_policy_fail_fails_the_invoice_alone_and_creates_nothing(world: World) -> None:
    world.with_settings(SyncSettings(product_not_found=ProductNotFoundPolicy.FAIL))
    known = world.qbo.item("Consulting hour", "CONS-HR", "150.00")
    contact = world.hs.contact("priya@pioneer.example", first="Priya", company="Pioneer Farms")
    p_known = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    p_unknown = world.hs.product("Hardware kit", "HW-KIT", "349.00")
    bad = world.hs.invoice(contact, [(p_known, "1", "150.00"), (p_unknown, "1", "349.00")])
    good = world.hs.invoice(contact, [(p_known, "3", "150.00")])

    await world.sync()

    state = world.invoice_state(bad)
    assert state.status is FAILED and state.category == "not_found"
    assert "Hardware kit" in (state.message or "") and "HW-KIT" in (state.message or "")
    assert state.hint and "product not found" in state.hint
    assert world.invoice_state(good).status is SYNCED
    assert _sales_item_ids(world, good) == [known]
    assert world.qbo.added_items() == 1
    assert world.qbo.count("Invoice") == 1
    assert "Hardware kit" in world.hs.props("invoices", bad)["ledgerbridge_sync_error"]

    # The bookkeeper creates the item, the user retries: it syncs.
    world.qbo.item("Hardware kit", "HW-KIT", "349.00")
    assert world.store.retry(world.invoice_state(bad).key)
    await world.sync()
    assert world.invoice_state(bad).status is SYNCED


async def test_customer_display_name_collisions_never_fail(world: World) -> None:
    # "Quartz Security" is already a vendor in QBO (names are unique across customers, vendors
    # and employees), and two different people work there.
    world.qbo.create("Vendor", {"DisplayName": "Quartz Security"})
    world.qbo.create(
        "Employee",
        {
            "DisplayName": "Quartz Security (sami@quartz.example)",
            "GivenName": "Sami",
            "FamilyName": "N",
        },
    )
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    quinn = world.hs.contact(
        "quinn@quartz.example", first="Quinn", last="Baker", company="Quartz Security"
    )
    rosa = world.hs.contact(
        "rosa@quartz.example", first="Rosa", last="Diaz", company="Quartz Security"
    )
    sami = world.hs.contact(
        "sami@quartz.example", first="Sami", last="Nieminen", company="Quartz Security"
    )
    invoices = [world.hs.invoice(c, [(product, "1", "150.00")]) for c in (quinn, rosa, sami)]
    # The same person again: matched by email, not created twice.
    invoices.append(world.hs.invoice(quinn, [(product, "2", "150.00")]))

    await world.sync()

    assert [world.invoice_state(i).status for i in invoices] == [SYNCED] * 4
    names = {c["PrimaryEmailAddr"]["Address"]: c["DisplayName"] for c in world.qbo.all("Customer")}
    assert names == {
        "quinn@quartz.example": "Quartz Security (quinn@quartz.example)",
        "rosa@quartz.example": "Quartz Security (rosa@quartz.example)",
        "sami@quartz.example": "Quartz Security (2)",
    }
    emails = sorted(c["PrimaryEmailAddr"]["Address"] for c in world.qbo.all("Customer"))
    assert emails == ["quinn@quartz.example", "rosa@quartz.example", "sami@quartz.example"]


async def test_customer_matched_by_email_case_insensitively(world: World) -> None:
    existing = world.qbo.customer("Rosa's Redwood Account", "Rosa@Redwood.example")
    contact = world.hs.contact(" rosa@redwood.EXAMPLE", first="Rosa", company="Redwood Schools")
    product = world.hs.product("Training seat", "TRN-SEAT", "249.50")
    invoice_id = world.hs.invoice(contact, [(product, "1", "249.50")])
    await world.sync()
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and qbo_invoice["CustomerRef"]["value"] == existing
    assert world.qbo.count("Customer") == 1


async def test_customer_creation_switched_off_matches_only(world: World) -> None:
    world.with_settings(SyncSettings.model_validate({"customers": {"hubspot_to_qbo": False}}))
    world.qbo.customer("Summit Outdoor", "sami@summit.example")
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    known = world.hs.invoice(
        world.hs.contact("sami@summit.example", first="Sami", company="Summit Outdoor"),
        [(product, "1", "150.00")],
    )
    unknown = world.hs.invoice(
        world.hs.contact("tom@summit.example", first="Tom", company="Summit Outdoor"),
        [(product, "1", "150.00")],
    )
    await world.sync()
    assert world.invoice_state(known).status is SYNCED
    state = world.invoice_state(unknown)
    assert state.status is FAILED and state.category == "not_found"
    assert "tom@summit.example" in (state.message or "")
    assert world.qbo.count("Customer") == 1
