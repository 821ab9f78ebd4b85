"""Browser fixtures for the console tests: the whole stack on real sockets (both sandboxes with
demo data, the console, webhooks and the worker), and Debian's headless Chromium driven by
Playwright.

- `console_stack` (session): the running stack (`ledgerbridge.console_stack.ConsoleStack`).
- `browser` (module): Chromium at /usr/bin/chromium.
- `demo_stack` (module), `hs`, `qbo`: for the sync tests over the REST APIs (test_drift.py,
  test_sync_story.py), `ledgerbridge demo`'s stack with an empty portal and company, polling
  once a minute (so quick convergence comes from the signed webhooks), and a REST client for
  each sandbox.
- `page`: a fresh browser context, logged in as admin (through the login form, once per module),
  on the invoice index. The connection's sync settings go back to the defaults after each test.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from stack import DemoStack, HubSpotRest, QboRest

from ledgerbridge.console_stack import ConsoleStack, console_stack
from ledgerbridge.engine.fieldmap import SyncSettings

CHROMIUM = os.environ.get("LEDGERBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Long enough for a sync round trip on a slow CI machine; expectations return as soon as met.
SYNC_TIMEOUT_MS = 30_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "test_console_" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with console_stack(tmp_path_factory.mktemp("console")) as running:
        running.wait_idle()  # the demo data's first sync: tests start from a settled state
        yield running


@pytest.fixture(scope="module")
def demo_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoStack]:
    name = request.module.__name__.rsplit(".", 1)[-1]
    running = DemoStack(tmp_path_factory.mktemp(name), seed="empty", poll_interval=60.0).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hs(demo_stack: DemoStack) -> HubSpotRest:
    return demo_stack.hubspot()


@pytest.fixture(scope="module")
def qbo(demo_stack: DemoStack) -> QboRest:
    return demo_stack.qbo()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an event loop running in this thread while it is
    open, which async tests in other modules (pytest-asyncio) cannot share."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM} (`make browser` installs Debian's chromium)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def login_state(browser: Any, stack: ConsoleStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Log in once through the login form; each test's context starts from these cookies."""
    context = browser.new_context(base_url=stack.console_url)
    tab = context.new_page()
    tab.goto("/invoices")
    tab.fill("#username", "admin")
    tab.fill("#password", stack.password)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/invoices")
    path = str(tmp_path_factory.mktemp("login") / "state.json")
    context.storage_state(path=path)
    context.close()
    return path


@pytest.fixture
def page(browser: Any, stack: ConsoleStack, login_state: str) -> Iterator[Any]:
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=stack.console_url,
        viewport={"width": 1440, "height": 900},
        accept_downloads=True,
        storage_state=login_state,
    )
    context.set_default_timeout(15_000)
    expect.set_options(timeout=SYNC_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto("/invoices")
    try:
        yield tab
    finally:
        context.close()
        stack.set_sync_settings(SyncSettings())
    assert not errors, f"JavaScript errors on the page: {errors}"


class ConsoleUI:
    """What a user does often, done the way a user does it: through the pages."""

    def __init__(self, stack: ConsoleStack) -> None:
        self.stack = stack

    def create_invoice(
        self,
        page: Any,
        *,
        contact: str = "Ada",
        products: Sequence[tuple[str, str]] = (),
        custom_lines: Sequence[tuple[str, str, str]] = (),
        po_number: str | None = None,
        properties: dict[str, str] | None = None,
        discount: tuple[str, str] | None = None,
        finish: bool = True,
    ) -> str:
        """Fill /invoices/new and press Finish (or Save as draft); returns the invoice id."""
        from playwright.sync_api import expect

        page.goto("/invoices/new")
        page.fill("#contact-search", contact)
        page.locator("#contact-results button", has_text=contact).first.click()
        expect(page.locator("#contact-chip")).to_be_visible()
        lines = [("product", name, qty, "") for name, qty in products]
        lines += [("custom", name, qty, price) for name, qty, price in custom_lines]
        for index, (kind, name, qty, price) in enumerate(lines):
            if index > 0:
                page.click("#add-line")
            row = page.locator("#lines tbody tr").nth(index)
            if kind == "product":
                labels = row.locator("select.line-product option").all_text_contents()
                row.locator("select.line-product").select_option(
                    label=next(t for t in labels if t.startswith(name))
                )
            else:
                row.locator("input[name=line_name]").fill(name)
                row.locator("input[name=line_price]").fill(price)
            row.locator("input[name=line_qty]").fill(qty)
        if discount is not None:
            page.select_option("#discount-type", discount[0])
            page.fill("#discount-value", discount[1])
        if po_number is not None:
            page.fill("#po-number", po_number)
        for name, value in (properties or {}).items():
            page.fill(f"#prop-{name}", value)
        page.click(f"button[name=action][value={'finish' if finish else 'draft'}]")
        page.wait_for_url("**/invoices?open=*")
        invoice_id = page.url.rsplit("open=", 1)[1].split("&")[0]
        expect(
            page.locator(f"#panel .invoice-panel[data-invoice-id='{invoice_id}']")
        ).to_be_visible()
        return invoice_id

    def open_invoice(self, page: Any, invoice_id: str) -> None:
        page.goto(f"/invoices?open={invoice_id}")

    def reload_until(self, page: Any, selector: str, timeout: float = 30.0) -> Any:
        """Reload the page (as a user would) until `selector` is on it; returns its locator.
        For changes made elsewhere, e.g. a payment received in QuickBooks."""
        deadline = time.monotonic() + timeout
        while True:
            locator = page.locator(selector)
            if locator.count() > 0:
                return locator
            if time.monotonic() > deadline:
                raise AssertionError(f"{selector} did not appear within {timeout} s")
            page.wait_for_timeout(500)
            page.reload()

    def expect_sync_status(self, page: Any, text: str) -> None:
        """The panel refreshes itself while the sync runs; wait for the status to read `text`."""
        from playwright.sync_api import expect

        expect(page.locator("#panel [data-sync-status]")).to_have_text(text)


@pytest.fixture
def ui(stack: ConsoleStack) -> ConsoleUI:
    return ConsoleUI(stack)
