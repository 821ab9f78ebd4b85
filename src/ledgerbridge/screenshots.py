"""Screenshots of the console's main pages, for the README.

    python -m ledgerbridge.screenshots [--out docs/screenshots]

Starts the whole product in this process (both sandboxes with demo data, the worker, the
console) on free local ports, drives Debian's headless Chromium through the pages with
Playwright, and writes one PNG per page.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from ledgerbridge.console_stack import ConsoleStack, console_stack
from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy, SyncSettings

CHROMIUM = os.environ.get("LEDGERBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}


def take_screenshots(browser: Any, stack: ConsoleStack, out: Path) -> list[Path]:
    """Log in and capture the main pages; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=stack.console_url, viewport=VIEWPORT)
    page = context.new_page()
    written: list[Path] = []

    def shot(name: str, *, full_page: bool = False) -> None:
        page.wait_for_load_state("load")
        if full_page:
            # A sticky header is drawn where the page is scrolled to: start from the top.
            page.evaluate(
                "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)"
            )
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        written.append(path)

    try:
        page.goto("/login")
        page.fill("#username", "admin")
        shot("login")
        page.fill("#password", stack.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
        page.wait_for_selector("canvas#synced[data-drawn='1']")
        shot("dashboard", full_page=True)

        # An invoice with a product QuickBooks does not know, while the policy says "fail":
        # the form, then the failure as the user sees it.
        stack.set_sync_settings(SyncSettings(product_not_found=ProductNotFoundPolicy.FAIL))
        _fill_invoice_form(page)
        shot("create-invoice", full_page=True)
        page.click("button[name=action][value=finish]")
        page.wait_for_selector("#panel [data-sync-status=failed]", timeout=30_000)
        shot("invoice-failed")
        page.goto("/invoices")
        shot("invoices")
        page.goto("/settings/sync/failing")
        shot("failing-to-sync")
        stack.set_sync_settings(SyncSettings())

        # A synced invoice with a payment from QuickBooks, in the right-hand panel.
        page.goto("/invoices?source=quickbooks&status=open")
        page.locator("#invoice-table tbody tr", has_text="Partially paid").first.locator(
            "a.invoice-number"
        ).click()
        page.wait_for_selector("#panel .invoice-panel")
        shot("invoice-panel")
        page.locator("#panel details.payment").first.locator("summary").click()
        page.locator("#panel #payments").scroll_into_view_if_needed()
        shot("invoice-payment")
        page.locator("#panel #history").scroll_into_view_if_needed()
        shot("invoice-history")

        page.goto("/users")
        page.click("#invite-form button[type=submit]")
        page.wait_for_selector("#invite-link")
        shot("users")
        page.goto("/activity")
        shot("activity")
        page.goto("/companies")
        shot("companies")
        _demo_deals(stack)
        page.goto("/deals")
        shot("deals")

        page.goto("/settings/sync")
        shot("sync-settings", full_page=True)
        page.goto("/settings/properties")
        shot("invoice-properties")

        page.goto("/invoices?q=INV-1001")
        page.locator("#invoice-table a.invoice-number").first.click()
        page.locator("#panel .assoc a[href^='/contacts/']").click()
        page.wait_for_selector("#invoices-card")
        shot("contact")

        page.goto("/reports/payments?from=2026-08-01&to=2026-11-30")
        shot("payments-report")
    finally:
        context.close()
    return written


def _demo_deals(stack: ConsoleStack) -> None:
    """Two deals, as a sales rep makes them in HubSpot, each with some of a company's invoices
    (the demo portal has none)."""
    with stack.hubspot_client() as hs:
        for company, name in (
            ("Birch", "Birch & Co annual retainer"),
            ("Pioneer", "Pioneer Farms"),
        ):
            found = hs.post(
                "/crm/v3/objects/invoices/search",
                json={"query": company, "properties": ["hs_number"], "limit": 3},
            )
            found.raise_for_status()
            to = [
                {
                    "to": {"id": r["id"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 176}],
                }
                for r in found.json().get("results") or []
            ]
            hs.post(
                "/crm/v3/objects/deals",
                json={
                    "properties": {"dealname": name, "dealstage": "closedwon"},
                    "associations": to,
                },
            ).raise_for_status()


def _fill_invoice_form(page: Any) -> None:
    page.goto("/invoices/new")
    page.fill("#contact-search", "Ada")
    page.locator("#contact-results button", has_text="Ada").first.click()
    row = page.locator("#lines tbody tr").first
    labels = row.locator("select.line-product option").all_text_contents()
    row.locator("select.line-product").select_option(
        label=next(t for t in labels if t.startswith("Consulting"))
    )
    row.locator("input[name=line_qty]").fill("12")
    page.click("#add-line")
    row = page.locator("#lines tbody tr").nth(1)
    row.locator("input[name=line_name]").fill("Custom engraving")
    row.locator("input[name=line_price]").fill("85.00")
    row.locator("input[name=line_qty]").fill("3")
    page.select_option("#discount-type", "PERCENT")
    page.fill("#discount-value", "10")
    page.click("#add-adjustment")
    adjustment = page.locator("#adjustments tbody tr").first
    adjustment.locator("select[name=adj_kind]").select_option("tax")
    adjustment.locator("input[name=adj_label]").fill("Sales tax")
    adjustment.locator("select[name=adj_type]").select_option("PERCENT")
    adjustment.locator("input[name=adj_value]").fill("8.25")
    page.fill("#po-number", "PO-2291")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("docs/screenshots"), help="Where to write the PNG files."
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as data_dir,
        console_stack(Path(data_dir)) as stack,
        sync_playwright() as playwright,
    ):
        stack.wait_idle()
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for path in take_screenshots(browser, stack, args.out):
                print(path)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
