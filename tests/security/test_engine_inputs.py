"""Odd names and over-long text, through the engine, both sandboxes and the real connectors.

Each row is one HubSpot invoice whose customer or line carries the input; the outcome is exact:
synced, with the QuickBooks customer named as expected and the invoice total equal on both
sides, or failed alone with category and hint and nothing created in QuickBooks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import FAILED, SYNCED, World, assoc, make_world

from ledgerbridge.engine.fieldmap import LongTextPolicy, SyncSettings
from ledgerbridge.engine.validate import QBO_LINE_DESCRIPTION_MAX
from ledgerbridge.sandbox.quickbooks.limits import LINE_DESCRIPTION_MAX


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"security-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _invoice(world: World, company: str, email: str, description: str | None = None) -> str:
    contact = world.hs.contact(email, company=company)
    product = world.hs.product("Consulting hour", "CONS-HR", "150.00")
    invoice_id = world.hs.invoice(contact, [(product, "2", "150.00")], finish=description is None)
    if description is not None:
        world.hs.sb.create_object(
            "line_items",
            {
                "name": "Report",
                "description": description,
                "quantity": "1",
                "price": "10.00",
                "hs_position_on_quote": "1",
                "hs_line_item_currency_code": "USD",
            },
            [assoc(invoice_id, 410)],
        )
        world.hs.finish(invoice_id)
    return invoice_id


def _assert_synced(world: World, invoice_id: str, display_name: str) -> None:
    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED, (state.message, state.hint)
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    customer = world.qbo.get("Customer", qbo_invoice["CustomerRef"]["value"])
    assert customer is not None
    assert customer["DisplayName"] == display_name
    billed = world.hs.props("invoices", invoice_id)["hs_amount_billed"]
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(billed)


NAMES = [
    # (company name in HubSpot, QuickBooks display name)
    ("O'Brien \\' & Sons", "O'Brien \\' & Sons"),
    ("Back\\slash Trading\\", "Back\\slash Trading\\"),
    ("100% Organic % Co", "100% Organic % Co"),
    ("Café Zürich – Ünïcödé 東京", "Café Zürich – Ünïcödé 東京"),
    ("''Quoted'' \"Double\"", "''Quoted'' \"Double\""),
    ("Semi; colon: name", "Semi; colon- name"),
]


@pytest.mark.parametrize(("company", "display_name"), NAMES)
async def test_names_with_quotes_backslashes_percent_and_unicode_sync(
    world: World, company: str, display_name: str
) -> None:
    first = _invoice(world, company, "first@names.example")
    await world.sync()
    _assert_synced(world, first, display_name)
    # Another customer of the same company: the display-name query (with the quotes and
    # backslashes in it) finds the name taken, and the next candidate is used.
    second = _invoice(world, company, "second@names.example")
    await world.sync()
    _assert_synced(world, second, f"{display_name} (second@names.example)")
    assert world.qbo.count("Customer") == 2


async def test_two_long_names_sharing_100_characters_get_distinct_customers(
    world: World,
) -> None:
    common = (
        "Northwind Consolidated Holdings International Trading and Logistics Group "
        "of Greater Metropolitan Area Services"
    )[:100]
    assert len(common) == 100
    a = _invoice(world, common + " Alpha Division", "alpha@long.example")
    b = _invoice(world, common + " Beta Division", "beta@long.example")
    await world.sync()
    names = sorted(c["DisplayName"] for c in world.qbo.all("Customer"))
    assert len(names) == 2 and len(set(names)) == 2
    assert all(len(n) <= 100 for n in names)
    for invoice_id in (a, b):
        state = world.invoice_state(invoice_id)
        assert state.status is SYNCED, (state.message, state.hint)


@pytest.mark.parametrize(
    ("length", "synced"),
    [(QBO_LINE_DESCRIPTION_MAX, True), (QBO_LINE_DESCRIPTION_MAX + 1, False), (20_000, False)],
)
async def test_line_description_limit(world: World, length: int, synced: bool) -> None:
    assert LINE_DESCRIPTION_MAX == QBO_LINE_DESCRIPTION_MAX
    invoice_id = _invoice(world, "Acme Analytics", "ada@acme.example", "d" * length)
    await world.sync()
    state = world.invoice_state(invoice_id)
    if synced:
        assert state.status is SYNCED, (state.message, state.hint)
        qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
        assert qbo_invoice is not None
        descriptions = [ln.get("Description") for ln in qbo_invoice["Line"]]
        assert "d" * length in descriptions
        return
    assert state.status is FAILED
    assert state.category == "validation"
    assert state.message == (
        f"Line 2 (Report) has a description of {length:,} characters; QuickBooks allows 4,000"
    )
    assert state.hint == (
        "Shorten the line item's description in HubSpot, or set long text to 'cut' in the "
        "sync settings, then retry"
    )
    assert {e: world.qbo.count(e) for e in ("Customer", "Invoice")} == {
        "Customer": 0,
        "Invoice": 0,
    }


async def test_cut_policy_sends_a_cut_copy_with_a_note_and_keeps_hubspot_whole(
    world: World,
) -> None:
    world.with_settings(SyncSettings(long_text=LongTextPolicy.CUT))
    text = "word " * 2000  # 10,000 characters
    invoice_id = _invoice(world, "Acme Analytics", "ada@acme.example", text)
    await world.sync()
    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED, (state.message, state.hint)
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    cut = [ln["Description"] for ln in qbo_invoice["Line"] if "[cut:" in ln.get("Description", "")]
    assert len(cut) == 1
    assert len(cut[0]) <= 4000
    assert cut[0].endswith(" [cut: 10,000 characters in HubSpot]")
    assert text.startswith(cut[0][: -len(" [cut: 10,000 characters in HubSpot]")])
    # A later edit in HubSpot goes through the merge: the cut copy is not carried back, and
    # the QBO line stays cut (the merge compares lines by quantity and price).
    world.hs.sb.update_object("invoices", invoice_id, {"hs_due_date": "2026-12-31"})
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    lines = [
        r.properties for r in world.hs.all("line_items") if r.properties.get("name") == "Report"
    ]
    assert [p["description"] for p in lines] == [text]
    again = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert again is not None
    assert again["DueDate"] == "2026-12-31"
    assert cut[0] in [ln.get("Description") for ln in again["Line"]]
    assert Decimal(str(again["TotalAmt"])) == Decimal(
        world.hs.props("invoices", invoice_id)["hs_amount_billed"]
    )
