"""`ledgerbridge reconcile` as an operator runs it, against the running stack over real sockets
(both sandboxes and the console on their own ports, the worker running): it finds a change no
event announced, reports it with both values, stores the run, and repairs it."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


def _invoice(stack: ConsoleStack, qbo_id: str) -> dict[str, Any]:
    record = stack.quickbooks.state.sandbox.get_entity(stack.realm_id, "Invoice", qbo_id)
    assert record is not None
    return dict(record)


def test_reconcile_command_reports_then_repairs_silent_drift(stack: ConsoleStack) -> None:
    store = stack.runtime.store
    link = next(
        lk
        for lk in store.list_links(stack.connection_id, INVOICE)
        if lk.hubspot_id
        and lk.qbo_id
        and lk.extra.get("origin") == Side.HUBSPOT.value
        and _invoice(stack, lk.qbo_id).get("DueDate")
    )
    assert link.qbo_id is not None
    due = _invoice(stack, link.qbo_id)["DueDate"]
    stack.quickbooks.state.sandbox.update_raw(
        stack.realm_id, "Invoice", link.qbo_id, lambda r: r.update(DueDate="2033-05-05")
    )
    data_dir = str(stack.runtime.settings.data_dir)
    runner = CliRunner(env={"COLUMNS": "300"})

    found = runner.invoke(app, ["reconcile", "--no-repair", "--data-dir", data_dir])
    assert found.exit_code == 2, found.output
    row = next(line for line in found.output.splitlines() if "2033-05-05" in line)
    assert "due_date" in row and due in row and link.hubspot_id in row
    assert _invoice(stack, link.qbo_id)["DueDate"] == "2033-05-05"  # reported, not changed

    report = runner.invoke(app, ["reconcile", "--report", "--data-dir", data_dir])
    assert report.exit_code == 0, report.output
    assert "2033-05-05" in report.output and "full" in report.output

    repaired = runner.invoke(app, ["reconcile", "--data-dir", data_dir])
    assert repaired.exit_code in (0, 2), repaired.output
    row = next(line for line in repaired.output.splitlines() if "2033-05-05" in line)
    assert "repaired" in row
    # HubSpot created the invoice, so its value wins: both sides hold it again.
    assert _invoice(stack, link.qbo_id)["DueDate"] == due
    runs = store.list_reconcile_runs(stack.connection_id, limit=2)
    assert runs[0].repaired >= 1 and runs[1].diverged >= 1
