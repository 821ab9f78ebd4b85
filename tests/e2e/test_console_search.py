"""Browser tests: the invoice search finds the obvious (company, contact email, QuickBooks
number), and the Overdue and Partially paid filters work; an unknown filter value says so."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def _search(page: Page, text: str) -> None:
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_load_state()


def test_search_by_qbo_number_company_and_email(page: Page, ui: Any) -> None:
    invoice_id = ui.create_invoice(page, contact="Ada", products=[("Support plan", "1")])
    ui.expect_sync_status(page, "Synced")
    qbo_number = page.locator("#panel [data-qbo-number]").inner_text().strip()
    number = page.locator("#panel .invoice-title").inner_text().removeprefix("Invoice ").strip()
    email = page.locator("#panel .assoc .faint").first.inner_text().strip()
    company = page.locator("#panel .assoc a[href^='/companies/']").inner_text().strip()
    assert qbo_number and email and company and qbo_number not in number

    row = f"#invoice-table tr[data-invoice-id='{invoice_id}']"
    for text in (qbo_number, company.split()[0], email, number):
        _search(page, text)
        expect(page.locator(row).first).to_be_visible()
    # The QuickBooks number matches exactly: the invoice whose own number merely contains it
    # is not what was asked for; every row found carries the number or the text.
    _search(page, qbo_number)
    for found in page.locator("#invoice-table tbody tr[data-invoice-id]").all():
        assert qbo_number in found.inner_text()


def test_overdue_and_partially_paid_filters(page: Page, stack: ConsoleStack) -> None:
    page.goto("/invoices?status=overdue&limit=100")
    rows = page.locator("tbody tr[data-invoice-id]")
    expect(rows.first).to_be_visible()
    for row in rows.all():
        assert (
            row.get_attribute("data-overdue") == "yes"
            or row.get_attribute("data-payment-status") == "partially_paid"
        ), row.inner_text()

    page.select_option("#status", "partially_paid")
    page.locator("#invoice-filters button[type=submit]").first.click()
    page.wait_for_url("**status=partially_paid**")
    partial = page.locator("tbody tr[data-invoice-id]")
    expect(partial.first).to_be_visible()
    for row in partial.all():
        assert row.get_attribute("data-payment-status") == "partially_paid"


def test_unknown_filter_value_is_an_error_not_ignored(page: Page) -> None:
    page.goto("/invoices?status=late&sync=sideways")
    errors = page.locator("ul.errors")
    expect(errors).to_contain_text("Status 'late' is not one of")
    expect(errors).to_contain_text("Sync status 'sideways' is not one of")
