"""Verified state: a record is `synced` only when both sides agree after its step.

The drift here is made the way the bugs of issue 7 made it: a side holds another value while the
engine's bookkeeping (version markers, bases) says nothing changed. The step that runs next must
say `diverged`, naming the field with both values, on the store, on HubSpot and in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE, FieldDifference, RecordKey


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"verify-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _stored_qbo_invoice(world: World, qbo_id: str) -> dict:
    """The sandbox's own record: changed in place, without a new SyncToken or a CDC entry (what
    a silently dropped edit leaves behind)."""
    return world.qbo.state.companies[world.qbo.realm].get("Invoice", qbo_id)


async def test_a_step_that_finds_the_sides_differing_records_diverged_with_both_values(
    world: World,
) -> None:
    hs = world.hs
    contact = hs.contact("vera@verify.example", company="Verify Co")
    product = hs.product("Audit", "AUD-1", "100.00")
    invoice_id = hs.invoice(contact, [(product, "1", "100.00")], hs_comments="Net 30")
    await world.sync()
    assert world.invoice_state(invoice_id).status is SYNCED
    qbo_id = world.qbo_id_of(invoice_id)

    _stored_qbo_invoice(world, qbo_id)["CustomerMemo"] = {"value": "Net 60"}
    key = RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    result = await world.engine.sync_key(key)
    assert result is not None and not result.plan.writes  # nothing looked changed

    state = world.invoice_state(invoice_id)
    assert state.status is SyncStatus.DIVERGED
    assert state.differences == (FieldDifference("memo", "Net 30", "Net 60"),)
    props = hs.props("invoices", invoice_id)
    assert props["ledgerbridge_sync_status"] == "diverged"
    assert "memo" in props["ledgerbridge_sync_error"]
    audit = world.store.list_audit(world.connection_id, INVOICE, invoice_id)
    assert any(
        (e.field_name, e.old, e.new) == ("memo", "Net 30", "Net 60") and "diverged" in e.winner
        for e in audit
    )

    # Someone makes the sides agree (HubSpot takes QBO's memo): synced again, no differences.
    hs.sb.update_object("invoices", invoice_id, {"hs_comments": "Net 60"})
    await world.sync()
    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED and state.differences == ()
    assert _stored_qbo_invoice(world, qbo_id)["CustomerMemo"]["value"] == "Net 60"
    assert hs.props("invoices", invoice_id)["hs_comments"] == "Net 60"
    assert hs.props("invoices", invoice_id)["ledgerbridge_sync_status"] == "synced"


async def test_a_write_that_leaves_another_field_differing_is_diverged_not_synced(
    world: World,
) -> None:
    hs = world.hs
    contact = hs.contact("wes@verify.example", company="Wes Co")
    product = hs.product("Review", "REV-1", "50.00")
    invoice_id = hs.invoice(contact, [(product, "2", "50.00")], hs_comments="Thanks")
    await world.sync()
    qbo_id = world.qbo_id_of(invoice_id)
    # The due date changes in HubSpot; QBO's memo changed silently meanwhile, so the update the
    # engine sends (the due date) succeeds and still leaves the memos disagreeing.
    hs.sb.update_object("invoices", invoice_id, {"hs_due_date": "2027-02-28"})
    _stored_qbo_invoice(world, qbo_id)["CustomerMemo"] = {"value": "Thanks!!"}
    await world.sync()
    assert _stored_qbo_invoice(world, qbo_id)["DueDate"] == "2027-02-28"  # the write went in
    state = world.invoice_state(invoice_id)
    assert state.status is SyncStatus.DIVERGED, state
    assert state.differences == (FieldDifference("memo", "Thanks", "Thanks!!"),)
    assert hs.props("invoices", invoice_id)["ledgerbridge_sync_status"] == "diverged"
