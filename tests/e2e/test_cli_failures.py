"""`ledgerbridge failures` lists diverged records with each field and both values, against the
running stack over real sockets (both sandboxes, the console, the worker)."""

from __future__ import annotations

import time
from typing import Any

from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE, RecordKey


def _invoice(stack: ConsoleStack, qbo_id: str) -> dict[str, Any]:
    record = stack.quickbooks.state.sandbox.get_entity(stack.realm_id, "Invoice", qbo_id)
    assert record is not None
    return dict(record)


def _wait_status(stack: ConsoleStack, key: RecordKey, status: SyncStatus) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = stack.runtime.store.get_state(key)
        if state is not None and state.status is status:
            return state
        time.sleep(0.2)
    raise AssertionError(f"{key} did not become {status}: {stack.runtime.store.get_state(key)}")


def test_failures_lists_a_diverged_invoice_with_both_values(stack: ConsoleStack) -> None:
    store = stack.runtime.store
    link = next(
        lk
        for lk in store.list_links(stack.connection_id, INVOICE)
        if lk.hubspot_id and lk.qbo_id and lk.extra.get("origin") == Side.HUBSPOT.value
    )
    assert link.qbo_id is not None and link.hubspot_id is not None
    key = RecordKey(stack.connection_id, INVOICE, Side.HUBSPOT, link.hubspot_id)
    before = (_invoice(stack, link.qbo_id).get("CustomerMemo") or {}).get("value")
    # An edit in QBO that no event announced: the next step finds the memos differing.
    stack.quickbooks.state.sandbox.update_raw(
        stack.realm_id,
        "Invoice",
        link.qbo_id,
        lambda r: r.update(CustomerMemo={"value": "Changed behind our back"}),
    )
    try:
        assert store.retry(key) or store.get_state(key) is None
        state = _wait_status(stack, key, SyncStatus.DIVERGED)
        assert [d.field for d in state.differences] == ["memo"]
        runner = CliRunner(env={"COLUMNS": "300"})
        out = runner.invoke(app, ["failures", "--data-dir", str(stack.runtime.settings.data_dir)])
        assert out.exit_code == 0, out.output
        assert "Out of sync" in out.output
        row = next(line for line in out.output.splitlines() if "Changed behind our back" in line)
        assert "memo" in row and (before or "(none)") in row
    finally:
        stack.quickbooks.state.sandbox.update_raw(
            stack.realm_id,
            "Invoice",
            link.qbo_id,
            lambda r: r.update(CustomerMemo={"value": before}) if before else r.pop("CustomerMemo"),
        )
        store.retry(key)
    # The sides agree again: synced, no differences left.
    state = _wait_status(stack, key, SyncStatus.SYNCED)
    assert state.differences == ()
