"""Webhook routing (engine/routing.py): which notifications of a delivery concern a connection,
as which changes, and the invoices of changed line items; over the in-memory fakes."""

from __future__ import annotations

import datetime as dt

from engine_fakes import FakeCrm, FakeLedger, FakeStore

from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.domain import Side
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey
from ledgerbridge.engine.routing import changes_for, invoice_children
from ledgerbridge.engine.runner import SyncEngine

PORTAL = "4242"


def test_only_this_accounts_records_of_synced_types_become_changes() -> None:
    events = [
        WebhookEvent("invoice", "1", PORTAL, "propertyChange"),
        WebhookEvent("invoice", "2", "other-portal", "propertyChange"),
        WebhookEvent("payment", "3", None, "creation"),  # no account named: ours
        WebhookEvent("contact", "4", PORTAL, "propertyChange"),  # not a record we sync
        WebhookEvent("invoice", "5", PORTAL, "deletion"),
    ]

    changes = changes_for(Side.HUBSPOT, events, PORTAL)

    assert changes == [
        ChangeEvent(Side.HUBSPOT, INVOICE, "1"),
        ChangeEvent(Side.HUBSPOT, PAYMENT, "3"),
        ChangeEvent(Side.HUBSPOT, INVOICE, "5", deleted=True),
    ]


def test_changed_child_records_are_grouped_by_kind_once_each_and_deletions_left_out() -> None:
    events = [
        WebhookEvent("line_item", "10/1", PORTAL, "propertyChange"),
        WebhookEvent("line_item", "10/1", PORTAL, "propertyChange"),
        WebhookEvent("tax", "11/1", PORTAL, "propertyChange"),
        WebhookEvent("fee", "12/1", PORTAL, "deletion"),
        WebhookEvent("discount", "13/1", "other-portal", "propertyChange"),
        WebhookEvent("invoice", "14", PORTAL, "propertyChange"),
    ]

    assert invoice_children(events, PORTAL) == {"line_item": ["10/1"], "tax": ["11/1"]}


async def test_the_engine_marks_what_a_delivery_reports_and_the_invoices_of_edited_lines() -> None:
    store = FakeStore()
    engine = SyncEngine(
        1, FakeCrm(), FakeLedger(), store, SyncSettings(), lambda: dt.datetime.now(dt.UTC)
    )
    events = [
        WebhookEvent("invoice", "20", PORTAL, "propertyChange"),
        WebhookEvent("line_item", "21/7", PORTAL, "propertyChange"),
    ]

    direct = engine.handle_webhook(Side.HUBSPOT, events, PORTAL)
    parents = await engine.handle_invoice_children(events, PORTAL)

    assert (direct.marked, parents.marked) == (1, 1)
    assert set(store.dirty) == {
        RecordKey(1, INVOICE, Side.HUBSPOT, "20"),
        RecordKey(1, INVOICE, Side.HUBSPOT, "21"),
    }
    # Another portal's delivery marks nothing here.
    assert engine.handle_webhook(Side.HUBSPOT, events, "9999").marked == 0
