"""Tax collected is owed to the tax authority, never income: HubSpot tax lines are booked in QBO
to one item whose income account is a liability account (Sales Tax Payable), with totals equal
to the cent; an item of that name that books to income is refused with a fix, not used."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import FAILED, SYNCED, World, assoc, make_world

from ledgerbridge.engine.fieldmap import SyncSettings


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-tax-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _taxed_invoice(world: World, email: str, rate: str = "8.25") -> str:
    hs = world.hs
    contact = hs.contact(email, company="Taxed Co")
    product = hs.product("Widget", f"W-{uuid.uuid4().hex[:6]}", "100.00")
    invoice_id = hs.invoice(contact, [(product, "6", "100.00")], finish=False)
    hs.sb.create_object(
        "taxes",
        {"hs_label": "State sales tax", "hs_type": "PERCENT", "hs_value": rate},
        [assoc(invoice_id, 416)],
    )
    hs.sb.update_object("invoices", invoice_id, {"hs_invoice_status": "open"})
    return invoice_id


def _account_of(world: World, item_id: str) -> dict[str, object]:
    item = world.qbo.get("Item", item_id)
    assert item is not None
    account = world.qbo.get("Account", item["IncomeAccountRef"]["value"])
    assert account is not None
    return account


async def test_tax_line_books_to_a_liability_item_and_totals_agree(world: World) -> None:
    first = _taxed_invoice(world, "tax1@taxed.example")
    second = _taxed_invoice(world, "tax2@taxed.example", rate="5")

    await world.sync()

    for invoice_id, billed in ((first, Decimal("649.50")), (second, Decimal("630.00"))):
        assert world.invoice_state(invoice_id).status is SYNCED
        props = world.hs.props("invoices", invoice_id)
        qbo = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
        assert qbo is not None
        assert Decimal(props["hs_amount_billed"]) == billed
        assert Decimal(str(qbo["TotalAmt"])) == billed
        sales = [ln for ln in qbo["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
        tax_line = sales[-1]
        assert tax_line["Description"] == "State sales tax"
        account = _account_of(world, tax_line["SalesItemLineDetail"]["ItemRef"]["value"])
        assert account["Name"] == "Sales Tax Payable"
        assert account["Classification"] == "Liability"
        # The product line still books to income.
        product_account = _account_of(world, sales[0]["SalesItemLineDetail"]["ItemRef"]["value"])
        assert product_account["Classification"] == "Revenue"
    # One tax item for every invoice, created once.
    tax_items = [i for i in world.qbo.all("Item") if i["Name"] == "Sales Tax Collected"]
    assert len(tax_items) == 1


async def test_missing_liability_account_is_created(sqlite_db_url: str) -> None:
    settings = SyncSettings(tax_account_name="Tax Owed (HubSpot)")
    w = await make_world(sqlite_db_url, f"engine-tax-{uuid.uuid4().hex[:8]}", settings=settings)
    try:
        invoice_id = _taxed_invoice(w, "tax3@taxed.example")
        await w.sync()
        assert w.invoice_state(invoice_id).status is SYNCED
        tax_item = next(i for i in w.qbo.all("Item") if i["Name"] == "Sales Tax Collected")
        account = _account_of(w, tax_item["Id"])
        assert account["Name"] == "Tax Owed (HubSpot)"
        assert account["AccountType"] == "Other Current Liability"
    finally:
        await w.close()


async def test_tax_item_booked_to_income_is_refused_with_a_fix(world: World) -> None:
    # Someone already made an item with the tax item's name, booked to Services income.
    world.qbo.item("Sales Tax Collected")
    invoice_id = _taxed_invoice(world, "tax4@taxed.example")

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is FAILED
    assert state.category == "config"
    assert "counted as income" in (state.message or "")
    assert "Sales Tax Payable" in (state.hint or "")
    assert world.qbo.all("Invoice") == []  # nothing half-written
