"""Browser tests: an invoice's History timeline in the panel, and the Activity page with its
filters and CSV export."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def test_history_shows_who_created_it_each_sync_step_and_hubspot_changes(
    page: Page, ui: Any
) -> None:
    invoice_id = ui.create_invoice(page, contact="Hiro", products=[("Training seat", "2")])
    ui.expect_sync_status(page, "Synced")
    qbo_number = page.locator("#panel [data-qbo-number]").inner_text().strip()
    page.reload()
    timeline = page.locator("#panel #history .timeline")
    expect(timeline).to_be_visible()
    console_items = timeline.locator("[data-kind=console]")
    expect(console_items.first).to_contain_text("Created an invoice")
    expect(console_items.first).to_contain_text("by admin")
    expect(timeline.locator("[data-kind=sync][data-outcome=synced]").first).to_contain_text(
        f"Synced to QuickBooks as {qbo_number}"
    )
    expect(timeline.locator("[data-kind=change]").first).to_be_visible()
    # Who clicked what: a retry appears with its user.
    page.goto(f"/invoices/{invoice_id}")
    page.locator("form[action$='/retry'] button").first.click()
    page.goto(f"/invoices/{invoice_id}")
    expect(page.locator("#history [data-kind=console]").first).to_contain_text("Retried the sync")


def test_activity_page_filters_and_exports_csv(page: Page, ui: Any, stack: ConsoleStack) -> None:
    invoice_id = ui.create_invoice(page, contact="Ines", products=[("API add-on", "1")])
    ui.expect_sync_status(page, "Synced")
    page.click("nav.topnav a[href='/activity']")
    expect(page.locator("h1")).to_have_text("Activity")
    expect(page.locator("#activity tbody tr").first).to_be_visible()
    page.select_option("#kind", "console")
    page.select_option("#who", "admin")
    page.click("#activity-filters button[type=submit]")
    rows = page.locator("#activity tbody tr")
    expect(rows.first).to_be_visible()
    for row in rows.all()[:20]:
        assert row.get_attribute("data-kind") == "console"
    created = page.locator("#activity tbody tr", has_text="Created an invoice").first
    expect(created.locator(f"a[href='/invoices?open={invoice_id}']")).to_be_visible()

    page.select_option("#kind", "sync")
    page.select_option("#who", "")
    page.fill("#record", invoice_id)
    page.click("#activity-filters button[type=submit]")
    expect(page.locator("#activity tbody tr[data-outcome=synced]").first).to_be_visible()

    with page.expect_download() as info:
        page.click("#activity-export")
    text = Path(info.value.path()).read_text()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:4] == ["When (UTC)", "Kind", "Who", "What"]
    assert any(r[1] == "Sync step" and invoice_id in r[4] for r in table[1:])

    page.goto("/activity?kind=gossip")
    expect(page.locator("ul.errors")).to_contain_text("Kind 'gossip' is not one of")


def test_attempts_count_all_tries_after_a_retry(page: Page, ui: Any, stack: ConsoleStack) -> None:
    """A retry starts a fresh attempt budget; the panel says so instead of counting down."""
    from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy, SyncSettings

    stack.set_sync_settings(SyncSettings(product_not_found=ProductNotFoundPolicy.FAIL))
    invoice_id = ui.create_invoice(
        page, contact="Olga", custom_lines=[("Hand engraving", "1", "40.00")]
    )
    ui.expect_sync_status(page, "Failed")
    page.goto(f"/invoices/{invoice_id}")
    failed = page.locator("#history [data-kind=sync][data-outcome=failed]")
    before = failed.count()
    assert before >= 1
    page.locator("form[action$='/retry'] button").first.click()
    pattern = re.compile(r"(\d+) since the last retry \((\d+) in all\)")
    match = None
    for _ in range(60):
        page.goto(f"/invoices/{invoice_id}")
        attempts = page.locator("[data-attempts]")
        match = pattern.search(attempts.inner_text()) if attempts.count() else None
        if match and int(match.group(2)) > before:
            break
        page.wait_for_timeout(500)
    assert match, "the panel counts the attempts since the retry and in all"
    since, in_all = int(match.group(1)), int(match.group(2))
    assert in_all > before and since < in_all
    assert failed.count() == in_all  # the History lists every failed try
