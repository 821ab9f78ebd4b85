"""The console's Reconciliation page and Out-of-sync tab: runs, findings, CSV, and the per-field
"use HubSpot's / use QuickBooks'" choice on a diverged invoice."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.compare import compare_invoice
from ledgerbridge.engine.ports import INVOICE, PAYMENT, FieldDifference
from ledgerbridge.engine.reconcile import Finding
from ledgerbridge.engine.resolve import choosable, resolution_link
from ledgerbridge.web.context import Console
from ledgerbridge.web.services.invoice_detail import invoice_state
from ledgerbridge.web.services.links import payment_page, qbo_url

DRAIN_ROUNDS = 10

CSV_COLUMNS = (
    "outcome",
    "object",
    "hubspot_id",
    "quickbooks_id",
    "field",
    "hubspot_value",
    "quickbooks_value",
    "note",
)


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    hubspot_url: str | None
    qbo_url: str | None
    qbo_external: bool

    @property
    def label(self) -> str:
        return field_label(self.finding.field) if self.finding.field else ""


def finding_views(console: Console, findings: Sequence[Finding]) -> list[FindingView]:
    """Each finding with links to both records (HubSpot: the console's invoice panel)."""
    connection = console.connection()
    views = []
    for f in findings:
        single_hs = f.hubspot_id if f.hubspot_id and "," not in f.hubspot_id else None
        single_qbo = f.qbo_id if f.qbo_id and "," not in f.qbo_id else None
        hs_url = f"/invoices/{single_hs}" if single_hs and f.object_type == INVOICE else None
        kind = "payment" if f.object_type == PAYMENT else "invoice"
        if f.object_type == PAYMENT and single_hs:
            # a HubSpot payment QBO holds as a SalesReceipt: its page, not a Payment's
            link = console.store.get_link(console.connection_id, PAYMENT, Side.HUBSPOT, single_hs)
            kind = payment_page(link.qbo_kind) if link is not None else kind
        q_url = qbo_url(connection, kind, single_qbo)
        views.append(FindingView(f, hs_url, q_url, bool(q_url and q_url.startswith("http"))))
    return views


def findings_csv(findings: Sequence[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        writer.writerow(
            [
                f.outcome,
                f.object_type,
                f.hubspot_id or "",
                f.qbo_id or "",
                f.field,
                f.hubspot or "",
                f.quickbooks or "",
                f.note or "",
            ]
        )
    return out.getvalue()


# HubSpot's invoice properties a custom mapping can carry, in HubSpot's words.
PROPERTY_LABELS = {
    "hs_purchase_order_number": "PO number",
    "hs_title": "Title",
    "hs_comments": "Comments",
    "hs_tax_id": "Tax id",
}


def field_label(field: str) -> str:
    """'Due date', 'PO number', 'Title'; a custom property by its name ('region')."""
    if field.startswith("custom:"):
        name = field.removeprefix("custom:")
        return PROPERTY_LABELS.get(name, name)
    return field.replace("_", " ").capitalize()


def difference_rows(differences: Sequence[FieldDifference]) -> list[dict[str, Any]]:
    """What the panel shows per differing field: both values and whether a side can be chosen."""
    return [
        {
            "field": d.field,
            "label": field_label(d.field),
            "hubspot": d.hubspot,
            "quickbooks": d.quickbooks,
            "note": d.note,
            "choosable": choosable(d.field),
        }
        for d in differences
    ]


async def resolve_field(console: Console, invoice_id: str, field: str, use: Side) -> str:
    """Write the chosen side's value of `field` over the other side, through the engine, then
    read both again and compare. Returns what happened, for a flash message. Raises ValueError
    when the choice cannot be made."""
    conn = console.bundle()
    _state, link, key = invoice_state(console, invoice_id)
    if link is None or not link.qbo_id or not link.hubspot_id:
        raise ValueError("This invoice is not linked to a QuickBooks invoice.")
    hs = await conn.crm.get_invoice(link.hubspot_id)
    qbo = await conn.ledger.get_invoice(link.qbo_id)
    if hs is None or qbo is None:
        raise ValueError("One side no longer has this invoice.")
    settings = conn.sync_settings
    console.store.save_link(resolution_link(link, hs, qbo, field, use, settings))
    side_name = "HubSpot" if use is Side.HUBSPOT else "QuickBooks"
    console.store.mark_dirty(key, f"console: use {side_name}'s {field}")
    for _ in range(DRAIN_ROUNDS):
        report = await conn.engine.run_once(console.runtime.settings.batch_size)
        if report.claimed == 0:
            break
    hs_after = await conn.crm.get_invoice(link.hubspot_id)
    qbo_after = await conn.ledger.get_invoice(link.qbo_id)
    if hs_after is None or qbo_after is None:
        raise ValueError("One side no longer has this invoice.")
    left = compare_invoice(hs_after, qbo_after, settings=settings)
    if any(d.field == field for d in left):
        current = console.store.get_state(key)
        why = f" ({current.message})" if current and current.message else ""
        return f"{field_label(field)} still differs{why}."
    current = console.store.get_state(key)
    if not left and current is not None and current.status is SyncStatus.DIVERGED:
        # The engine's step wrote nothing else; the record now agrees: say so everywhere.
        from dataclasses import replace

        console.store.set_state(
            replace(
                current,
                status=SyncStatus.SYNCED,
                category=None,
                message=None,
                hint=None,
                differences=(),
            )
        )
        await conn.crm.set_sync_state(link.hubspot_id, SyncStatus.SYNCED)
    done = f"{field_label(field)}: {side_name}'s value is now on both sides."
    if left:
        done += " Still different: " + ", ".join(field_label(d.field) for d in left) + "."
    return done
