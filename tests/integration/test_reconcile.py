"""Reconciliation over both sandboxes in-process (real connectors, real store): drift that no
event announced is found, repaired when the sync matrix says who wins, reported otherwise."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.engine.reconcile import (
    DIVERGED,
    DUPLICATE,
    ORPHAN,
    REPAIRED,
    WOULD_REPAIR,
    Reconciler,
)


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"reconcile-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def reconciler(world: World, *, drain: bool = True) -> Reconciler:
    async def run_engine() -> None:
        await world.sync()

    async def write_status(hs_id: str, status: SyncStatus, message: str | None) -> None:
        await world.crm.set_sync_state(hs_id, status, message)

    return Reconciler(
        world.connection_id,
        ConnectorBulkReader(world.crm, world.ledger),
        world.store,
        SyncSettings(),
        drain=run_engine if drain else None,
        write_status=write_status,
    )


async def synced_invoice(world: World, email: str = "ada@acme.example") -> tuple[str, str]:
    hs = world.hs
    contact = hs.contact(email)
    product = hs.product("Consulting hour", f"CONS-{uuid.uuid4().hex[:4]}", "150.00")
    hs_id = hs.invoice(contact, [(product, "2", "150.00")], po="PO-1", hs_due_date="2026-12-01")
    await world.sync()
    assert world.invoice_state(hs_id).status is SYNCED
    return hs_id, world.qbo_id_of(hs_id)


def silent_qbo_edit(world: World, qbo_id: str, **fields: object) -> None:
    """An edit in QBO that no webhook and no change feed reports (no SyncToken bump)."""

    def change(record: dict) -> None:  # type: ignore[type-arg]
        record.update(fields)

    world.qbo.state.update_raw(world.qbo.realm, "Invoice", qbo_id, change)


async def test_agreeing_books_report_in_sync(world: World) -> None:
    await synced_invoice(world)
    report = await reconciler(world).run()
    assert (report.checked, report.in_sync, report.repaired, report.diverged) == (1, 1, 0, 0)
    assert report.findings == ()
    assert report.api_calls > 0


async def test_silent_qbo_edit_is_repaired_from_the_owner_side(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")
    await world.sync()  # the engine sees nothing: no event, same SyncToken
    assert world.qbo.get("Invoice", qbo_id)["DueDate"] == "2027-01-31"

    report = await reconciler(world).run()

    assert (report.checked, report.repaired, report.diverged) == (1, 1, 0)
    [finding] = report.findings
    assert (finding.outcome, finding.field) == (REPAIRED, "due_date")
    assert (finding.hubspot, finding.quickbooks) == ("2026-12-01", "2027-01-31")
    # HubSpot created the invoice: it owns the field, so QBO gets HubSpot's value back.
    assert world.qbo.get("Invoice", qbo_id)["DueDate"] == "2026-12-01"
    assert world.hs.props("invoices", hs_id)["hs_due_date"].startswith("2026-12-01")
    assert world.invoice_state(hs_id).status is SYNCED
    audit = world.store.list_audit(world.connection_id, INVOICE, hs_id)
    assert any(
        e.field_name == "due_date"
        and e.old == {"hubspot": "2026-12-01", "quickbooks": "2027-01-31"}
        for e in audit
    )


async def test_dry_run_changes_nothing(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")
    report = await reconciler(world).run(dry_run=True)
    assert [f.outcome for f in report.findings] == [WOULD_REPAIR]
    assert world.qbo.get("Invoice", qbo_id)["DueDate"] == "2027-01-31"
    assert world.invoice_state(hs_id).status is SYNCED


async def test_without_repair_the_record_is_diverged_with_both_values(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")

    report = await reconciler(world).run(repair=False)

    assert (report.repaired, report.diverged) == (0, 1)
    assert [f.outcome for f in report.findings] == [DIVERGED]
    state = world.invoice_state(hs_id)
    assert state.status is SyncStatus.DIVERGED
    [diff] = state.differences
    assert (diff.field, diff.hubspot, diff.quickbooks) == ("due_date", "2026-12-01", "2027-01-31")
    assert world.hs.props("invoices", hs_id)["ledgerbridge_sync_status"] == "diverged"

    # Fixed by hand on the QBO side: the next run finds agreement and clears the state.
    silent_qbo_edit(world, qbo_id, DueDate="2026-12-01")
    again = await reconciler(world).run(repair=False)
    assert (again.in_sync, again.diverged) == (1, 0)
    assert world.invoice_state(hs_id).status is SYNCED
    assert world.hs.props("invoices", hs_id)["ledgerbridge_sync_status"] == "synced"


async def test_total_computed_differently_is_diverged_not_repaired(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, TotalAmt="300.01", Balance="300.01")

    report = await reconciler(world).run()

    assert (report.repaired, report.diverged) == (0, 1)
    fields = {(f.field, f.hubspot, f.quickbooks) for f in report.findings}
    assert ("total", "300.00", "300.01") in fields
    # The re-sync ran the rounding parity check: the invoice fails with both totals named.
    state = world.invoice_state(hs_id)
    assert state.status is SyncStatus.FAILED and "300.01" in (state.message or "")


async def test_orphans_and_duplicates_in_a_full_sweep(world: World) -> None:
    await synced_invoice(world)
    # The engine never hears of these: no sync runs after they are made.
    customer = world.qbo.customer("Orphan Co", "orphan@example.com")
    item = world.qbo.item("Widget", "W-1", "10")
    orphan = world.qbo.invoice(customer, [(item, "1", "10")], DocNumber="D-1")
    twin = world.qbo.invoice(customer, [(item, "2", "10")], DocNumber="D-2")
    # QBO refuses a second D-1 through the API unless asked to allow it; a bookkeeper can.
    world.qbo.state.update_raw(
        world.qbo.realm, "Invoice", twin["Id"], lambda r: r.update(DocNumber="D-1")
    )
    contact = world.hs.contact("late@example.com")
    hs_orphan = world.hs.invoice(contact, [(None, "1", "25.00", "Setup")])

    report = await reconciler(world).run()

    orphans = {(f.hubspot_id, f.qbo_id) for f in report.findings if f.outcome == ORPHAN}
    assert (None, orphan["Id"]) in orphans
    assert (None, twin["Id"]) in orphans
    assert (hs_orphan, None) in orphans
    dups = [f for f in report.findings if f.outcome == DUPLICATE]
    assert len(dups) == 1 and dups[0].qbo_id == f"{orphan['Id']}, {twin['Id']}"
    assert (report.orphans, report.duplicates) == (3, 1)


async def test_incremental_run_checks_only_changed_records(world: World) -> None:
    await synced_invoice(world, "one@example.com")
    hs_two, qbo_two = await synced_invoice(world, "two@example.com")
    customer = world.qbo.customer("Orphan Co", "orphan@example.com")
    item = world.qbo.item("Widget", "W-1", "10")
    world.qbo.invoice(customer, [(item, "1", "10")])  # an orphan: only full sweeps look

    # Nothing changed after `since`: nothing to check.
    later = await reconciler(world).run(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert (later.scope, later.checked, later.findings) == ("incremental", 0, ())

    world.hs.sb.update_object("invoices", hs_two, {"hs_comments": "edited in HubSpot"})
    report = await reconciler(world).run(since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    assert report.scope == "incremental"
    assert report.checked == 2
    assert [(f.outcome, f.hubspot_id, f.field) for f in report.findings] == [
        (REPAIRED, hs_two, "memo")
    ]
    assert (report.orphans, report.duplicates) == (0, 0)
    assert world.qbo.get("Invoice", qbo_two)["CustomerMemo"]["value"] == "edited in HubSpot"


async def test_run_is_stored_with_figures_and_findings(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")
    report = await reconciler(world).run(repair=False)
    run_id = world.store.save_reconcile_run(world.connection_id, report)

    [run] = world.store.list_reconcile_runs(world.connection_id)
    assert run.id == run_id
    assert (run.scope, run.checked, run.diverged, run.api_calls) == (
        "full",
        1,
        1,
        report.api_calls,
    )
    assert run.duration_ms is not None and run.duration_ms >= 0
    [finding] = world.store.list_reconcile_findings(run_id)
    assert (finding.hubspot_id, finding.qbo_id, finding.field) == (hs_id, qbo_id, "due_date")
    last = world.store.last_reconcile_run(world.connection_id)
    assert last is not None and last.id == run_id
    assert world.state(INVOICE, Side.HUBSPOT, hs_id) is not None


async def _qbo_payment_copied(world: World, email: str) -> tuple[str, dict, str]:  # type: ignore[type-arg]
    """A synced 300.00 HubSpot invoice with a 100.00 QBO payment copied to HubSpot."""
    hs_id, qbo_id = await synced_invoice(world, email)
    qbo_invoice = world.qbo.get("Invoice", qbo_id)
    assert qbo_invoice is not None
    payment = world.qbo.payment(
        qbo_invoice["CustomerRef"]["value"], [(qbo_id, "100.00")], PaymentRefNum="CHK-1"
    )
    await world.sync()
    copies = [
        r
        for r in world.hs.sb.linked(world.hs.sb.store.get("invoices", hs_id), "commerce_payments")
        if r.properties.get("hs_processor_type") == "quickbooks"
    ]
    assert len(copies) == 1
    return hs_id, payment, str(copies[0].id)


async def test_payment_copy_edited_in_hubspot_is_recopied_from_quickbooks(world: World) -> None:
    _hs_id, _payment, copy_id = await _qbo_payment_copied(world, "pay@example.com")
    # A silent edit of the copy's reference (no webhook, not via the engine).
    record = world.hs.sb.store.get("commerce_payments", copy_id)
    record.properties["hs_reference_number"] = "TYPO"

    report = await reconciler(world).run()

    [finding] = [f for f in report.findings if f.field.startswith("reference")]
    assert (finding.outcome, finding.hubspot, finding.quickbooks) == (REPAIRED, "TYPO", "CHK-1")
    assert world.hs.props("commerce_payments", copy_id)["hs_reference_number"] == "CHK-1"
    assert report.diverged == 0


async def test_refund_recorded_in_hubspot_is_a_documented_difference(world: World) -> None:
    hs_id, _payment, copy_id = await _qbo_payment_copied(world, "refund@example.com")
    await world.crm.api.update(
        "commerce_payments",
        copy_id,
        {"hs_refunds_amount": "100.00", "hs_latest_status": "refunded"},
    )
    await world.sync()
    props = world.hs.props("invoices", hs_id)
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(hs_id))
    assert qbo_invoice is not None
    # HubSpot no longer counts the refunded 100; QBO still does (HubSpot owns refunds).
    assert props["hs_balance_due"] != str(qbo_invoice["Balance"])

    report = await reconciler(world).run()

    assert (report.checked, report.in_sync, report.diverged, report.repaired) == (2, 2, 0, 0)


async def test_choosing_the_quickbooks_value_writes_it_to_hubspot(world: World) -> None:
    from ledgerbridge.engine.resolve import resolution_link

    hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")
    await reconciler(world).run(repair=False)
    assert world.invoice_state(hs_id).status is SyncStatus.DIVERGED

    # The person keeps QuickBooks' date, although HubSpot owns the invoice's fields.
    link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, hs_id)
    assert link is not None
    hs = await world.crm.get_invoice(hs_id)
    qbo = await world.ledger.get_invoice(qbo_id)
    assert hs is not None and qbo is not None
    world.store.save_link(
        resolution_link(link, hs, qbo, "due_date", Side.QUICKBOOKS, SyncSettings())
    )
    world.store.mark_dirty(world.invoice_state(hs_id).key, "test: use QuickBooks' due date")
    await world.sync()

    assert world.hs.props("invoices", hs_id)["hs_due_date"].startswith("2027-01-31")
    assert world.qbo.get("Invoice", qbo_id)["DueDate"] == "2027-01-31"
    after = await reconciler(world).run(repair=False)
    assert (after.in_sync, after.diverged) == (1, 0)
    assert world.invoice_state(hs_id).status is SYNCED


def test_schedule_runs_incremental_hourly_and_a_full_sweep_nightly(world: World) -> None:
    from types import SimpleNamespace

    from ledgerbridge.engine.reconcile import FULL, INCREMENTAL, ReconcileReport
    from ledgerbridge.reconciliation import due_scope
    from ledgerbridge.settings import Settings

    settings = Settings(reconcile_interval_seconds=3600, reconcile_full_hour=2)
    runtime = SimpleNamespace(settings=settings, store=world.store)
    cid = world.connection_id
    day = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)

    def ran(scope: str, at: dt.datetime) -> None:
        world.store.save_reconcile_run(cid, ReconcileReport(scope, None, at, at))

    assert due_scope(runtime, cid, day) == FULL  # never swept
    ran(FULL, day)
    assert due_scope(runtime, cid, day + dt.timedelta(minutes=30)) is None
    assert due_scope(runtime, cid, day + dt.timedelta(minutes=61)) == INCREMENTAL
    ran(INCREMENTAL, day + dt.timedelta(minutes=61))
    assert due_scope(runtime, cid, day + dt.timedelta(minutes=90)) is None
    nightly = dt.datetime(2026, 12, 2, 2, 5, tzinfo=dt.UTC)
    ran(INCREMENTAL, nightly - dt.timedelta(minutes=10))
    assert due_scope(runtime, cid, nightly) == FULL  # at the hour, even within the interval
    off = SimpleNamespace(settings=Settings(reconcile_interval_seconds=0), store=world.store)
    assert due_scope(off, cid, nightly) is None


async def test_scheduled_run_sweeps_and_stores_its_figures(world: World) -> None:
    import asyncio
    from types import SimpleNamespace

    from ledgerbridge.reconciliation import run_schedule
    from ledgerbridge.settings import Settings

    _hs_id, qbo_id = await synced_invoice(world)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")
    conn = SimpleNamespace(
        id=world.connection_id,
        info=SimpleNamespace(name="scheduled"),
        crm=world.crm,
        ledger=world.ledger,
        engine=world.engine,
        sync_settings=SyncSettings(),
    )
    runtime = SimpleNamespace(
        settings=Settings(reconcile_interval_seconds=0.2),
        store=world.store,
        connections={world.connection_id: conn},
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_schedule(runtime, stop, check_seconds=0.05))  # type: ignore[arg-type]
    for _ in range(200):
        if world.store.list_reconcile_runs(world.connection_id):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)

    first = world.store.list_reconcile_runs(world.connection_id)[-1]  # oldest
    assert (first.scope, first.checked, first.repaired) == ("full", 1, 1)
    assert world.qbo.get("Invoice", qbo_id)["DueDate"] == "2026-12-01"


async def test_a_failing_record_keeps_its_failure_and_is_still_reported(world: World) -> None:
    from dataclasses import replace

    hs_id, qbo_id = await synced_invoice(world)
    state = world.invoice_state(hs_id)
    failed = replace(
        state, status=SyncStatus.FAILED, category="validation", message="PO too long", hint="x"
    )
    world.store.set_state(failed)
    silent_qbo_edit(world, qbo_id, DueDate="2027-01-31")

    report = await reconciler(world).run(repair=False)

    assert [(f.outcome, f.field) for f in report.findings] == [(DIVERGED, "due_date")]
    kept = world.invoice_state(hs_id)
    assert (kept.status, kept.message) == (SyncStatus.FAILED, "PO too long")


async def test_a_payment_still_on_its_way_is_brought_in_not_reported(world: World) -> None:
    hs_id, qbo_id = await synced_invoice(world)
    qbo_invoice = world.qbo.get("Invoice", qbo_id)
    assert qbo_invoice is not None
    # Paid in QBO; the engine has not run since (its event is still on its way, or lost).
    world.qbo.payment(qbo_invoice["CustomerRef"]["value"], [(qbo_id, "120.00")])

    report = await reconciler(world).run()

    assert {(f.outcome, f.field) for f in report.findings} == {
        (REPAIRED, "amount_paid"),
        (REPAIRED, "balance_due"),
    }
    assert (report.diverged, report.orphans) == (0, 0)
    props = world.hs.props("invoices", hs_id)
    assert props["hs_amount_paid"] in ("120", "120.00")
    assert world.invoice_state(hs_id).status is SYNCED
