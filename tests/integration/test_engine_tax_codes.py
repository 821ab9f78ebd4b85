"""A QBO company that computes sales tax (Preferences.TaxPrefs.UsingSalesTax) gets HubSpot's
taxes as TxnTaxDetail with the tax code the mapping chooses, never as a line: QBO computes the
tax from the code's rate on the taxable lines, and the totals agree to the cent on both sides.
A tax with no mapping, or mapped to a code of another rate, fails with the fix before anything
is written. With Automated Sales Tax the amount is sent and honoured."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import FAILED, SYNCED, World, assoc, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings


async def _world(db_url: str, mapping: dict[str, str], automated: bool = False) -> World:
    settings = SyncSettings(tax_code_mapping=mapping)
    w = await make_world(db_url, f"engine-taxcode-{uuid.uuid4().hex[:8]}", settings=settings)
    w.qbo.state.set_preferences(
        w.qbo.realm, {"TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": automated}}
    )
    rate = w.qbo.create("TaxRate", {"Name": "CA state 8.25", "RateValue": "8.25"})
    w.qbo.create(
        "TaxCode",
        {
            "Name": "CA sales tax",
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": {
                "TaxRateDetail": [{"TaxRateRef": {"value": rate["Id"]}, "TaxOrder": 0}]
            },
        },
    )
    return w


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await _world(sqlite_db_url, {"State sales tax": "CA sales tax"})
    yield w
    await w.close()


def _code_id(world: World, name: str) -> str:
    return str(next(c["Id"] for c in world.qbo.all("TaxCode") if c["Name"] == name))


def _taxed_invoice(
    world: World,
    email: str,
    *,
    tax: tuple[str, str, str] = ("State sales tax", "PERCENT", "8.25"),
    lines: tuple[str, str] = ("6", "100.00"),
    discount_percent: str | None = None,
    fee: str | None = None,
) -> str:
    hs = world.hs
    contact = hs.contact(email, company="Taxed Co")
    product = hs.product("Widget", f"W-{uuid.uuid4().hex[:6]}", lines[1])
    invoice_id = hs.invoice(
        contact, [(product, *lines)], finish=False, discount_percent=discount_percent
    )
    if fee:
        hs.sb.create_object(
            "fees",
            {"hs_label": "Handling", "hs_type": "FIXED", "hs_value": fee},
            [assoc(invoice_id, 414)],
        )
    label, kind, value = tax
    hs.sb.create_object(
        "taxes", {"hs_label": label, "hs_type": kind, "hs_value": value}, [assoc(invoice_id, 416)]
    )
    hs.finish(invoice_id)
    return invoice_id


def _qbo_invoice(world: World, hs_id: str) -> dict[str, Any]:
    row = world.qbo.get("Invoice", world.qbo_id_of(hs_id))
    assert row is not None
    return row


def _sales_lines(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [ln for ln in row["Line"] if ln["DetailType"] == "SalesItemLineDetail"]


async def test_tax_goes_to_the_mapped_tax_code_and_totals_agree(world: World) -> None:
    invoice_id = _taxed_invoice(world, "code1@taxed.example")

    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    billed = Decimal(world.hs.props("invoices", invoice_id)["hs_amount_billed"])
    assert billed == Decimal("649.50")
    qbo = _qbo_invoice(world, invoice_id)
    assert Decimal(str(qbo["TotalAmt"])) == billed
    detail = qbo["TxnTaxDetail"]
    assert detail["TxnTaxCodeRef"]["value"] == _code_id(world, "CA sales tax")
    assert Decimal(str(detail["TotalTax"])) == Decimal("49.50")
    # The tax is no line of its own: one product line, taxable; no tax item anywhere.
    sales = _sales_lines(qbo)
    assert len(sales) == 1
    assert sales[0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    assert qbo["ApplyTaxAfterDiscount"] is True
    assert not [i for i in world.qbo.all("Item") if i["Name"] == "Sales Tax Collected"]


async def test_mapping_by_rate_with_discount_and_fee_is_exact_to_the_cent(
    sqlite_db_url: str,
) -> None:
    w = await _world(sqlite_db_url, {"8.25%": "CA sales tax"})
    try:
        # 3 x 99.99 = 299.97, 10 % off (30.00), fee 5.00: QBO taxes 274.97 at 8.25 % and
        # rounds its way (22.69), HubSpot taxes its unrounded base (22.69): 297.66 on both.
        invoice_id = _taxed_invoice(
            w, "code2@taxed.example", lines=("3", "99.99"), discount_percent="10", fee="5.00"
        )
        await w.sync()
        assert w.invoice_state(invoice_id).status is SYNCED
        billed = Decimal(w.hs.props("invoices", invoice_id)["hs_amount_billed"])
        assert billed == Decimal("297.66")
        qbo = _qbo_invoice(w, invoice_id)
        assert Decimal(str(qbo["TotalAmt"])) == billed
        assert Decimal(str(qbo["TxnTaxDetail"]["TotalTax"])) == Decimal("22.69")
        # Product and fee lines are both taxable, as HubSpot taxes the fee too.
        assert [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in _sales_lines(qbo)] == [
            "TAX",
            "TAX",
        ]
    finally:
        await w.close()


async def test_an_edit_in_hubspot_recomputes_the_tax_in_quickbooks(world: World) -> None:
    invoice_id = _taxed_invoice(world, "code3@taxed.example")
    await world.sync()
    line = world.hs.sb.linked(world.hs.sb.store.get("invoices", invoice_id), "line_items")[0]
    world.hs.sb.update_object("line_items", line.id, {"quantity": "2"})

    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    billed = Decimal(world.hs.props("invoices", invoice_id)["hs_amount_billed"])
    assert billed == Decimal("216.50")
    qbo = _qbo_invoice(world, invoice_id)
    assert Decimal(str(qbo["TotalAmt"])) == billed
    assert Decimal(str(qbo["TxnTaxDetail"]["TotalTax"])) == Decimal("16.50")
    assert len(_sales_lines(qbo)) == 1


async def test_a_tax_without_mapping_fails_with_the_fix(world: World) -> None:
    invoice_id = _taxed_invoice(world, "code4@taxed.example", tax=("County tax", "PERCENT", "1.5"))

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is FAILED
    assert state.category == "config"
    assert "No tax code mapping for HubSpot tax 'County tax' (1.5%)" in (state.message or "")
    assert "Tax code mapping" in (state.hint or "")
    assert "CA sales tax (8.25%)" in (state.hint or "")
    assert world.qbo.all("Invoice") == []  # nothing half-written


async def test_a_code_of_another_rate_is_refused_before_writing(sqlite_db_url: str) -> None:
    # The sandbox's seeded "Sales tax" code is 8 %; HubSpot charges 8.25 %.
    w = await _world(sqlite_db_url, {"State sales tax": "Sales tax"})
    try:
        invoice_id = _taxed_invoice(w, "code5@taxed.example")
        await w.sync()
        state = w.invoice_state(invoice_id)
        assert state.status is FAILED
        assert "at 8.25% but the QuickBooks tax code 'Sales tax' is 8%" in (state.message or "")
        assert w.qbo.all("Invoice") == []
    finally:
        await w.close()


async def test_automated_sales_tax_honours_hubspots_amount(sqlite_db_url: str) -> None:
    # No mapping: with Automated Sales Tax QBO picks the code and keeps the amount sent.
    w = await _world(sqlite_db_url, {}, automated=True)
    try:
        invoice_id = _taxed_invoice(
            w, "code6@taxed.example", tax=("Tax", "FIXED", "7.77"), lines=("1", "100.00")
        )
        await w.sync()
        assert w.invoice_state(invoice_id).status is SYNCED
        qbo = _qbo_invoice(w, invoice_id)
        assert Decimal(str(qbo["TxnTaxDetail"]["TotalTax"])) == Decimal("7.77")
        assert Decimal(str(qbo["TotalAmt"])) == Decimal("107.77")
        assert Decimal(w.hs.props("invoices", invoice_id)["hs_amount_billed"]) == Decimal("107.77")
    finally:
        await w.close()


async def test_a_quickbooks_invoice_with_a_tax_code_reaches_hubspot_with_its_tax(
    world: World,
) -> None:
    customer = world.qbo.customer("Counter Co", "counter@taxed.example")
    item = world.qbo.item("Repair", price="200")
    qbo = world.qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer},
            "BillEmail": {"Address": "counter@taxed.example"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "200.00",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item},
                        "Qty": "1",
                        "UnitPrice": "200",
                        "TaxCodeRef": {"value": "TAX"},
                    },
                }
            ],
            "TxnTaxDetail": {"TxnTaxCodeRef": {"value": _code_id(world, "CA sales tax")}},
        },
    )
    assert Decimal(str(qbo["TotalAmt"])) == Decimal("216.50")

    await world.sync()

    hs_invoice = next(
        r for r in world.hs.all("invoices") if r.properties.get("qbo_invoice_id") == qbo["Id"]
    )
    assert Decimal(hs_invoice.properties["hs_amount_billed"]) == Decimal("216.50")
    taxes = world.hs.sb.linked(hs_invoice, "taxes")
    assert [(t.properties["hs_type"], Decimal(t.properties["hs_value"])) for t in taxes] == [
        ("FIXED", Decimal("16.50"))
    ]
    state = world.state("invoice", Side.QUICKBOOKS, qbo["Id"])
    assert state is not None and state.status is SYNCED


async def test_an_invoice_without_tax_is_not_taxed_by_quickbooks(world: World) -> None:
    hs = world.hs
    contact = hs.contact("code7@taxed.example", company="Untaxed Co")
    product = hs.product("Service", f"S-{uuid.uuid4().hex[:6]}", "120.00")
    invoice_id = hs.invoice(contact, [(product, "2", "120.00")])

    await world.sync()

    assert world.invoice_state(invoice_id).status is SYNCED
    qbo = _qbo_invoice(world, invoice_id)
    # Every line NON: QBO adds no tax of its own, whatever its items' defaults.
    assert [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in _sales_lines(qbo)] == ["NON"]
    assert not qbo["TxnTaxDetail"].get("TotalTax")
    assert Decimal(str(qbo["TotalAmt"])) == Decimal("240.00")
    assert Decimal(world.hs.props("invoices", invoice_id)["hs_amount_billed"]) == Decimal("240.00")


async def test_two_hubspot_taxes_under_one_combined_code_agree_by_their_total(
    sqlite_db_url: str,
) -> None:
    w = await _world(sqlite_db_url, {"State": "State + county", "County": "State + county"})
    try:
        state = w.qbo.create("TaxRate", {"Name": "State 6.25", "RateValue": "6.25"})
        county = w.qbo.create("TaxRate", {"Name": "County 2", "RateValue": "2"})
        w.qbo.create(
            "TaxCode",
            {
                "Name": "State + county",
                "Taxable": True,
                "TaxGroup": True,
                "SalesTaxRateList": {
                    "TaxRateDetail": [
                        {"TaxRateRef": {"value": state["Id"]}, "TaxOrder": 0},
                        {"TaxRateRef": {"value": county["Id"]}, "TaxOrder": 1},
                    ]
                },
            },
        )
        invoice_id = _taxed_invoice(
            w, "code8@taxed.example", tax=("State", "PERCENT", "6.25"), lines=("3", "33.33")
        )
        w.hs.sb.create_object(
            "taxes",
            {"hs_label": "County", "hs_type": "PERCENT", "hs_value": "2"},
            [assoc(invoice_id, 416)],
        )
        await w.sync()

        assert w.invoice_state(invoice_id).status is SYNCED
        billed = Decimal(w.hs.props("invoices", invoice_id)["hs_amount_billed"])
        qbo = _qbo_invoice(w, invoice_id)
        # 99.99 at 6.25 % = 6.25 and at 2 % = 2.00, on both sides.
        assert Decimal(str(qbo["TxnTaxDetail"]["TotalTax"])) == Decimal("8.25")
        assert Decimal(str(qbo["TotalAmt"])) == billed == Decimal("108.24")
    finally:
        await w.close()
