"""The screenshot script works against the running stack (the README's images come from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.screenshots import take_screenshots


def test_screenshots_of_the_main_pages(browser: Any, stack: ConsoleStack, tmp_path: Path) -> None:
    try:
        written = take_screenshots(browser, stack, tmp_path)
    finally:
        stack.set_sync_settings(SyncSettings())
    names = {p.stem for p in written}
    assert {
        "login",
        "invoices",
        "invoice-panel",
        "invoice-failed",
        "create-invoice",
        "failing-to-sync",
        "sync-settings",
        "contact",
        "payments-report",
        "dashboard",
        "invoice-history",
        "users",
        "activity",
        "deals",
    } <= names
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"docs/screenshots/{name}.png" in readme or name == "login"
