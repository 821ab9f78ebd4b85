"""Verified state: a step ends `synced` only when the two books agree.

After a step's writes, each side's invoice is taken as it now is and compared field by field
(engine/compare.py, the sync matrix's definition of "agree"):

- QuickBooks: the entity QBO answered the write with (create, update, void and /batch return
  the whole invoice), else the invoice as read before the step when nothing was written to QBO,
  else one read (a create replayed through its write intent answers with an id only);
- HubSpot: the invoice as read before the step when the step did not write its fields (our own
  sync-status properties are not compared), else one read (a HubSpot write is several calls, none
  of which answers with the whole invoice).

A step that writes nothing compares what it read, at no cost. A payment step that wrote reads
what it wrote once: the HubSpot copies of a QBO payment's shares (one batch read for all of
them), or the QBO payment made from a HubSpot payment (one read). Any difference left makes the
record `diverged` instead of `synced`, carrying the fields and both values; the HubSpot property
`ledgerbridge_sync_status` says so and the audit log gets one entry per field.

Amount paid and balance are not compared here: they move with payments, which sync in their own
steps and may still be on their way when an invoice step ends (a QBO payment shows in the QBO
invoice's balance before its HubSpot copy exists). Reconciliation compares them, once quiet.
Two exceptions: a payment step that leaves part of a HubSpot payment as customer credit in QBO
which it cannot apply to the invoice, while both invoices have the same total, marks the
invoice `diverged` on amount paid and balance (`payment_divergence`); and an invoice diverged
so compares them in its steps until they agree again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ledgerbridge.domain import Invoice, SyncStatus
from ledgerbridge.engine.compare import (
    F_AMOUNT_PAID,
    F_BALANCE,
    compare_invoice,
    compare_payment,
    compare_refunds,
    compare_removed,
    compare_sales_receipt,
)
from ledgerbridge.engine.decisions import (
    CreateLedgerInvoice,
    CreateLedgerPayment,
    CreateLedgerRefund,
    CreateLedgerSalesReceipt,
    Decision,
    Plan,
    RemoveLedgerPayment,
    UpdateCrmInvoice,
    UpdateLedgerInvoice,
    UpsertCrmInvoice,
    UpsertCrmPayment,
    VoidLedgerInvoice,
)
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import (
    INVOICE,
    SALES_RECEIPT,
    CrmPort,
    FieldDifference,
    LedgerPort,
    StoredSyncState,
    StorePort,
    differences_text,
)

DIFFERENCES = "differences"  # Plan.extra key: the FieldDifferences of a diverged record
# Plan.extra keys of a verified invoice: its HubSpot contact id and QBO customer id.
VERIFIED_CONTACT = "verified.contact_id"
VERIFIED_CUSTOMER = "verified.customer_id"
VERIFIED_EMAIL = "verified.email"
CATEGORY = "diverged"
HINT = (
    "Compare the two values in the invoice's panel (Integrations → sync) and keep one side's, "
    "or edit the invoice on either side; then Sync now"
)
WINNER = "none: HubSpot and QuickBooks differ after sync (diverged)"
# Moved by payment steps, compared by reconciliation (see the module docstring).
PAYMENT_FIELDS = (F_AMOUNT_PAID, F_BALANCE)


def step_differences(
    hubspot: Invoice, quickbooks: Invoice, settings: SyncSettings, *, payments: bool = False
) -> list[FieldDifference]:
    """`payments`: compare amount paid and balance too (see the module docstring)."""
    return [
        d
        for d in compare_invoice(hubspot, quickbooks, settings=settings)
        if payments or d.field not in PAYMENT_FIELDS
    ]


def diverged_on_payments(state: StoredSyncState | None) -> bool:
    """An invoice marked diverged on amount paid or balance (it compares them until they agree)."""
    return (
        state is not None
        and state.status is SyncStatus.DIVERGED
        and any(d.field in PAYMENT_FIELDS for d in state.differences)
    )


def payment_divergence(
    hubspot: Invoice, quickbooks: Invoice, settings: SyncSettings
) -> list[FieldDifference]:
    """The amount paid / balance differences of two invoices that agree on everything else
    (their totals too: a total still on its way explains a paid difference); else none."""
    found = compare_invoice(hubspot, quickbooks, settings=settings)
    if not found or any(d.field not in PAYMENT_FIELDS for d in found):
        return []
    return found


def diverged(plan: Plan, differences: Sequence[FieldDifference]) -> Plan:
    """The plan's outcome turned into `diverged`, carrying the differences."""
    decision = Decision(
        SyncStatus.DIVERGED,
        differences_text(differences),
        hint=HINT,
        category=CATEGORY,
        code=CATEGORY,
    )
    return replace(plan, decision=decision, extra={**plan.extra, DIFFERENCES: tuple(differences)})


def plan_differences(plan: Plan) -> tuple[FieldDifference, ...]:
    if plan.decision.status is not SyncStatus.DIVERGED:
        return ()
    return tuple(plan.extra.get(DIFFERENCES, ()))


class Verifier:
    """Counts the reads verification added (for the closing figures and tests)."""

    def __init__(self, crm: CrmPort, ledger: LedgerPort, settings: SyncSettings) -> None:
        self.crm = crm
        self.ledger = ledger
        self.settings = settings
        self.reads = 0

    async def invoice(
        self,
        plan: Plan,
        qbo_written: Invoice | None,
        hs: Invoice | None,
        qbo: Invoice | None,
        hubspot_id: str | None,
        qbo_id: str | None,
        *,
        payments: bool = False,
    ) -> Plan:
        """`qbo_written`: the invoice QBO answered this step's write with (None if no answer
        carried it); `payments`: compare amount paid and balance too. Returns the plan,
        `diverged` when the two sides do not agree."""
        if plan.decision.status is not SyncStatus.SYNCED or not hubspot_id or not qbo_id:
            return plan
        wrote_hs = any(isinstance(op, (UpsertCrmInvoice, UpdateCrmInvoice)) for op in plan.ops)
        wrote_qbo = any(
            isinstance(op, (CreateLedgerInvoice, UpdateLedgerInvoice, VoidLedgerInvoice))
            for op in plan.ops
        )
        after_hs = hs if not wrote_hs else None
        if after_hs is None:
            self.reads += 1
            after_hs = await self.crm.get_invoice(hubspot_id)
        after_qbo = qbo_written if wrote_qbo else qbo
        if after_qbo is not None and qbo is not None and after_qbo.customer is not None:
            # QBO's answer names the customer by id; its email (what "same customer" compares)
            # is on the invoice as read when the customer did not change.
            known = qbo.customer
            if (
                known is not None
                and not after_qbo.customer.email
                and known.id == after_qbo.customer.id
            ):
                after_qbo = replace(after_qbo, customer=known)
        if after_qbo is None or (after_qbo.customer is not None and not after_qbo.customer.email):
            self.reads += 1
            after_qbo = await self.ledger.get_invoice(qbo_id)
        if after_hs is None or after_qbo is None:
            return plan  # one side is gone: the next step reports that
        differences = step_differences(after_hs, after_qbo, self.settings, payments=payments)
        if differences:
            return diverged(plan, differences)
        # Who the invoice's customer is on each side, as verified (the step links them).
        pair = {
            VERIFIED_CONTACT: after_hs.customer.id if after_hs.customer else None,
            VERIFIED_CUSTOMER: after_qbo.customer.id if after_qbo.customer else None,
            VERIFIED_EMAIL: after_hs.customer.match_email if after_hs.customer else None,
        }
        return replace(plan, extra={**plan.extra, **pair})

    async def payment(
        self,
        plan: Plan,
        qbo_payment_id: str | None,
        refund_ids: Sequence[str] = (),
        *,
        customer_id: str | None = None,
    ) -> Plan:
        """A payment step that wrote: each HubSpot copy of a QBO payment's share (one batch
        read for all of them), or the QBO payment made from a HubSpot payment (one read),
        compared with what the other side holds. A step that booked a refund reads the HubSpot
        payment and the QBO RefundReceipts (`refund_ids`, all of the payment's): both books
        must hold the same refunded total. A step that removed a QBO payment reads it again."""
        if plan.decision.status is not SyncStatus.SYNCED:
            return plan
        upserts = [op for op in plan.ops if isinstance(op, UpsertCrmPayment)]
        creates = [op for op in plan.ops if isinstance(op, CreateLedgerPayment)]
        differences: list[FieldDifference] = []
        refunds = [op for op in plan.ops if isinstance(op, CreateLedgerRefund)]
        if refunds and plan.hubspot_id:
            self.reads += 2
            original = await self.crm.get_payment(plan.hubspot_id)
            booked = await self.ledger.refund_total(refund_ids)
            if original is None:
                differences.append(FieldDifference("refunded", None, format(booked, "f")))
            else:
                differences.extend(compare_refunds(original, booked, original.currency))
        for remove in (op for op in plan.ops if isinstance(op, RemoveLedgerPayment)):
            self.reads += 1
            if remove.kind == SALES_RECEIPT:
                held = await self.ledger.get_sales_receipt(remove.qbo_id)
                after = held.payment if held is not None else None
            else:
                after = await self.ledger.get_payment(remove.qbo_id)
            differences.extend(compare_removed(remove.how, after))
        receipts = [op for op in plan.ops if isinstance(op, CreateLedgerSalesReceipt)]
        if receipts and qbo_payment_id:
            self.reads += 1
            receipt = await self.ledger.get_sales_receipt(qbo_payment_id)
            for made in receipts:
                if receipt is None:
                    differences.append(
                        FieldDifference("sales receipt", format(made.receipt.amount, "f"), None)
                    )
                    continue
                expected = (
                    await self.ledger.deposit_account_id(made.receipt.deposit_account)
                    if made.receipt.deposit_account.strip()
                    else None
                )
                differences.extend(
                    compare_sales_receipt(
                        made.payment,
                        receipt.payment,
                        customer_id=customer_id,
                        deposit_account_id=receipt.deposit_account_id,
                        expected_deposit_account_id=expected,
                    )
                )
        if upserts:
            self.reads += 1
            copies = await self.crm.find_ledger_payments([op.external_key for op in upserts])
            for op in upserts:
                invoice_id = op.external_key.rsplit(":", 1)[-1]
                copy = copies.get(op.external_key)
                if copy is None:
                    differences.append(
                        FieldDifference(
                            f"payment share (invoice {invoice_id})",
                            None,
                            format(op.amount, "f"),
                            note="the HubSpot payment written for this share is not there",
                        )
                    )
                    continue
                differences.extend(
                    _named(
                        compare_payment(copy, op.payment, invoice_id=invoice_id),
                        f"invoice {invoice_id}",
                    )
                )
        if creates and qbo_payment_id:
            self.reads += 1
            written = await self.ledger.get_payment(qbo_payment_id)
            for create in creates:
                if written is None:
                    differences.append(
                        FieldDifference("payment", format(create.payment.amount, "f"), None)
                    )
                else:
                    differences.extend(compare_payment(create.payment, written))
        return diverged(plan, differences) if differences else plan


def _named(differences: list[FieldDifference], share: str) -> list[FieldDifference]:
    return [replace(d, field=f"{d.field} ({share})") for d in differences]


def audit_divergence(
    store: StorePort, connection_id: int, plan: Plan, record: str, object_type: str = INVOICE
) -> None:
    """One audit entry per differing field: HubSpot's value, then QuickBooks'."""
    for d in plan_differences(plan):
        store.audit(connection_id, object_type, record, d.field, d.hubspot, d.quickbooks, WINNER)
