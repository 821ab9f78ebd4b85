"""Browser tests: an invoice's History timeline in the panel, and the Activity page with its
filters and CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.web.stack import ConsoleStack


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
