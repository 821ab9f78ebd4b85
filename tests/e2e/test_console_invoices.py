"""Browser tests: creating invoices and watching them sync; a failing invoice, fixed and retried."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def test_create_and_finish_shows_synced_with_qbo_doc_number(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(
        page,
        contact="Ada",
        products=[("Consulting hour", "3"), ("Support plan", "1")],
        discount=("PERCENT", "10"),
        po_number="PO-E2E-1",
    )
    panel = page.locator("#panel")
    expect(page.locator(".flash.success")).to_contain_text("Invoice finished")
    expect(panel.locator(".line-items")).to_contain_text("Consulting hour")
    # 3 x 150.00 + 89.99 = 539.99, less 10% (54.00) = 485.99
    expect(panel.locator("[data-total]")).to_have_text("$485.99")

    ui.expect_sync_status(page, "Synced")
    doc_number = panel.locator("[data-qbo-number]")
    expect(doc_number).to_have_text(re.compile(r"^\S+$"))
    number = doc_number.inner_text()

    with stack.qbo_client() as qbo:
        rows = qbo.get(
            "/query", params={"query": f"select * from Invoice where DocNumber = '{number}'"}
        ).json()
    invoices = rows["QueryResponse"]["Invoice"]
    assert len(invoices) == 1
    assert invoices[0]["TotalAmt"] in (485.99, "485.99")

    # The index shows it too, with its QuickBooks number and status.
    page.goto("/invoices")
    row = page.locator(f"tr[data-invoice-id='{invoice_id}']")
    expect(row).to_contain_text("Synced")
    expect(row).to_contain_text(f"QBO {number}")
    # Opening it from the index brings up the right-hand panel without leaving the page.
    row.locator("a.invoice-number").click()
    expect(page.locator(f"#panel .invoice-panel[data-invoice-id='{invoice_id}']")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/invoices\?open={invoice_id}$"))
    expect(page.locator("#invoice-table")).to_be_visible()


def test_failing_invoice_banner_fix_and_retry(page: Page, ui: Any) -> None:
    # The user chose to fail invoices whose products QuickBooks does not know.
    page.goto("/settings/sync")
    page.select_option("#product-policy", "fail")
    page.click("#policies button[type=submit]")
    expect(page.locator(".flash.success")).to_contain_text("Sync rules saved")

    item = f"Bespoke widget {uuid.uuid4().hex[:6]}"
    invoice_id = ui.create_invoice(page, contact="Ben", custom_lines=[(item, "2", "125.00")])
    ui.expect_sync_status(page, "Failed")
    error = page.locator("#panel [data-sync-error]")
    expect(error).to_contain_text(f"Product not found in QuickBooks: '{item}'")
    expect(error).to_contain_text("Fix:")
    number = page.locator("#panel .invoice-title").inner_text().removeprefix("Invoice ")

    # The index warns about it and leads to the details.
    page.goto("/invoices")
    banner = page.locator("#failing-banner")
    expect(banner).to_contain_text(re.compile(r"\d+ invoices? failed to sync"))
    banner.get_by_role("link", name="Sync failure details").click()
    expect(page).to_have_url(re.compile(r"/settings/sync/failing$"))
    row = page.locator("#failing-table tbody tr", has_text=number)
    expect(row).to_contain_text("not found")
    expect(row).to_contain_text("Product not found in QuickBooks")
    expect(row).to_contain_text("change the 'product not found' policy")

    # Fix the cause: let the sync create missing items.
    page.goto("/settings/sync")
    page.select_option("#product-policy", "create_item")
    page.click("#policies button[type=submit]")
    expect(page.locator(".flash.success")).to_contain_text("Sync rules saved")

    page.goto("/settings/sync/failing")
    row = page.locator("#failing-table tbody tr", has_text=number)
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash.success")).to_contain_text("Retry requested")

    ui.open_invoice(page, invoice_id)
    ui.expect_sync_status(page, "Synced")
    expect(page.locator("#panel [data-qbo-number]")).to_be_visible()
    page.goto("/settings/sync/failing")
    expect(page.locator("#failing-table tbody tr", has_text=number)).to_have_count(0)
