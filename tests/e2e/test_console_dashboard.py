"""Browser tests: the dashboard is the landing page; its counts match the store, its charts are
drawn from the vendored Chart.js, and every chart has a table with the same numbers."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import SyncStatus


def test_dashboard_counts_charts_and_tables(page: Page, stack: ConsoleStack) -> None:
    page.goto("/")
    page.wait_for_url("**/dashboard")
    expect(page.locator("h1")).to_have_text("Dashboard")
    counts = stack.runtime.store.count_states(stack.connection_id)
    synced = counts.get(SyncStatus.SYNCED, 0)
    assert synced > 0
    card = page.locator("#status-counts [data-status=synced] [data-count]")
    expect(card).to_have_text(f"{synced:,}")
    for status in ("failed", "diverged", "pending"):
        expect(page.locator(f"#status-counts [data-status={status}]")).to_be_visible()

    for chart in ("lag24", "lag30", "failures", "synced"):
        expect(page.locator(f"canvas#{chart}[data-drawn='1']")).to_be_visible()
    # The table fallback: 24 hourly rows, 30 daily rows; today's synced invoices are counted.
    page.locator("[data-chart-table=lag24] summary").click()
    expect(page.locator("[data-chart-table=lag24] tbody tr")).to_have_count(24)
    page.locator("[data-chart-table=synced] summary").click()
    rows = page.locator("[data-chart-table=synced] tbody tr")
    expect(rows).to_have_count(30)
    today_invoices = int(rows.nth(29).locator("td").nth(1).inner_text())
    assert today_invoices > 0
    # The lag of the demo's first sync is measured (a number of seconds, not a dash).
    expect(page.locator("[data-lag]")).to_contain_text(" s")
    # The last reconcile as the store records it (the worker's schedule may have run one).
    last = stack.runtime.store.last_reconcile(stack.connection_id)
    cell = page.locator("#reconciles [data-reconciled]").first
    if last is None:
        expect(cell).to_have_text("never")
    else:
        expect(cell).to_contain_text(f"{last:%b} {last.day}, {last:%Y} {last:%H:%M}")
    # Nothing was loaded from anywhere but the console.
    scripts = page.locator("script[src]").evaluate_all("els => els.map(e => e.src)")
    assert all(src.startswith(stack.console_url) for src in scripts), scripts
