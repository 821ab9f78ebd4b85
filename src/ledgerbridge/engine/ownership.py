"""HubSpot owns the refund and delete state of the commerce payments copied from QBO payments.

A user refunds or deletes such a payment in HubSpot (the console does it on the commerce payment).
QuickBooks knows nothing of it until refunds travel as RefundReceipt/CreditMemo (a later
milestone), so the next sync of a changed QBO payment must not undo it:

- a share whose HubSpot payment is gone (archived) is never re-created;
- a share whose HubSpot payment carries a refund is updated without its status and refunded
  amount, so the refund stays (unless the QBO payment itself is deleted: then it is refunded in
  full, which only adds to HubSpot's refund).

Each decision is written to the audit log. Reading HubSpot costs one batch read, and only when a
QBO payment that was already copied has changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.domain import Payment
from ledgerbridge.engine.decisions import Plan
from ledgerbridge.engine.payments import DELETED_HASH, payment_hash, share_key
from ledgerbridge.engine.ports import PAYMENT, CrmPort, Link, StorePort

DELETED = "deleted"
REFUNDED = ("refunded", "partially_refunded")
NOTES = "hubspot_owned"  # Plan.extra key: the decisions to audit
WINNER = "hubspot (owns refunds and deletes of payments)"


async def hubspot_states(
    crm: CrmPort, link: Link | None, payment: Payment | None, payment_id: str
) -> dict[str, str]:
    """{QBO invoice id: "deleted" | "refunded" | "partially_refunded"} for the shares of an
    already copied QBO payment whose HubSpot payment HubSpot has refunded or deleted."""
    if payment is None or link is None or link.qbo_hash == payment_hash(payment):
        return {}  # never copied, or unchanged since: nothing will be written
    shares: Mapping[str, str] = link.extra.get("shares") or {}
    if not shares:
        return {}
    pid = payment.id or payment_id
    keys = {share_key(pid, invoice_id): invoice_id for invoice_id in shares}
    found = await crm.find_ledger_payments(list(keys))
    states: dict[str, str] = {}
    for key, invoice_id in keys.items():
        copy = found.get(key)
        if copy is None:
            states[invoice_id] = DELETED  # it was written once (the link says so): deleted since
        elif copy.status in REFUNDED:
            states[invoice_id] = copy.status
    return states


def audit(store: StorePort, connection_id: int, plan: Plan) -> None:
    """Write the plan's ownership decisions (see payments._plan_from_ledger) to the audit log."""
    for field_name, quickbooks_value, hubspot_value in plan.extra.get(NOTES, ()):
        store.audit(
            connection_id,
            PAYMENT,
            plan.qbo_id or plan.key.source_id,
            field_name,
            quickbooks_value,
            hubspot_value,
            WINNER,
        )


async def hubspot_copies(crm: CrmPort, link: Link | None, payment_id: str) -> dict[str, Payment]:
    """{QBO invoice id: HubSpot copy} of a copied QBO payment that QBO no longer has (one batch
    read, and only once: a payment link marked deleted needs nothing more)."""
    if link is None or link.qbo_hash == DELETED_HASH:
        return {}
    shares: Mapping[str, str] = link.extra.get("shares") or {}
    if not shares:
        return {}
    pid = link.qbo_id or payment_id
    keys = {share_key(pid, invoice_id): invoice_id for invoice_id in shares}
    found = await crm.find_ledger_payments(list(keys))
    return {keys[k]: copy for k, copy in found.items() if k in keys}
