"""Webhook routing: which of a delivery's notifications concern a connection, and as what change.

A webhook delivery names records by the API's own object names, with the account (HubSpot
portal, QBO realm) they belong to. For one connection this keeps what is its own and what the
engine syncs, turns it into `ChangeEvent`s (a deletion flagged as such), and finds the HubSpot
invoices that line items, discounts, fees or taxes edited on their own belong to: those edits do
not change the invoice's modification date, so neither its feed nor an invoice event sees them.
Connectors parse the wire (signatures, shapes); bootstrap only hands each connection its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ledgerbridge.domain import Side
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    ITEM,
    LEDGER_CREDIT,
    LEDGER_REFUND,
    PAYMENT,
    CrmPort,
)

# Record types a notification can be about that mark a record of ours.
OBJECT_TYPES = frozenset({INVOICE, PAYMENT, CUSTOMER, ITEM, LEDGER_REFUND, LEDGER_CREDIT})
# HubSpot records that belong to an invoice: a change to one is a change to its invoice.
CHILD_TYPES = ("line_item", "discount", "fee", "tax")
# A HubSpot company: a change to one (its name) is a change to its contacts' customers.
COMPANY = "company"
DELETIONS = frozenset({"deletion", "delete", "deleted"})


class Notification(Protocol):
    """What the engine needs of one parsed webhook notification (connectors' WebhookEvent)."""

    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def operation(self) -> str | None: ...


def is_deletion(event: Notification) -> bool:
    return (event.operation or "").lower() in DELETIONS


def same_account(event_account: str | None, account: str | None) -> bool:
    """Unknown on either side counts as a match (single-account deliveries, test events)."""
    return event_account is None or account is None or str(event_account) == str(account)


def changes_for(
    side: Side, events: Iterable[Notification], account: str | None
) -> list[ChangeEvent]:
    """The changes in `events` for a connection whose account on `side` is `account`."""
    return [
        ChangeEvent(
            side=side, object_type=e.object_type, source_id=e.object_id, deleted=is_deletion(e)
        )
        for e in events
        if e.object_type in OBJECT_TYPES and same_account(e.account_id, account)
    ]


def invoice_children(events: Iterable[Notification], account: str | None) -> dict[str, list[str]]:
    """HubSpot child records (line items, discounts, fees, taxes) changed, not deleted, in
    `account`: object type → ids, each once, in delivery order."""
    children: dict[str, dict[str, None]] = {}
    for e in events:
        if e.object_type not in CHILD_TYPES or is_deletion(e):
            continue
        if same_account(e.account_id, account):
            children.setdefault(e.object_type, {})[e.object_id] = None
    return {kind: list(ids) for kind, ids in children.items()}


async def parent_invoice_changes(
    crm: CrmPort, events: Iterable[Notification], account: str | None
) -> list[ChangeEvent]:
    """Changes to the HubSpot invoices the changed child records belong to (one association
    read per kind)."""
    changes: list[ChangeEvent] = []
    for kind, ids in invoice_children(events, account).items():
        for invoice_id in await crm.related_invoice_ids(kind, ids):
            changes.append(ChangeEvent(Side.HUBSPOT, INVOICE, invoice_id))
    return changes


async def company_contact_changes(
    crm: CrmPort, events: Iterable[Notification], account: str | None
) -> list[ChangeEvent]:
    """Changes to the customers of the contacts of companies changed (not deleted) in
    `account`: a company's rename changes no contact, yet its QBO customers' names follow it
    (engine/masterdata.py). Only linked customers are marked (ChangeTracker)."""
    ids = list(
        dict.fromkeys(
            e.object_id
            for e in events
            if e.object_type == COMPANY
            and not is_deletion(e)
            and same_account(e.account_id, account)
        )
    )
    if not ids:
        return []
    return [
        ChangeEvent(Side.HUBSPOT, CUSTOMER, contact_id)
        for contact_id in await crm.company_contact_ids(ids)
    ]
