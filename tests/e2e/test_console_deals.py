"""Browser test: the Deals list. A deal made in HubSpot, an invoice made for it in the console
and partly paid in QuickBooks, and a draft for it: the list finds the deal by name, shows both
invoices linking to their panels, and totals invoiced, paid and outstanding from the finished
invoice only (a draft is not billed), equal to the amounts on both sides."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


def _make_deal(stack: ConsoleStack, contact_name: str, deal_name: str) -> str:
    """The deal a sales rep makes in HubSpot, associated with the contact."""
    with stack.hubspot_client() as hs:
        found = hs.post(
            "/crm/v3/objects/contacts/search",
            json={"query": contact_name, "properties": ["firstname"], "limit": 1},
        )
        contact_id = found.json()["results"][0]["id"]
        created = hs.post(
            "/crm/v3/objects/deals",
            json={
                "properties": {"dealname": deal_name, "dealstage": "closedwon", "amount": "900"},
                "associations": [
                    {
                        "to": {"id": contact_id},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
                        ],
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def _invoice_for_deal(page: Page, deal_id: str, qty: str, action: str) -> str:
    page.goto("/invoices/new")
    page.fill("#contact-search", "Nils")
    page.locator("#contact-results button", has_text="Nils").first.click()
    expect(page.locator(f"#deal-id option[value='{deal_id}']")).to_have_count(1)
    page.select_option("#deal-id", deal_id)
    row = page.locator("#lines tbody tr").first
    labels = row.locator("select.line-product option").all_text_contents()
    row.locator("select.line-product").select_option(
        label=next(t for t in labels if t.startswith("Consulting hour"))
    )
    row.locator("input[name=line_qty]").fill(qty)
    page.click(f"button[name=action][value={action}]")
    page.wait_for_url("**/invoices?open=*")
    return page.url.rsplit("open=", 1)[1].split("&")[0]


def _money(text: str) -> Decimal:
    return Decimal(text.strip().replace("$", "").replace(",", ""))


def test_deals_list_shows_invoices_and_totals(page: Page, ui: Any, stack: ConsoleStack) -> None:
    deal_name = f"Larsen rollout {uuid.uuid4().hex[:6]}"
    deal_id = _make_deal(stack, "Nils", deal_name)
    billed = _invoice_for_deal(page, deal_id, "3", "finish")
    ui.expect_sync_status(page, "Synced")
    draft = _invoice_for_deal(page, deal_id, "1", "draft")
    page.goto(f"/invoices/{billed}")
    total = _money(page.locator("[data-total]").inner_text())

    # The customer pays 100.00 in QuickBooks.
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, billed)
    assert link is not None and link.qbo_id
    with stack.qbo_client() as qbo:
        qbo_invoice = qbo.get(f"/invoice/{link.qbo_id}").json()["Invoice"]
        created = qbo.post(
            "/payment",
            json={
                "CustomerRef": qbo_invoice["CustomerRef"],
                "TotalAmt": 100.00,
                "TxnDate": dt.date.today().isoformat(),
                "Line": [
                    {"Amount": 100.00, "LinkedTxn": [{"TxnId": link.qbo_id, "TxnType": "Invoice"}]}
                ],
            },
        )
        assert created.status_code == 200, created.text
    ui.reload_until(page, ".invoice-panel details.payment")

    page.goto("/invoices")
    page.click("nav.topnav a[href='/deals']")
    expect(page.locator("h1")).to_have_text("Deals")
    page.fill("#q", deal_name)
    page.click("#deal-search button[type=submit]")
    row = page.locator(f"#deals tr[data-deal-id='{deal_id}']")
    expect(row.locator("[data-deal-name]")).to_have_text(deal_name)
    expect(row).to_contain_text("Closed won")
    expect(row.locator(f"[data-invoice-id='{billed}']")).to_be_visible()
    expect(row.locator(f"[data-invoice-id='{draft}']")).to_be_visible()
    assert _money(row.locator("[data-invoiced]").inner_text()) == total
    assert _money(row.locator("[data-paid]").inner_text()) == Decimal("100.00")
    assert _money(row.locator("[data-outstanding]").inner_text()) == total - Decimal("100.00")

    # Both books agree on what the list shows.
    with stack.qbo_client() as qbo:
        qbo_invoice = qbo.get(f"/invoice/{link.qbo_id}").json()["Invoice"]
    assert Decimal(str(qbo_invoice["TotalAmt"])) == total
    assert Decimal(str(qbo_invoice["Balance"])) == total - Decimal("100.00")

    row.locator(f"[data-invoice-id='{billed}'] a").click()
    expect(page.locator(f"#panel .invoice-panel[data-invoice-id='{billed}']")).to_be_visible()
