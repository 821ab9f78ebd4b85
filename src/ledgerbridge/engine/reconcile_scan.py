"""What a link table cannot find: orphans and duplicates (part of a full reconciliation sweep).

- An **orphan** is a record that should have a counterpart and has neither a link nor a sync
  state: the engine never saw it (a webhook lost and the change poll past it, or a link lost).
  QBO invoices and payments that would sync to HubSpot, and HubSpot invoices that are open or
  paid, pass the sync filters and would sync to QBO. A record the engine saw and excluded,
  failed or blocked already shows where failures show, so it is not counted again.
- A **duplicate** is two records on one side standing for one: two QBO invoices with the same
  DocNumber or the same ledgerbridge marker (a create that was sent twice), or a HubSpot invoice
  that points (qbo_invoice_id) at a QBO invoice already linked to another HubSpot invoice.

Both are reported with the ids on each side, never changed automatically: which copy to keep
is a bookkeeper's decision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ledgerbridge.domain import InvoiceStatus, Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.filters import evaluate
from ledgerbridge.engine.ports import INVOICE, PAYMENT, SALES_RECEIPT, Link, RecordKey

if TYPE_CHECKING:
    from ledgerbridge.engine.reconcile import Finding, ReconcileStore
    from ledgerbridge.engine.reconcile_read import BulkReader

MARKER = "ledgerbridge.key"
HS_QBO_ID = "invoice.qbo_invoice_id"


async def scan(
    connection_id: int,
    reader: BulkReader,
    store: ReconcileStore,
    settings: SyncSettings,
    invoice_links: Sequence[Link],
    payment_links: Sequence[Link],
) -> list[Finding]:
    from ledgerbridge.engine.reconcile import DUPLICATE, ORPHAN, Finding

    found: list[Finding] = []
    all_invoice_links = store.list_links(connection_id, INVOICE)
    # (a HubSpot invoice recorded as a sales receipt is linked, but to no QBO invoice)
    linked_qbo = {lk.qbo_id for lk in all_invoice_links if lk.qbo_id and not lk.qbo_kind}
    linked_hs = {lk.hubspot_id for lk in all_invoice_links if lk.hubspot_id}
    hs_of_qbo = {
        lk.qbo_id: lk.hubspot_id for lk in all_invoice_links if lk.qbo_id and not lk.qbo_kind
    }

    # ---- QBO invoices ----
    qbo_invoices = await reader.all_ledger_invoices()
    unlinked = [i for i in qbo_invoices if i.id and i.id not in linked_qbo]
    states = store.get_states(
        [RecordKey(connection_id, INVOICE, Side.QUICKBOOKS, i.id or "") for i in unlinked]
    )
    for inv in unlinked:
        key = RecordKey(connection_id, INVOICE, Side.QUICKBOOKS, inv.id or "")
        if key in states or inv.status is InvoiceStatus.VOIDED:
            continue
        marker = inv.context.get(MARKER)
        if marker:
            note = f"created by ledgerbridge ({marker}) but not linked to its HubSpot invoice"
        elif (
            not settings.invoices.qbo_to_hubspot
            or not evaluate(settings.filters, inv, Side.QUICKBOOKS).eligible
        ):
            continue
        else:
            note = "QuickBooks invoice never synced to HubSpot"
        found.append(Finding(INVOICE, ORPHAN, None, inv.id, "exists", None, "present", note))

    by_number: dict[str, list[str]] = defaultdict(list)
    by_marker: dict[str, list[str]] = defaultdict(list)
    for inv in qbo_invoices:
        if inv.status is InvoiceStatus.VOIDED or not inv.id:
            continue
        if inv.number:
            by_number[inv.number].append(inv.id)
        if inv.context.get(MARKER):
            by_marker[inv.context[MARKER]].append(inv.id)
    for label, groups in (("DocNumber", by_number), ("ledgerbridge marker", by_marker)):
        for value, ids in sorted(groups.items()):
            if len(ids) < 2:
                continue
            hs_ids = ", ".join(sorted({hs_of_qbo[i] or "" for i in ids if i in hs_of_qbo}))
            found.append(
                Finding(
                    INVOICE,
                    DUPLICATE,
                    hs_ids or None,
                    ", ".join(ids),
                    "exists",
                    None,
                    f"{len(ids)} invoices",
                    f"QuickBooks invoices {', '.join(ids)} share {label} {value}",
                )
            )

    # ---- QBO payments ----
    if settings.payments.qbo_to_hubspot:
        linked_payments = {
            lk.qbo_id
            for lk in store.list_links(connection_id, PAYMENT)
            if lk.qbo_kind != SALES_RECEIPT  # a receipt's id may equal a Payment's
        }
        payments = [
            p
            for p in await reader.all_ledger_payments()
            if p.id and p.id not in linked_payments and p.status not in ("deleted", "voided")
        ]
        pay_states = store.get_states(
            [RecordKey(connection_id, PAYMENT, Side.QUICKBOOKS, p.id or "") for p in payments]
        )
        for pay in payments:
            key = RecordKey(connection_id, PAYMENT, Side.QUICKBOOKS, pay.id or "")
            if key in pay_states or pay.origin is Side.HUBSPOT:
                continue
            if not any(a.invoice_id in linked_qbo for a in pay.applications):
                continue  # pays no synced invoice: nothing in HubSpot to attach it to
            found.append(
                Finding(
                    PAYMENT,
                    ORPHAN,
                    None,
                    pay.id,
                    "exists",
                    None,
                    "present",
                    "QuickBooks payment on a synced invoice never copied to HubSpot",
                )
            )

    # ---- HubSpot invoices ----
    all_hs = list(await reader.hubspot_changed_invoices(None))
    unlinked_hs = [i for i in all_hs if i not in linked_hs]
    if unlinked_hs:
        invoices = await reader.hubspot_invoices(unlinked_hs)
        hs_states = store.get_states(
            [RecordKey(connection_id, INVOICE, Side.HUBSPOT, i) for i in unlinked_hs]
        )
        for hs_id, inv in sorted(invoices.items()):
            points_at = inv.context.get(HS_QBO_ID)
            if points_at and points_at in linked_qbo:
                found.append(
                    Finding(
                        INVOICE,
                        DUPLICATE,
                        hs_id,
                        points_at,
                        "exists",
                        "present",
                        None,
                        f"HubSpot invoice {hs_id} points at QuickBooks invoice {points_at}, "
                        f"already linked to HubSpot invoice {hs_of_qbo.get(points_at)}",
                    )
                )
                continue
            if RecordKey(connection_id, INVOICE, Side.HUBSPOT, hs_id) in hs_states:
                continue
            if inv.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
                continue  # drafts wait for Finish; voided ones never sync
            if not settings.invoices.hubspot_to_qbo:
                continue
            if not evaluate(settings.filters, inv, Side.HUBSPOT).eligible:
                continue
            found.append(
                Finding(
                    INVOICE,
                    ORPHAN,
                    hs_id,
                    None,
                    "exists",
                    "present",
                    None,
                    "HubSpot invoice never synced to QuickBooks",
                )
            )
    return found
