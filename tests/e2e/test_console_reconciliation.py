"""Browser tests: the Reconciliation page (Run now, figures, findings with both values, CSV) and
a diverged invoice's panel (both values side by side, "Use HubSpot's")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


def _qbo_id(stack: ConsoleStack, hubspot_id: str) -> str:
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, hubspot_id)
    assert link is not None and link.qbo_id
    return link.qbo_id


def _silent_qbo_edit(stack: ConsoleStack, qbo_id: str, **fields: str) -> None:
    """A change in QuickBooks that no webhook and no change feed reports (same SyncToken)."""
    sandbox = stack.quickbooks.state.sandbox

    def change(record: dict[str, Any]) -> None:
        record.update(fields)

    sandbox.update_raw(stack.realm_id, "Invoice", qbo_id, change)


def _qbo_due_date(stack: ConsoleStack, qbo_id: str) -> str:
    record = stack.quickbooks.state.sandbox.get_entity(stack.realm_id, "Invoice", qbo_id)
    return str(record["DueDate"])


def test_reconciliation_page_runs_and_shows_both_values(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(page, contact="Ada", products=[("Consulting hour", "3")])
    ui.expect_sync_status(page, "Synced")
    qbo_id = _qbo_id(stack, invoice_id)
    hubspot_due = _qbo_due_date(stack, qbo_id)
    _silent_qbo_edit(stack, qbo_id, DueDate="2031-01-15")

    # Reconciliation, reached from the main navigation; run without repairs.
    page.locator("nav.topnav a", has_text="Reconciliation").click()
    expect(page.locator("h1")).to_have_text("Reconciliation")
    page.uncheck("#repair")
    page.locator("#run-now button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Reconciliation done")
    row = page.locator(
        "#findings-table tr[data-outcome='diverged'][data-field='due_date']",
        has=page.locator(f"a[data-link='hubspot'][href='/invoices/{invoice_id}']"),
    )
    expect(row).to_be_visible()
    expect(row.locator("[data-side='hubspot']")).to_have_text(hubspot_due)
    expect(row.locator("[data-side='quickbooks']")).to_have_text("2031-01-15")
    expect(row.locator("td").nth(2)).to_have_text("Due date")  # in words, not "due_date"
    expect(row.locator("a[data-link='quickbooks']")).to_have_text(f"QuickBooks {qbo_id}")
    latest = page.locator("#runs-table tbody tr").first
    expect(latest.locator("[data-figure='diverged']")).not_to_have_text("0")

    # The CSV holds the same finding.
    with page.expect_download() as info:
        page.click("#export-csv")
    csv_text = Path(info.value.path()).read_text()
    assert f"diverged,invoice,{invoice_id},{qbo_id},due_date,{hubspot_due},2031-01-15" in csv_text


def test_run_now_repairs_what_the_matrix_allows(page: Page, ui: Any, stack: ConsoleStack) -> None:
    invoice_id = ui.create_invoice(page, contact="Grace", products=[("API add-on", "2")])
    ui.expect_sync_status(page, "Synced")
    qbo_id = _qbo_id(stack, invoice_id)
    hubspot_due = _qbo_due_date(stack, qbo_id)
    _silent_qbo_edit(stack, qbo_id, DueDate="2032-02-20")

    page.goto("/reconciliation")
    page.locator("#run-now button[type=submit]").click()  # repair is on by default
    expect(page.locator(".flash")).to_contain_text("Reconciliation done")
    row = page.locator(
        "#findings-table tr[data-outcome='repaired'][data-field='due_date']",
        has=page.locator(f"a[href='/invoices/{invoice_id}']"),
    )
    expect(row).to_be_visible()
    expect(row.locator("[data-side='quickbooks']")).to_have_text("2032-02-20")
    assert _qbo_due_date(stack, qbo_id) == hubspot_due


def test_diverged_invoice_shows_everywhere_and_the_panel_resolves_it(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(page, contact="Ada", products=[("Support plan", "1")])
    ui.expect_sync_status(page, "Synced")
    qbo_id = _qbo_id(stack, invoice_id)
    hubspot_due = _qbo_due_date(stack, qbo_id)
    _silent_qbo_edit(stack, qbo_id, DueDate="2031-03-10")
    page.goto("/reconciliation")
    page.uncheck("#repair")
    page.locator("#run-now button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Reconciliation done")

    # Shown where failures show: the index banner and the Out of sync tab.
    page.goto("/invoices")
    expect(page.locator("#diverged-banner")).to_be_visible()
    page.locator("#diverged-banner a").click()
    expect(page.locator("#out-of-sync-table")).to_contain_text("2031-03-10")

    # The panel: both values side by side, and the choice.
    ui.open_invoice(page, invoice_id)
    ui.expect_sync_status(page, "Out of sync")
    diff = page.locator("#panel [data-differences] tr[data-field='due_date']")
    expect(diff.locator("[data-side='hubspot']")).to_have_text(hubspot_due)
    expect(diff.locator("[data-side='quickbooks']")).to_have_text("2031-03-10")
    diff.locator("button[value='hubspot']").click()
    expect(page.locator(".flash")).to_contain_text("HubSpot's value is now on both sides")
    ui.expect_sync_status(page, "Synced")
    assert _qbo_due_date(stack, qbo_id) == hubspot_due
