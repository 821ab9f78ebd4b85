"""Browser test: the index row and the invoice panel name the same party, the company with its
contact beside it, also for an invoice made for a contact without choosing a company."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect


def test_index_and_panel_name_the_company_with_the_contact(page: Page, ui: Any) -> None:
    # Made for Nils with no company picked: his contact record names the company he works for.
    invoice_id = ui.create_invoice(page, contact="Nils", products=[("Consulting hour", "1")])
    ui.expect_sync_status(page, "Synced")
    row = page.locator(f"#invoice-table tr[data-invoice-id='{invoice_id}']")
    panel = page.locator("#panel .invoice-panel [data-party]")
    expect(row.locator("[data-party-contact]")).to_have_text("Nils Larsen")
    company = row.locator("[data-party-company]").inner_text().strip()
    assert company and company != "Nils Larsen"
    expect(panel.locator("[data-party-company]")).to_have_text(company)
    expect(panel.locator("[data-party-contact]")).to_have_text("Nils Larsen")

    # A demo invoice associated with its company: the same two names in both places too.
    page.goto("/invoices?q=Birch")
    first = page.locator("#invoice-table tbody tr").first
    expect(first.locator("[data-party-company]")).to_have_text("Birch & Co")
    contact = first.locator("[data-party-contact]").inner_text().strip()
    assert contact
    first.locator("a.invoice-number").click()
    expect(page.locator("#panel [data-party-company]")).to_have_text("Birch & Co")
    expect(page.locator("#panel [data-party-contact]")).to_have_text(contact)
