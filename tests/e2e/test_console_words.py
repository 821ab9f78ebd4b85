"""Browser tests: warnings before saving a probable mistake, both numbers of an invoice, the
DocNumber choice explained, and people's words instead of raw codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import Page, expect


def _fill_basic(page: Page, contact: str = "Kemi") -> None:
    page.goto("/invoices/new")
    page.fill("#contact-search", contact)
    page.locator("#contact-results button", has_text=contact).first.click()
    expect(page.locator("#contact-chip")).to_be_visible()
    row = page.locator("#lines tbody tr").nth(0)
    row.locator("input[name=line_name]").fill("Workshop")
    row.locator("input[name=line_price]").fill("1215.00")
    row.locator("input[name=line_qty]").fill("1")


def test_a_full_discount_and_a_past_due_date_ask_for_confirmation(page: Page) -> None:
    _fill_basic(page)
    page.select_option("#discount-type", "PERCENT")
    page.fill("#discount-value", "100")
    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    page.fill("input[name=due_date]", past)
    page.fill("input[name=invoice_date]", (dt.date.today() - dt.timedelta(days=10)).isoformat())
    page.click("button[name=action][value=draft]")
    warnings = page.locator("#form-warnings")
    expect(warnings).to_contain_text("The discount is 100 % of the subtotal")
    expect(warnings).to_contain_text("The invoice total is zero")
    expect(warnings).to_contain_text(f"The due date ({past}) is in the past")
    assert "/invoices/new" in page.url  # nothing was saved
    # The form kept what was typed; confirming saves it.
    page.check("#confirm-warnings")
    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/invoices?open=*")


def test_a_modest_discount_saves_without_a_question(page: Page) -> None:
    _fill_basic(page, contact="Liam")
    page.select_option("#discount-type", "PERCENT")
    page.fill("#discount-value", "10")
    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/invoices?open=*")


def test_both_numbers_source_words_and_doc_number_meaning(page: Page, ui: Any) -> None:
    ui.create_invoice(page, contact="Maya", products=[("Support plan", "1")])
    ui.expect_sync_status(page, "Synced")
    qbo_number = page.locator("#panel [data-qbo-number]").inner_text().strip()
    expect(page.locator("#panel [data-qbo-title]")).to_have_text(f"QBO {qbo_number}")
    props = page.locator("#panel dl.props").last  # the Properties card
    expect(props).to_contain_text("Created through the HubSpot API")
    assert "API\n" not in props.inner_text() and not props.inner_text().rstrip().endswith("API")
    # QuickBooks-made invoices are named in words, not "data_sync".
    page.goto("/invoices?source=quickbooks")
    page.locator("#invoice-table a.invoice-number").first.click()
    expect(page.locator("#panel dl.props").last).to_contain_text("Brought in from QuickBooks")
    expect(page.locator("#panel")).not_to_contain_text("data_sync")

    page.goto("/settings/sync")
    current = page.locator("#doc-number-current")
    expect(current).to_contain_text("In use now:")
    expect(current).to_contain_text("two numbers")


def test_payments_report_names_customers_and_source_filter_reads_whole(page: Page) -> None:
    page.goto("/reports/payments?from=2026-01-01&to=2026-12-31")
    customers = page.locator("#report-payments tbody tr td:nth-child(3)").all_inner_texts()
    assert customers, "the demo data has payments"
    named = [c for c in customers if c.strip() and "@" not in c]
    assert named, customers  # a company name, not only emails
    page.goto("/invoices")
    options = page.locator("#source option").evaluate_all(
        "els => els.map(e => e.textContent.trim())"
    )
    assert options == ["Any source", "Created in HubSpot", "From QuickBooks"]
