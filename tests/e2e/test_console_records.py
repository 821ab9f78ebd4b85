"""Browser tests: a contact's page, its Invoices card, and PDFs downloaded from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def test_download_pdf_from_contact_invoices_card(page: Page, ui: Any, stack: ConsoleStack) -> None:
    synced_id = ui.create_invoice(page, contact="Farid", products=[("Hardware kit", "2")])
    ui.expect_sync_status(page, "Synced")
    qbo_number = page.locator("#panel [data-qbo-number]").inner_text()
    synced_number = page.locator("#panel .invoice-title").inner_text().removeprefix("Invoice ")
    expect(page.locator("#panel [data-qbo-title]")).to_have_text(f"QBO {qbo_number}")
    draft_id = ui.create_invoice(
        page, contact="Farid", products=[("API add-on", "1")], finish=False
    )
    draft_number = page.locator("#panel .invoice-title").inner_text().removeprefix("Invoice ")

    # From the invoice's associations to the contact's page.
    page.locator("#panel .assoc a[href^='/contacts/']").click()
    expect(page.locator("h1")).to_have_text("Farid Haddad")
    card = page.locator("#invoices-card")
    synced_row = card.locator(f"tr[data-invoice-id='{synced_id}']")
    draft_row = card.locator(f"tr[data-invoice-id='{draft_id}']")
    expect(synced_row).to_contain_text("Synced")
    expect(draft_row).to_contain_text("Draft")

    # A synced invoice downloads QuickBooks' own PDF ...
    with page.expect_download() as info:
        synced_row.locator("a.invoice-number").click()
    download = info.value
    # Named after the number the customer sees (HubSpot's), not QuickBooks' own number.
    assert download.suggested_filename == f"Invoice-{synced_number}.pdf"
    assert qbo_number != synced_number
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF")
    assert b"QuickBooks Online sandbox" in content  # the sandbox's creator tag

    # ... and a draft (never sent to QuickBooks) one rendered by the console.
    with page.expect_download() as info:
        draft_row.locator("a.invoice-number").click()
    download = info.value
    assert download.suggested_filename == f"Invoice-{draft_number}.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF")
    assert b"ledgerbridge" in content and b"QuickBooks" not in content


def test_company_page_lists_its_invoices(page: Page, ui: Any) -> None:
    invoice_id = ui.create_invoice(
        page, contact="Grace", products=[("Consulting hour", "1")], finish=False
    )
    page.locator("#panel .assoc a[href^='/contacts/']").click()
    page.locator(".related-list a[href^='/companies/']").first.click()
    expect(page.locator("h1")).to_have_text("Granite Legal")
    expect(page.locator(".related-list")).to_contain_text("Grace Hopper")
    expect(page.locator(f"#invoices-card tr[data-invoice-id='{invoice_id}']")).to_be_visible()
