"""Several connections in one console (Chromium): the overview lists each with its lag, queue,
failures and last reconciliation; the switcher in the top bar changes which connection the other pages show."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.fleet import Company, connect_fleet, seed_invoices
from ledgerbridge.ingress import front_app
from ledgerbridge.process_stack import console_app, ensure_admin
from ledgerbridge.reconciliation import reconcile_connection
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from servers import run_asgi_server

PASSWORD = "overview-test-pw"


def _in_thread(make: Any) -> Any:
    """Run a coroutine on its own loop in another thread (Playwright's loop owns this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def test_overview_and_switcher(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    apps = [(hubspot_app(seed="empty"), quickbooks_app(seed="empty")) for _ in range(2)]
    settings = Settings(data_dir=tmp_path / "data", admin_password=SecretStr(PASSWORD))
    with (
        run_asgi_server(apps[0][0]) as hs1,
        run_asgi_server(apps[0][1]) as qb1,
        run_asgi_server(apps[1][0]) as hs2,
        run_asgi_server(apps[1][1]) as qb2,
    ):

        async def prepare() -> list[int]:
            runtime = await build_runtime(settings)
            try:
                ids = await connect_fleet(runtime, [Company(hs1, qb1), Company(hs2, qb2)])
                # Company 1: two invoices synced. Company 2: three seen, waiting for a worker.
                seed_invoices(apps[0][0].state.sandbox, 2, "one")
                seed_invoices(apps[1][0].state.sandbox, 3, "two")
                first, second = (runtime.connections[i] for i in ids)
                await first.engine.poll_once()
                while (await first.engine.run_once(10)).claimed:
                    pass
                await second.engine.poll_once()
                # Company 1 was reconciled (a full sweep); company 2 never was.
                await reconcile_connection(runtime, first)
                return ids
            finally:
                await runtime.aclose()

        ids = _in_thread(prepare)
        # The web tier alone (as `serve --no-worker`): its runtime is used on the server's loop.
        runtime = _in_thread(lambda: build_runtime(settings))
        ensure_admin(runtime)
        runtime.ready = True
        with run_asgi_server(front_app(runtime, console_app(runtime))) as url:
            context = browser.new_context(base_url=url)
            page = context.new_page()
            page.goto("/overview")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/overview")

            one = page.locator(f"tr[data-connection='{ids[0]}']")
            two = page.locator(f"tr[data-connection='{ids[1]}']")
            expect(one).to_contain_text("client-001")
            expect(one.locator(".queued")).to_have_text("0")
            expect(one.locator(".lag")).to_have_text("up to date")
            expect(one.locator(".synced-count")).not_to_have_text("0")
            expect(two).to_contain_text("client-002")
            expect(two.locator(".queued")).to_have_text("3")
            expect(two.locator(".lag")).to_have_text(re.compile(r"behind"))
            # The last reconciliation: when, which sweep, what it found.
            expect(one.locator(".last-reconcile")).to_contain_text("just now · full")
            expect(one.locator(".last-reconcile")).to_contain_text("all 2 in sync")
            expect(two.locator(".last-reconcile")).to_have_text("never")
            with page.expect_navigation():
                one.get_by_role("button", name="See the run").click()
            expect(page).to_have_url(re.compile(r"/reconciliation\?run=\d+$"))
            expect(page.locator("#connection-switcher")).to_have_value(str(ids[0]))
            expect(page.locator("main")).to_contain_text("Both books agree on every record")

            # The switcher: the settings page follows the chosen connection.
            page.goto("/settings/sync")
            expect(page.locator("main")).to_contain_text("client-001")
            with page.expect_navigation():
                page.select_option("#connection-switcher", str(ids[1]))
            expect(page.locator("#connection-switcher")).to_have_value(str(ids[1]))
            expect(page.locator("main")).to_contain_text("client-002")
            # "Open" on the overview chooses a connection too.
            page.goto("/overview")
            one.get_by_role("button", name="Open").click()
            page.wait_for_url("**/settings/sync")
            expect(page.locator("main")).to_contain_text("client-001")
            context.close()
        runtime.store.close()  # its HTTP connections belonged to the server's loop, now gone
