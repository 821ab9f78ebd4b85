"""Browser tests: the Contacts and Companies lists (search, invoice counts, outstanding
balance), and a company page listing every invoice of its contacts, QuickBooks-made ones too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def test_contacts_and_companies_lists(page: Page, ui: Any) -> None:
    ui.create_invoice(page, contact="Nils", products=[("Consulting hour", "2")])
    ui.expect_sync_status(page, "Synced")
    page.click("nav.topnav a[href='/contacts']")
    expect(page.locator("h1")).to_have_text("Contacts")
    page.fill("#q", "Nils")
    page.click("#directory-search button[type=submit]")
    row = page.locator("#directory tbody tr", has_text="Nils Larsen")
    expect(row).to_be_visible()
    assert int(row.locator("[data-invoices]").inner_text()) >= 1
    outstanding = row.locator("[data-outstanding]").inner_text()
    assert "$" in outstanding and Decimal(
        outstanding.split("$")[1].split()[0].replace(",", "")
    ) >= Decimal("300")
    row.locator("a").click()
    expect(page.locator("h1")).to_have_text("Nils Larsen")

    page.goto("/companies?q=Birch")
    company = page.locator("#directory tbody tr", has_text="Birch & Co")
    expect(company).to_be_visible()
    company.locator("a").click()
    expect(page.locator("h1")).to_have_text("Birch & Co")


def test_company_page_shows_quickbooks_made_invoices(page: Page, stack: ConsoleStack) -> None:
    """Every invoice of a company's contacts is on its page, including those created in
    QuickBooks, and the sync now associates those with the contact's company as well."""
    # A demo company's QuickBooks-made invoice (other tests of the session add QuickBooks
    # invoices for contacts that have no company).
    page.goto("/invoices?source=quickbooks&q=Pioneer&limit=100")
    first = page.locator("#invoice-table a.invoice-number").first
    invoice_id = page.locator("#invoice-table tbody tr").first.get_attribute("data-invoice-id")
    first.click()
    company_link = page.locator("#panel .assoc a[href^='/companies/']")
    expect(company_link).to_be_visible()
    company_link.click()
    expect(page.locator(f"#invoices-card tr[data-invoice-id='{invoice_id}']")).to_be_visible()
