"""Browser tests: the Users page, a one-time invitation link, roles seen in the pages, and a
password change."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack


def test_admin_invites_a_viewer_who_can_look_but_not_change(
    page: Page, browser: Any, stack: ConsoleStack
) -> None:
    page.click("nav.topnav a[href='/users']")
    expect(page.locator("h1")).to_have_text("Users")
    expect(page.locator("#users tr[data-username='admin']")).to_contain_text("(you)")
    page.check("#invite-form input[name=role][value=viewer]")
    page.click("#invite-form button[type=submit]")
    link = page.locator("#invite-link").input_value()
    assert "/invite/" in link

    # The invited person opens the link in their own browser and picks a name and password.
    context = browser.new_context(base_url=stack.console_url)
    try:
        tab = context.new_page()
        tab.goto(link)
        expect(tab.locator("[data-invite-role]")).to_have_text("viewer")
        tab.fill("#username", "vera")
        tab.fill("#password", "vera-password-1")
        tab.fill("#confirm", "vera-password-1")
        tab.click("button[type=submit]")
        expect(tab.locator("[data-user-role]")).to_have_text("viewer")
        expect(tab.locator("nav.topnav a[href='/users']")).to_have_count(0)
        # A viewer cannot change anything, even by posting the form by hand.
        answer = tab.request.post(
            "/settings/sync/failing/retry-all",
            headers={"X-CSRF-Token": tab.locator("body").get_attribute("data-csrf") or ""},
        )
        assert answer.status == 403
        assert "Your role is viewer" in answer.text()
        # The link was for one use only.
        other = browser.new_context(base_url=stack.console_url)
        try:
            again = other.new_page()
            again.goto(link)
            expect(again.locator("[role=alert]")).to_contain_text("used already")
        finally:
            other.close()
    finally:
        context.close()

    # The admin sees vera and makes her an accountant.
    page.reload()
    row = page.locator("#users tr[data-username='vera']")
    row.locator("select[name=role]").select_option("accountant")
    row.locator("button", has_text="Change role").click()
    expect(page.locator(".flash")).to_contain_text("vera is now accountant")
    assert stack.runtime.store.get_user("vera").role == "accountant"  # type: ignore[union-attr]
    events = stack.runtime.store.list_events(username="admin", action="Invited a user")
    assert events and events[0].outcome == "done"


def test_password_change_signs_out_other_browsers(
    page: Page, browser: Any, stack: ConsoleStack
) -> None:
    stack.runtime.store.create_user("pat", "pat-password-1", role="accountant")
    contexts = [browser.new_context(base_url=stack.console_url) for _ in range(2)]
    try:
        tabs = [c.new_page() for c in contexts]
        for tab in tabs:
            tab.goto("/login")
            tab.fill("#username", "pat")
            tab.fill("#password", "pat-password-1")
            tab.click("button[type=submit]")
            expect(tab.locator("[data-user-role]")).to_have_text("accountant")
        mine, other = tabs
        mine.click(".user a[href='/account']")
        mine.fill("#current", "pat-password-1")
        mine.fill("#password", "pat-password-2")
        mine.fill("#confirm", "pat-password-2")
        mine.click("#password-form button[type=submit]")
        expect(mine.locator(".flash")).to_contain_text("logged out everywhere else")
        other.reload()
        expect(other.locator("h1")).to_have_text("Log in")
    finally:
        for c in contexts:
            c.close()
