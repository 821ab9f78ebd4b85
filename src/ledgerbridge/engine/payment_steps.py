"""The sync step of one payment (a mixin of the Stepper, engine/steps.py): read it, plan it
(engine/payments.py), apply it, verify what both sides now hold (engine/verify.py), record the
state and the decisions HubSpot owns (engine/ownership.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from ledgerbridge.domain import Invoice, InvoiceStatus, Side, SyncStatus
from ledgerbridge.engine import ownership
from ledgerbridge.engine.apply import Applied, Applier
from ledgerbridge.engine.decisions import ApplyLedgerCredit, CreateLedgerPayment, Decision, Plan
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.intents import KeyedLocks
from ledgerbridge.engine.payments import (
    COPY,
    PAID_INVOICES,
    REFUND_IDS,
    REMOVED_IN_QBO,
    REOPENED,
    UNAPPLIED_CREDIT,
    WAITING_ALSO_ON,
    PaymentInput,
    plan_payment,
)
from ledgerbridge.engine.ports import INVOICE, PAYMENT, REFUND, LedgerPort, Link, RecordKey
from ledgerbridge.engine.state_book import StateBook, StepResult
from ledgerbridge.engine.verify import (
    Verifier,
    audit_divergence,
    diverged,
    diverged_on_payments,
    payment_divergence,
)
from ledgerbridge.errors import SyncError

# A QBO payment's step that ends so has its copies in HubSpot (or HubSpot owns their state).
SETTLED_PAYMENT = (SyncStatus.SYNCED, SyncStatus.DIVERGED)


class PaymentSteps(StateBook):
    """Mixin of the Stepper; the attributes are the Stepper's."""

    ledger: LedgerPort
    settings: SyncSettings
    applier: Applier
    locks: KeyedLocks
    verifier: Verifier

    async def payment(self, key: RecordKey) -> StepResult:
        conn = self.connection_id
        async with self.locks.hold(f"{conn}:payment:{key.side.value}:{key.source_id}"):
            link = self.store.get_link(conn, PAYMENT, key.side, key.source_id)
            plan = await self._plan_payment(key)
            applied: Applied | None = None
            if plan.writes:
                applied = await self.applier.apply(plan, link)
                self.applier.record_payment(plan, applied, link)
                # Synced only if both sides now hold the same payment (verify.py).
                kind = REFUND if plan.extra.get(COPY) else PAYMENT
                saved = self.store.get_link(conn, kind, key.side, key.source_id)
                refund_ids = list((saved.extra.get(REFUND_IDS) or []) if saved else [])
                plan = await self.verifier.payment(
                    plan, applied.qbo_id, refund_ids, customer_id=applied.customer_qbo_id
                )
                audit_divergence(
                    self.store, conn, plan, plan.qbo_id or key.source_id, object_type=PAYMENT
                )
            elif link is not None and key.side is Side.QUICKBOOKS and plan.extra.get("qbo_hash"):
                # Remember the version seen, so change feeds recognise it as already synced.
                fresh = replace(
                    link,
                    qbo_hash=plan.extra["qbo_hash"],
                    qbo_version=plan.qbo_version or link.qbo_version,
                )
                if fresh != link:
                    self.store.save_link(fresh)
            for waiting in plan.wake:
                self.store.mark_dirty(waiting, f"needed by payment {key.source_id}")
            if plan.decision.status is SyncStatus.BLOCKED and plan.extra.get(WAITING_ALSO_ON):
                # Waits for one of its invoices, which failed to sync: HubSpot counts it on the
                # others already, QBO does not, until someone fixes that invoice.
                await self._flag_credit_left(dict.fromkeys(plan.extra[WAITING_ALSO_ON], Decimal(0)))
            if applied is not None:
                if applied.unapplied:
                    await self._flag_credit_left(applied.unapplied)
                others = _other_invoices(plan, applied.unapplied or {})
                if others:
                    # One HubSpot payment over several invoices: HubSpot does not say how it
                    # is split (the sync matrix), so compare each invoice's amount paid now.
                    await self._flag_credit_left(dict.fromkeys(others, Decimal(0)))
                self._wake_payment_divergences(plan)
            first_seen = link is None or link.qbo_hash != plan.extra.get("qbo_hash")
            if plan.extra.get(REOPENED) and (applied is not None or first_seen):
                reason = f"QuickBooks payment {key.source_id} removed"
                await self._wake_credits(plan.extra[REOPENED], reason)
            self.record_state(key, plan, applied)
            if key.side is Side.QUICKBOOKS and plan.decision.status in SETTLED_PAYMENT:
                # Refund receipts and credit memos made in QBO wait for its copies in HubSpot.
                for waiting in self.store.blocked_on(key):
                    self.store.mark_dirty(waiting, f"QuickBooks payment {key.source_id} synced")
            on = plan.decision.blocked_on
            if plan.decision.status is SyncStatus.BLOCKED and on is not None and not plan.wake:
                # Blocked on a failed invoice, nothing retries it: if that invoice moved on
                # while this step ran (its re-queue saw no blocked payment yet), go again.
                state = self.store.get_state(on)
                if state is None or state.status is not SyncStatus.FAILED:
                    self.store.mark_dirty(key, "dependency changed")
            ownership.audit(self.store, conn, plan)
            return StepResult(key, plan, applied)

    async def _flag_credit_left(self, unapplied: Mapping[str, Decimal]) -> None:
        """Credit this payment left in QBO that it could not apply (or, for a payment over
        several invoices, its other invoices, also while it waits for one that failed to sync):
        if HubSpot counts more paid and the two invoices agree on everything but amount paid
        and balance (totals included), the invoice is `diverged` on those, with both values; it
        compares them until they agree again."""
        conn = self.connection_id
        for qbo_invoice_id in unapplied:
            link = self.store.get_link(conn, INVOICE, Side.QUICKBOOKS, qbo_invoice_id)
            if link is None or not link.hubspot_id:
                continue
            # The invoice's own step holds these: one running now would record what it read
            # before this divergence (synced) over it.
            names = (f"{conn}:invoice:hs:{link.hubspot_id}", f"{conn}:invoice:qbo:{qbo_invoice_id}")
            async with self.locks.hold(*names):
                await self._flag_invoice(link, qbo_invoice_id)

    async def _flag_invoice(self, link: Link, qbo_invoice_id: str) -> None:
        conn = self.connection_id
        hubspot_id = link.hubspot_id or ""
        hs = await self.crm.get_invoice(hubspot_id)
        qbo = await self.ledger.get_invoice(qbo_invoice_id)
        # HubSpot counting more is the credit QBO keeps; QBO counting more is a QBO payment
        # whose HubSpot copy is still on its way.
        stuck = hs is not None and qbo is not None and hs.amount_paid > qbo.amount_paid
        found = payment_divergence(hs, qbo, self.settings) if hs and qbo and stuck else []
        if not found:
            return
        primary = self.primary_key(RecordKey(conn, INVOICE, Side.QUICKBOOKS, qbo_invoice_id))
        previous = self.store.get_state(primary)
        plan = diverged(
            Plan(
                primary,
                Decision(SyncStatus.SYNCED),
                hubspot_id=hubspot_id,
                qbo_id=qbo_invoice_id,
                label=previous.label if previous else None,
                amount=previous.amount if previous else None,
                currency=previous.currency if previous else None,
            ),
            found,
        )
        self.record_state(primary, plan, None, previous)
        audit_divergence(self.store, conn, plan, hubspot_id)
        with contextlib.suppress(SyncError):
            await self.crm.set_sync_state(
                hubspot_id,
                SyncStatus.DIVERGED,
                plan.decision.message,
                qbo_invoice_id,
                link.extra.get("doc_number"),
            )

    def _wake_payment_divergences(self, plan: Plan) -> None:
        """Invoices diverged on amount paid (see _flag_credit_left) this payment step touched:
        they compare again, and are `synced` once both books count the same."""
        conn = self.connection_id
        ids = set(plan.extra.get("shares") or {})
        for op in plan.ops:
            if isinstance(op, CreateLedgerPayment):
                ids |= {a.invoice_id for a in op.payment.applications}
            elif isinstance(op, ApplyLedgerCredit):
                ids |= set(op.credits)
        for qbo_invoice_id in ids:
            primary = self.primary_key(RecordKey(conn, INVOICE, Side.QUICKBOOKS, qbo_invoice_id))
            if diverged_on_payments(self.store.get_state(primary)):
                self.store.mark_dirty(primary, "a payment on it changed")

    async def find_deleted_payments(
        self,
        hs: Invoice | None,
        qbo: Invoice | None,
        hubspot_id: str | None,
        qbo_invoice_id: str | None = None,
    ) -> None:
        """An invoice step that reads QBO counting more paid than HubSpot, a voided invoice
        (QBO zeroes a voided invoice's amounts, so they tell nothing), or a QBO invoice the
        bookkeeper deleted (`qbo` None, `qbo_invoice_id` its id: its payments stay in QBO as
        the customer's credit): a HubSpot payment recorded in QBO that is no longer on the
        HubSpot invoice was deleted there, and its deletion webhook may never have come
        (HubSpot's search never returns archived records, so no poll sees a delete). Its step
        voids (or deletes) the QBO payment as the settings say. One read of the HubSpot
        invoice's payments (2 to 3 requests), only when such payments exist; the links are
        scanned in the store (no request)."""
        invoice_id = qbo.id if qbo is not None else qbo_invoice_id
        if hs is None or not hubspot_id or not invoice_id:
            return
        if self.settings.refunds.deleted_payment == "none":
            return
        if qbo is not None:
            voided = InvoiceStatus.VOIDED in (hs.status, qbo.status)  # QBO zeroes its amounts
            if qbo.amount_paid <= hs.amount_paid and not voided:
                return
        conn = self.connection_id
        recorded = [
            lk.hubspot_id
            for lk in self.store.list_links(conn, PAYMENT)
            if lk.hubspot_id
            and lk.extra.get("origin") == Side.HUBSPOT.value
            and invoice_id in (lk.extra.get(PAID_INVOICES) or ())
            and not lk.extra.get(REMOVED_IN_QBO)
        ]
        if not recorded:
            return
        live = {p.id for p in await self.crm.list_invoice_payments(hubspot_id)}
        for payment_id in recorded:
            if payment_id not in live:
                key = RecordKey(conn, PAYMENT, Side.HUBSPOT, payment_id)
                self.store.mark_dirty(key, f"no longer on HubSpot invoice {hubspot_id}")

    async def _wake_credits(self, hubspot_invoices: Sequence[str], reason: str) -> None:
        """QBO invoices that owe more now (a payment on them deleted or voided, their total
        raised): the HubSpot payments on them that left credit in QBO (the invoice owed less
        when they were recorded) apply it. One HubSpot read per invoice."""
        conn = self.connection_id
        for invoice_id in hubspot_invoices:
            for payment in await self.crm.list_invoice_payments(invoice_id):
                link = self.store.get_link(conn, PAYMENT, Side.HUBSPOT, payment.id or "")
                if link is not None and link.extra.get(UNAPPLIED_CREDIT):
                    key = RecordKey(conn, PAYMENT, Side.HUBSPOT, link.hubspot_id or "")
                    self.store.mark_dirty(key, reason)

    async def _plan_payment(self, key: RecordKey) -> Plan:
        conn = self.connection_id
        link = self.store.get_link(conn, PAYMENT, key.side, key.source_id)
        if key.side is Side.QUICKBOOKS:
            payment = await self.ledger.get_payment(key.source_id)
        else:
            payment = await self.crm.get_payment(key.source_id)
            if payment is not None and payment.copy_of:
                # A copy of a QBO payment: its refunds booked in QBO are kept on its own link.
                link = self.store.get_link(conn, REFUND, key.side, key.source_id)
        invoice_links: dict[str, Link | None] = {}
        excluded: set[str] = set()
        failed: dict[str, str] = {}
        for app in payment.applications if payment else ():
            invoice_links[app.invoice_id] = self.store.get_link(
                conn, INVOICE, key.side, app.invoice_id
            )
            state = self.store.get_state(RecordKey(conn, INVOICE, key.side, app.invoice_id))
            if state is not None and state.status is SyncStatus.EXCLUDED:
                excluded.add(app.invoice_id)
            elif state is not None and state.status is SyncStatus.FAILED:
                # failed for good (not a transient retry, which is `pending`): say why
                failed[app.invoice_id] = state.message or "see the invoice's error"
        # HubSpot owns refunds and deletes of the payments copied from QBO: read what it did.
        owned = (
            await ownership.hubspot_states(self.crm, link, payment, key.source_id)
            if key.side is Side.QUICKBOOKS
            else {}
        )
        # A copied QBO payment deleted in QBO: what HubSpot holds of it, to refund it there.
        copies = (
            await ownership.hubspot_copies(self.crm, link, key.source_id)
            if key.side is Side.QUICKBOOKS
            and (payment is None or payment.status in ("deleted", "voided"))
            else {}
        )
        # A HubSpot payment tied to no invoice, not recorded yet: a sales receipt once settled.
        receipt = (
            key.side is Side.HUBSPOT
            and payment is not None
            and not payment.applications
            and (link is None or not link.qbo_id)
            and self.settings.sales_receipts.enabled
        )
        return plan_payment(
            PaymentInput(
                key,
                payment,
                link,
                invoice_links,
                frozenset(excluded),
                self.settings,
                owned,
                copies,
                failed,
                now=self.clock() if receipt else None,
                currency_prefs=await self.ledger.company_currency() if receipt else None,
            )
        )


def _other_invoices(plan: Plan, flagged: Mapping[str, Decimal]) -> list[str]:
    """The QBO invoices of a HubSpot payment over several invoices, beyond those whose credit
    was already looked at."""
    ids: list[str] = []
    for op in plan.ops:
        if isinstance(op, CreateLedgerPayment) and len(op.payment.applications) > 1:
            ids += [a.invoice_id for a in op.payment.applications if a.invoice_id not in flagged]
    return list(dict.fromkeys(ids))
