"""Engine + real store + real connectors + both sandboxes in-process: invoices both ways."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import EXCLUDED, FAILED, SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import DocNumberStrategy, SyncSettings
from ledgerbridge.engine.filters import FilterOp, FilterRule
from ledgerbridge.engine.ports import INVOICE


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def test_finished_hubspot_invoice_reaches_qbo_with_customer_items_discount_and_po(
    world: World,
) -> None:
    hs = world.hs
    contact = hs.contact("ada@acme.example", company="Acme Analytics")
    consulting = hs.product("Consulting hour", "CONS-HR", "150.00")
    support = hs.product("Support plan", "SUP-PRO", "89.99")
    invoice_id = hs.invoice(
        contact,
        [(consulting, "10", "150.00"), (support, "1", "89.99")],
        po="PO-4100",
        discount_percent="10",
    )

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED, state
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    # 1500 + 89.99 = 1589.99; 10% off = 159.00 (158.999 rounded once) -> 1430.99
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal("1430.99")
    props = hs.props("invoices", invoice_id)
    assert Decimal(props["hs_amount_billed"]) == Decimal("1430.99")
    customers = world.qbo.all("Customer")
    assert [c["DisplayName"] for c in customers] == ["Acme Analytics"]
    assert customers[0]["PrimaryEmailAddr"]["Address"] == "ada@acme.example"
    assert qbo_invoice["CustomerRef"]["value"] == customers[0]["Id"]
    items = {i["Sku"]: i for i in world.qbo.all("Item") if i.get("Sku")}
    assert set(items) == {"CONS-HR", "SUP-PRO"}
    sales = [ln for ln in qbo_invoice["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
    assert [
        (
            ln["SalesItemLineDetail"]["ItemRef"]["value"],
            Decimal(str(ln["SalesItemLineDetail"]["Qty"])),
        )
        for ln in sales
    ] == [(items["CONS-HR"]["Id"], Decimal(10)), (items["SUP-PRO"]["Id"], Decimal(1))]
    discount = [ln for ln in qbo_invoice["Line"] if ln["DetailType"] == "DiscountLineDetail"]
    assert discount and discount[0]["DiscountLineDetail"]["PercentBased"] is True
    po = [f for f in qbo_invoice.get("CustomField", []) if f.get("Name") == "PO Number"]
    assert po and po[0]["StringValue"] == "PO-4100"
    # The sync state is written onto the HubSpot invoice too.
    assert props["ledgerbridge_sync_status"] == "synced"
    assert props["qbo_invoice_id"] == qbo_invoice["Id"]
    assert props["qbo_doc_number"] == qbo_invoice["DocNumber"]
    assert not props.get("ledgerbridge_sync_error")


async def test_second_sync_writes_nothing(world: World) -> None:
    hs = world.hs
    contact = hs.contact("ben@birch.example", first="Ben", company="Birch & Co")
    product = hs.product("Training seat", "TRN-SEAT", "249.50")
    invoice_id = hs.invoice(contact, [(product, "2", "249.50")])
    await world.sync()
    qbo_before = world.ledger.requests_sent
    hs_modified = hs.props("invoices", invoice_id)["hs_lastmodifieddate"]
    token = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))["SyncToken"]  # type: ignore[index]

    world.engine.handle_events([])
    await world.sync()
    await world.sync()

    assert world.qbo.get("Invoice", world.qbo_id_of(invoice_id))["SyncToken"] == token  # type: ignore[index]
    assert hs.props("invoices", invoice_id)["hs_lastmodifieddate"] == hs_modified
    # Only change-feed polls went to QBO: no reads of records, no writes.
    assert world.ledger.requests_sent - qbo_before <= 2
    assert world.qbo.count("Invoice") == 1


async def test_doc_number_strategy_prefixed_hubspot_number(world: World) -> None:
    world.with_settings(
        SyncSettings(doc_number=DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER, doc_number_prefix="HS-")
    )
    contact = world.hs.contact("chloe@cobalt.example", first="Chloe", company="Cobalt Freight")
    product = world.hs.product("Data migration", "MIG-01", "2750.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "2750.00")])
    await world.sync()
    number = world.hs.props("invoices", invoice_id)["hs_number"]
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and qbo_invoice["DocNumber"] == f"HS-{number}"
    assert world.hs.props("invoices", invoice_id)["qbo_doc_number"] == f"HS-{number}"


async def test_qbo_origin_invoice_appears_in_hubspot_without_deal(world: World) -> None:
    customer = world.qbo.customer("Harbor Coffee", "hiro@harbor.example")
    item = world.qbo.item("Platform license (monthly)", "LIC-MO", "499.00")
    created = world.qbo.invoice(customer, [(item, "3", "499.00")], email="hiro@harbor.example")

    await world.sync()

    state = world.state(INVOICE, Side.QUICKBOOKS, created["Id"])
    assert state is not None and state.status is SYNCED, state
    link = world.store.get_link(world.connection_id, INVOICE, Side.QUICKBOOKS, created["Id"])
    assert link is not None and link.hubspot_id
    props = world.hs.props("invoices", link.hubspot_id)
    assert props["qbo_invoice_id"] == created["Id"]
    assert props["hs_invoice_status"] == "open"
    assert Decimal(props["hs_amount_billed"]) == Decimal("1497.00")
    record = world.hs.sb.store.get("invoices", link.hubspot_id)
    assert world.hs.sb.linked(record, "deals") == []
    contacts = world.hs.sb.linked(record, "contacts")
    assert [c.properties.get("email") for c in contacts] == ["hiro@harbor.example"]
    # ... and it does not come back to QBO as a second invoice
    await world.sync()
    assert world.qbo.count("Invoice") == 1
    assert len(world.hs.all("invoices")) == 1


async def test_qbo_edit_of_due_date_flows_to_hubspot(world: World) -> None:
    contact = world.hs.contact("dev@delta.example", first="Dev", company="Delta Dental Group")
    product = world.hs.product("API add-on", "API-ADD", "75.00")
    invoice_id = world.hs.invoice(contact, [(product, "4", "75.00")])
    await world.sync()
    qbo_id = world.qbo_id_of(invoice_id)
    current = world.qbo.get("Invoice", qbo_id)
    assert current is not None
    world.qbo.state.update_entity(
        world.qbo.realm,
        "Invoice",
        {"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True, "DueDate": "2027-01-15"},
    )

    await world.sync()

    assert world.hs.props("invoices", invoice_id)["hs_due_date"].startswith("2027-01-15")
    assert world.invoice_state(invoice_id).status is SYNCED


async def test_filters_exclude_with_the_rule_and_create_nothing(world: World) -> None:
    world.with_settings(
        SyncSettings(filters=[FilterRule(field="amount", op=FilterOp.GTE, value="1000")])
    )
    contact = world.hs.contact(
        "elena@evergreen.example", first="Elena", company="Evergreen Studios"
    )
    product = world.hs.product("Extra storage 100GB", "STO-100", "19.95")
    small = world.hs.invoice(contact, [(product, "2", "19.95")])
    big = world.hs.invoice(contact, [(product, "100", "19.95")])

    await world.sync()

    state = world.invoice_state(small)
    assert state.status is EXCLUDED
    assert state.message == "Excluded by sync filter: Amount is at least 1000 (this invoice: 39.90)"
    props = world.hs.props("invoices", small)
    assert props["ledgerbridge_sync_status"] == "excluded"
    assert "Amount is at least 1000" in props["ledgerbridge_sync_error"]
    assert world.invoice_state(big).status is SYNCED
    assert world.qbo.count("Invoice") == 1


async def test_eur_invoice_into_usd_only_company_fails_visibly_and_creates_nothing(
    world: World,
) -> None:
    contact = world.hs.contact("farid@fjord.example", first="Farid", company="Fjord Robotics")
    product = world.hs.product("Hardware kit", "HW-KIT", "349.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "349.00")], currency="EUR")
    counts = {e: world.qbo.count(e) for e in ("Customer", "Item", "Invoice")}

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is FAILED
    assert state.category == "validation"
    assert state.hint == (
        "QuickBooks company is USD-only; turn on multicurrency in QuickBooks or "
        "exclude EUR invoices with a sync filter"
    )
    assert {e: world.qbo.count(e) for e in ("Customer", "Item", "Invoice")} == counts
    props = world.hs.props("invoices", invoice_id)
    assert props["ledgerbridge_sync_status"] == "failed"
    assert "USD-only" in props["ledgerbridge_sync_error"]
    # A failed record is not retried in a loop: the next sync leaves it alone.
    before = world.ledger.requests_sent
    await world.sync()
    assert world.invoice_state(invoice_id).attempts == state.attempts
    assert world.ledger.requests_sent - before <= 2


async def test_draft_invoice_waits_for_finish(world: World) -> None:
    contact = world.hs.contact("grace@granite.example", first="Grace", company="Granite Legal")
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    invoice_id = world.hs.invoice(contact, [(product, "1", "150.00")], finish=False)
    await world.sync()
    assert world.state(INVOICE, Side.HUBSPOT, invoice_id) is None
    assert world.qbo.count("Invoice") == 0
    world.hs.finish(invoice_id)
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    assert world.qbo.count("Invoice") == 1


async def test_changing_the_filters_reconsiders_excluded_invoices(world: World) -> None:
    world.engine.settings = SyncSettings(
        filters=[FilterRule(field="currency", op=FilterOp.EQ, value="CAD")]
    )
    contact = world.hs.contact("hana@harbor.example", first="Hana", company="Harbor Coffee")
    product = world.hs.product("Support plan", "SUP-PRO", "89.99")
    invoice_id = world.hs.invoice(contact, [(product, "1", "89.99")])
    await world.sync()
    assert world.invoice_state(invoice_id).status is EXCLUDED

    world.engine.settings = SyncSettings()  # what the console does when the user saves
    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    assert world.hs.props("invoices", invoice_id)["ledgerbridge_sync_status"] == "synced"
    assert not world.hs.props("invoices", invoice_id).get("ledgerbridge_sync_error")


async def test_voids_flow_both_ways(world: World) -> None:
    contact = world.hs.contact("ivan@ion.example", first="Ivan", company="Ion Labs")
    product = world.hs.product("API add-on", "API-ADD", "75.00")
    from_hubspot = world.hs.invoice(contact, [(product, "1", "75.00")])
    from_qbo = world.hs.invoice(contact, [(product, "2", "75.00")])
    await world.sync()

    world.hs.sb.update_object("invoices", from_hubspot, {"hs_invoice_status": "voided"})
    qbo_id = world.qbo_id_of(from_qbo)
    current = world.qbo.get("Invoice", qbo_id)
    assert current is not None
    await world.ledger.void_invoice(qbo_id, current["SyncToken"])  # the bookkeeper voids it in QBO
    await world.sync()

    voided = world.qbo.get("Invoice", world.qbo_id_of(from_hubspot))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == Decimal("0")
    assert world.hs.props("invoices", from_qbo)["hs_invoice_status"] == "voided"
    assert world.invoice_state(from_hubspot).status is SYNCED
    assert world.invoice_state(from_qbo).status is SYNCED
    await world.sync()
    assert world.qbo.count("Invoice") == 2
