"""Browser tests: the invoice panel links the invoice's deal, and an accountant associates an
invoice created in QuickBooks with a deal by hand: the association is made in HubSpot, audited,
and the deal's roll-ups then count the invoice (compared with QuickBooks' own total). A viewer
cannot do it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


def _quickbooks_invoice_for_a_contact_with_a_deal(stack: ConsoleStack) -> dict[str, str]:
    """A HubSpot contact with an open deal, and an invoice for that contact made in QuickBooks."""
    tag = uuid.uuid4().hex[:6]
    email = f"dana-{tag}@harbor.example"
    with stack.hubspot_client() as hs:
        contact = hs.post(
            "/crm/v3/objects/contacts",
            json={"properties": {"email": email, "firstname": "Dana", "lastname": "Harbor"}},
        ).json()["id"]
        deal = hs.post(
            "/crm/v3/objects/deals",
            json={"properties": {"dealname": f"Harbor refit {tag}", "dealstage": "contractsent"}},
        ).json()["id"]
        linked = hs.put(f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}")
        assert linked.status_code < 300, linked.text
    with stack.qbo_client() as qbo:
        customer = qbo.post(
            "/customer",
            json={"DisplayName": f"Harbor Marine {tag}", "PrimaryEmailAddr": {"Address": email}},
        ).json()["Customer"]["Id"]
        item = qbo.post(
            "/query",
            content="select * from Item where Type = 'Service'",
            headers={"Content-Type": "application/text"},
        ).json()["QueryResponse"]["Item"][0]["Id"]
        invoice = qbo.post(
            "/invoice",
            json={
                "CustomerRef": {"value": customer},
                "BillEmail": {"Address": email},
                "TxnDate": dt.date.today().isoformat(),
                "Line": [
                    {
                        "Amount": 1875.50,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item},
                            "Qty": 1,
                            "UnitPrice": 1875.50,
                        },
                    }
                ],
            },
        )
        assert invoice.status_code == 200, invoice.text
    return {
        "deal": deal,
        "name": f"Harbor refit {tag}",
        "contact": contact,
        "qbo_invoice": invoice.json()["Invoice"]["Id"],
    }


def _hubspot_invoice_of(stack: ConsoleStack, qbo_invoice: str) -> str:
    stack.wait_idle()
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.QUICKBOOKS, qbo_invoice)
    assert link is not None and link.hubspot_id, "the QuickBooks invoice did not reach HubSpot"
    return link.hubspot_id


def _deal(stack: ConsoleStack, deal_id: str) -> dict[str, Any]:
    with stack.hubspot_client() as hs:
        return dict(
            hs.get(
                f"/crm/v3/objects/deals/{deal_id}",
                params=[
                    ("properties", p)
                    for p in (
                        "ledgerbridge_invoice_count",
                        "ledgerbridge_total_invoiced",
                        "ledgerbridge_total_outstanding",
                        "ledgerbridge_invoice_currency",
                    )
                ],
            ).json()["properties"]
        )


def test_accountant_associates_a_quickbooks_invoice_with_a_deal(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    made = _quickbooks_invoice_for_a_contact_with_a_deal(stack)
    invoice_id = _hubspot_invoice_of(stack, made["qbo_invoice"])
    ui.open_invoice(page, invoice_id)
    panel = page.locator("#panel")
    expect(panel.locator("[data-deal]")).to_contain_text("None")

    # The contact's deal is offered; the admin (an accountant can too) associates it.
    form = panel.locator("[data-deal-form]")
    expect(form.locator("select[name=deal_id] option")).to_have_count(1)
    expect(form.locator("select[name=deal_id]")).to_have_value(made["deal"])
    form.get_by_role("button", name="Associate").click()
    expect(page.locator(".flash")).to_contain_text("now belongs to the deal Harbor refit")
    expect(page.locator(".flash")).to_contain_text("totals are updated")

    # The panel links the deal; the form is gone (HubSpot keeps one deal per invoice).
    link = page.locator("#panel [data-deal-link]")
    expect(link).to_have_attribute("href", f"/deals/{made['deal']}")
    expect(page.locator("#panel [data-deal-form]")).to_have_count(0)

    # HubSpot has the association, and the deal's roll-ups count the invoice at the amount
    # QuickBooks holds.
    with stack.hubspot_client() as hs:
        assoc = hs.get(f"/crm/v4/objects/invoices/{invoice_id}/associations/deals").json()
        billed = hs.get(
            f"/crm/v3/objects/invoices/{invoice_id}", params={"properties": "hs_amount_billed"}
        ).json()["properties"]["hs_amount_billed"]
    assert [str(r["toObjectId"]) for r in assoc["results"]] == [made["deal"]]
    with stack.qbo_client() as qbo:
        qbo_total = qbo.get(f"/invoice/{made['qbo_invoice']}").json()["Invoice"]["TotalAmt"]
    deal = _deal(stack, made["deal"])
    assert deal["ledgerbridge_invoice_count"] == "1"
    assert (
        Decimal(deal["ledgerbridge_total_invoiced"])
        == Decimal(billed)
        == Decimal(str(qbo_total))
        == Decimal("1875.50")
    )
    assert Decimal(deal["ledgerbridge_total_outstanding"]) == Decimal("1875.50")

    # Audited: on the invoice's history, and in the activity log with who did it.
    audit = stack.runtime.store.list_audit(stack.connection_id, INVOICE, invoice_id)
    assert [(a.field_name, a.new) for a in audit if a.field_name == "deal"] == [
        ("deal", f"{made['name']} ({made['deal']})")
    ]
    events = stack.runtime.store.list_events(
        username="admin", action="Associated the invoice with a deal"
    )
    assert events and events[0].outcome == "done"

    # The deal's page lists the invoice with the roll-ups.
    link.click()
    expect(page.locator("h1")).to_contain_text("Harbor refit")
    expect(page.locator(f"#invoices-card tr[data-invoice-id='{invoice_id}']")).to_be_visible()
    expect(page.locator(".props")).to_contain_text("1875.50")


def test_a_viewer_cannot_associate_a_deal(
    page: Page, browser: Any, ui: Any, stack: ConsoleStack
) -> None:
    made = _quickbooks_invoice_for_a_contact_with_a_deal(stack)
    invoice_id = _hubspot_invoice_of(stack, made["qbo_invoice"])
    username = f"viv-{uuid.uuid4().hex[:4]}"
    stack.runtime.store.create_user(username, "viewer-password-1", role="viewer")
    context = browser.new_context(base_url=stack.console_url)
    try:
        tab = context.new_page()
        tab.goto("/login")
        tab.fill("#username", username)
        tab.fill("#password", "viewer-password-1")
        tab.click("button[type=submit]")
        expect(tab.locator("[data-user-role]")).to_have_text("viewer")
        tab.goto(f"/invoices?open={invoice_id}")
        expect(tab.locator("#panel [data-deal]")).to_contain_text("None")
        expect(tab.locator("#panel [data-deal-form]")).to_have_count(0)
        answer = tab.request.post(
            f"/invoices/{invoice_id}/deal",
            form={"deal_id": made["deal"]},
            headers={"X-CSRF-Token": tab.locator("body").get_attribute("data-csrf") or ""},
        )
        assert answer.status == 403 and "Your role is viewer" in answer.text()
    finally:
        context.close()
    with stack.hubspot_client() as hs:
        assoc = hs.get(f"/crm/v4/objects/invoices/{invoice_id}/associations/deals").json()
    assert assoc["results"] == []
    assert _deal(stack, made["deal"]).get("ledgerbridge_invoice_count") in (None, "", "0")
