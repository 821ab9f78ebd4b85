"""One sync step for one record key: read both sides, plan, apply, record the state.

Errors raised here (Transient, RateLimited, Conflict, ...) are the runner's business: it decides
about retries and backoff. What the step records itself is the outcome of a plan: synced,
excluded, blocked, or failed validation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import NamedTuple

from ledgerbridge.domain import Invoice, Side, SyncStatus
from ledgerbridge.engine import parity
from ledgerbridge.engine.apply import Applied, Applier
from ledgerbridge.engine.decisions import (
    Plan,
    UpdateCrmInvoice,
    UpdateLedgerInvoice,
    UpsertCrmInvoice,
)
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.identity import counterpart_hint, sync_properties_differ
from ledgerbridge.engine.intents import Completions, KeyedLocks, deferred_completions
from ledgerbridge.engine.ledger_credits import LedgerCreditStep
from ledgerbridge.engine.ledger_refunds import LedgerRefundStep
from ledgerbridge.engine.masterdata import MasterDataStep
from ledgerbridge.engine.paid_receipts import PaidInvoiceReceipts, plan_paid_invoice
from ledgerbridge.engine.payment_steps import PaymentSteps
from ledgerbridge.engine.planner import (
    InvoiceInput,
    LedgerInfo,
    plan_invoice,
)
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    ITEM,
    LEDGER_CREDIT,
    LEDGER_REFUND,
    PAYMENT,
    SALES_RECEIPT,
    BatchCrmPort,
    BatchLedgerPort,
    Link,
    RecordKey,
    StoredSyncState,
    StorePort,
)
from ledgerbridge.engine.snapshot import snapshot_hash
from ledgerbridge.engine.state_book import ON_COMMIT, StepResult, error_text, failure_changed
from ledgerbridge.engine.verify import (
    VERIFIED_CONTACT,
    VERIFIED_CUSTOMER,
    VERIFIED_EMAIL,
    Verifier,
    audit_divergence,
    diverged_on_payments,
)

# Outcomes after which the link's bases are both sides as they now are.
SETTLED = (SyncStatus.SYNCED, SyncStatus.DIVERGED)


class SyncStateWrite(NamedTuple):
    """The arguments of CrmPort.set_sync_state."""

    invoice_id: str
    status: SyncStatus
    error: str | None
    qbo_invoice_id: str | None
    qbo_doc_number: str | None


@dataclass(frozen=True)
class Finish:
    """A step's outcome, prepared and not yet recorded (see Stepper.prepare_finish)."""

    key: RecordKey
    plan: Plan
    applied: Applied | None
    before: Link | None  # the link as it was
    link: Link | None  # the link to save
    primary: RecordKey
    previous: StoredSyncState | None
    crm_write: SyncStateWrite | None

    def our_version(self, version: str | None) -> str | None:
        """The HubSpot version our sync-state write produced, remembered on the link so its
        change event is recognised as an echo (only when the link is this invoice's)."""
        if self.crm_write is None or self.link is None:
            return None
        # Only a step whose bases are what HubSpot now holds (synced, or diverged with both
        # sides compared) may call this version "seen". After a failed step the bases are the
        # old ones: remembering the version of our failed-status write would make the next step
        # take HubSpot's unsynced edits as its base and drop them (they would never reach QBO).
        if self.plan.decision.status not in SETTLED:
            return None
        return version if self.link.hubspot_id == self.crm_write.invoice_id else None


def _raised_qbo_total(plan: Plan, applied: Applied | None, before: Invoice | None) -> bool:
    if applied is None or applied.qbo_total is None or before is None:
        return False
    if not any(isinstance(op, UpdateLedgerInvoice) for op in plan.ops):
        return False
    return applied.qbo_total > (before.balance_due or Decimal(0)) + before.amount_paid


@dataclass
class RunReport:
    """Counts of a round of steps by outcome."""

    claimed: int = 0
    synced: int = 0
    failed: int = 0
    excluded: int = 0
    blocked: int = 0
    diverged: int = 0
    retrying: int = 0
    skipped: int = 0
    results: list[StepResult] = field(default_factory=list)

    def count(self, status: SyncStatus | None) -> None:
        if status is SyncStatus.SYNCED:
            self.synced += 1
        elif status is SyncStatus.FAILED:
            self.failed += 1
        elif status is SyncStatus.EXCLUDED:
            self.excluded += 1
        elif status is SyncStatus.BLOCKED:
            self.blocked += 1
        elif status is SyncStatus.DIVERGED:
            self.diverged += 1
        else:
            self.skipped += 1


class Stepper(PaymentSteps, PaidInvoiceReceipts):
    """Runs one record's sync step: read both sides, plan, apply, record link, base and state."""

    crm: BatchCrmPort
    ledger: BatchLedgerPort

    def __init__(
        self,
        connection_id: int,
        crm: BatchCrmPort,
        ledger: BatchLedgerPort,
        store: StorePort,
        settings: SyncSettings,
        applier: Applier,
        locks: KeyedLocks,
        ledger_info: Callable[[], Awaitable[LedgerInfo]],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.settings = settings
        self.applier = applier
        self.locks = locks
        self.ledger_info = ledger_info
        self.clock = clock
        # HubSpot invoices already read in a batch (backfill): used once instead of a re-read.
        self.prefetched: dict[str, Invoice] = {}
        self.verifier = Verifier(crm, ledger, settings)

    async def run(self, key: RecordKey) -> StepResult | None:
        if key.object_type == INVOICE:
            return await self.invoice(key)
        if key.object_type == PAYMENT:
            return await self.payment(key)
        if key.object_type in (CUSTOMER, ITEM):
            # Created as dependencies of invoices; once linked, kept equal both ways.
            step = MasterDataStep(
                self.connection_id, self.crm, self.ledger, self.store, self.record_state, self.locks
            )
            return await step.run(key)
        if key.object_type == LEDGER_REFUND:
            # A refund receipt made in QBO: to the HubSpot payment it refunds, when one fits.
            refund_step = LedgerRefundStep(
                self.connection_id,
                self.crm,
                self.ledger,
                self.store,
                self.settings,
                self.record_state,
            )
            return await refund_step.run(key)
        if key.object_type == LEDGER_CREDIT:
            # A credit memo made in QBO: checked in HubSpot once applied, else reported.
            credit_step = LedgerCreditStep(
                self.connection_id, self.crm, self.ledger, self.record_state, self.store
            )
            return await credit_step.run(key)
        return None

    # ---- invoices --------------------------------------------------------------------------
    async def invoice(self, key: RecordKey) -> StepResult:
        conn = self.connection_id
        link, state = self._invoice_reads(key)
        hs_id = link.hubspot_id if link else (key.source_id if key.side is Side.HUBSPOT else None)
        qbo_id = link.qbo_id if link else (key.source_id if key.side is Side.QUICKBOOKS else None)
        names = [f"{conn}:invoice:hs:{hs_id}"] if hs_id else []
        names += [f"{conn}:invoice:qbo:{qbo_id}"] if qbo_id else []
        async with self.locks.hold(*names) as waited, deferred_completions(self.store) as done:
            if waited:
                # Another step may have linked this invoice while we waited for the lock.
                link, state = self._invoice_reads(key)
            hs_id = link.hubspot_id if link and link.hubspot_id else hs_id
            qbo_id = link.qbo_id if link and link.qbo_id else qbo_id
            if link is not None and link.qbo_kind == SALES_RECEIPT:
                qbo_id = None  # recorded as a sales receipt: there is no QBO invoice to read
            hs, qbo = await self._read_pair(hs_id, qbo_id, link)
            info = await self.ledger_info()
            if key.side is Side.HUBSPOT:
                prefs = (info.home_currency, info.multicurrency)
                paid = plan_paid_invoice(key, hs, link, self.settings, self.clock(), prefs)
                if paid is not None:
                    return await self.receipt_invoice(key, paid, link)
            plan = plan_invoice(InvoiceInput(key, hs, qbo, link, self.settings, info))
            applied: Applied | None = None
            if plan.writes:
                applied = await self.applier.apply(plan, link)
            plan = parity.check(
                plan,
                applied.qbo_total if applied else None,
                hs,
                qbo,
                parity.auditor(self.store, conn),
            )
            # Synced only if the two books now agree (verify.py).
            plan = await self.verifier.invoice(
                plan,
                applied.qbo_record if applied else None,
                hs,
                qbo,
                (applied.hubspot_id if applied else None) or plan.hubspot_id,
                (applied.qbo_id if applied else None) or plan.qbo_id,
                payments=diverged_on_payments(state),
            )
            settled = plan

            def link_customers() -> None:
                self._link_customers(settled, (hs or qbo), info)

            also = link_customers if plan.decision.status is SyncStatus.SYNCED else None
            result = await self.finish_invoice(
                key,
                plan,
                applied,
                hs,
                link,
                known=(self.primary_of(key, link), state),
                also=also,
                completions=done,
            )
            # `qbo_id` is the QBO invoice the step started from: read as None, it was deleted
            # there (an invoice this step created is not one).
            await self.find_deleted_payments(hs, qbo, result.plan.hubspot_id or hs_id, qbo_id)
        if _raised_qbo_total(plan, applied, qbo) and result.plan.hubspot_id:
            # The QBO invoice owes more now: a HubSpot payment that left credit on it (it owed
            # less when the payment was recorded) applies it (payment_steps.py).
            await self._wake_credits([result.plan.hubspot_id], "its QuickBooks invoice owes more")
        return result

    def _invoice_reads(self, key: RecordKey) -> tuple[Link | None, StoredSyncState | None]:
        """What a step reads from the store before it starts, in one read transaction: the
        invoice's link and the state stored on its primary key."""
        with self.store.reading():
            link = self.store.get_link(self.connection_id, INVOICE, key.side, key.source_id)
            return link, self.store.get_state(self.primary_of(key, link))

    def _link_customers(self, plan: Plan, invoice: Invoice | None, info: LedgerInfo) -> None:
        """A verified invoice pairs its HubSpot contact with its QBO customer: link them (if
        neither is linked yet) so that later edits of either flow across (masterdata.py).
        This is how the customers of invoices that came from QuickBooks get linked; it costs
        no request (the verification read both invoices)."""
        contact = plan.extra.get(VERIFIED_CONTACT)
        customer = plan.extra.get(VERIFIED_CUSTOMER)
        if not contact or not customer or invoice is None:
            return
        currency = invoice.currency.upper()
        foreign = info.multicurrency and currency != info.home_currency.upper()
        source = f"{contact}@{currency}" if foreign else str(contact)
        conn = self.connection_id
        if self.store.get_link(conn, CUSTOMER, Side.HUBSPOT, source) is not None:
            return
        if self.store.get_link(conn, CUSTOMER, Side.QUICKBOOKS, customer) is not None:
            return
        email = plan.extra.get(VERIFIED_EMAIL)
        self.store.save_link(Link(conn, CUSTOMER, source, str(customer), extra={"email": email}))

    async def finish_invoice(
        self,
        key: RecordKey,
        plan: Plan,
        applied: Applied | None,
        hs: Invoice | None,
        link: Link | None,
        *,
        known: tuple[RecordKey, StoredSyncState | None] | None = None,
        also: Callable[[], None] | None = None,
        completions: Completions | None = None,
    ) -> StepResult:
        """After the writes: link and bases, the HubSpot sync properties, the stored state, and
        the records that were waiting for this invoice. Everything the store records is one
        transaction: the link, the audit, the state, the records woken, `also` (more writes of
        the step), the intents completed by the step's writes (`completions`) and, when the
        outcome policy asks for it (ON_COMMIT), the release of the dirty key.
        `known`: (primary key, its stored state) as read at the start of the step."""
        done = self.prepare_finish(key, plan, applied, hs, link, known=known)
        hs_version: str | None = None
        try:
            if done.crm_write is not None:
                result = await self.crm.set_sync_state(*done.crm_write)
                hs_version = done.our_version(result.version)
        except BaseException:
            # The QBO write is done: its link is saved even if the HubSpot write failed.
            with self.store.unit_of_work():
                self.save_finished_link(done, None)
                if completions is not None:
                    self.store.complete_intents(completions.take())
            raise
        with self.store.unit_of_work():
            if completions is not None:
                self.store.complete_intents(completions.take())
            if also is not None:
                also()
            finished = self.commit_finish(done, hs_version)
            hook = ON_COMMIT.get()
            if hook is not None:
                hook(finished)
        return finished

    def prepare_finish(
        self,
        key: RecordKey,
        plan: Plan,
        applied: Applied | None,
        hs: Invoice | None,
        link: Link | None,
        states: Mapping[RecordKey, StoredSyncState] | None = None,
        *,
        known: tuple[RecordKey, StoredSyncState | None] | None = None,
    ) -> Finish:
        """What finishing a step will record, and the HubSpot sync-state write it needs (if
        any). Reads only: batches prepare many, write HubSpot once, then commit them together.
        `states`: the stored states, when the caller read them all at once; `known`: one key's
        stored state (None: it has none), read earlier in the step."""
        if applied is None and link is None and plan.hubspot_id and plan.qbo_id:
            # A pair adopted by natural key with nothing to write: link it all the same.
            applied = Applied(
                hubspot_id=plan.hubspot_id,
                qbo_id=plan.qbo_id,
                hubspot_version=plan.hubspot_version,
                qbo_version=plan.qbo_version,
                customer_qbo_id=plan.extra.get("customer_qbo_id"),
                matched=[f"quickbooks invoice {plan.qbo_id}"],
            )
        before = link
        if applied is not None:
            link = self.applier.invoice_link(plan, applied, link)
        elif link is not None and plan.decision.status in SETTLED:
            link = self._refreshed_link(link, plan)
        primary = self._invoice_primary(key, plan, applied, link)
        if known is not None and known[0] == primary:
            previous = known[1]
        elif states is not None:
            previous = states.get(primary)
        else:
            previous = self.store.get_state(primary)
        write = self._crm_state_write(plan, applied, hs, link, previous)
        return Finish(key, plan, applied, before, link, primary, previous, write)

    def save_finished_link(self, done: Finish, hs_version: str | None) -> Link | None:
        # One save for the link, bases and both versions (ours included, for echo suppression).
        link = done.link
        if link is not None and hs_version:
            link = replace(link, hubspot_version=hs_version)
        if link is not None and link != done.before:
            self.store.save_link(link)
        return link

    def commit_finish(self, done: Finish, hs_version: str | None) -> StepResult:
        """Record a prepared finish: link, audit, state, unblocked records. Store writes only
        (callers may group many in one unit of work)."""
        plan, applied = done.plan, done.applied
        link = self.save_finished_link(done, hs_version)
        if link is not None and plan.decision.status in SETTLED:
            self.applier.audit(plan, INVOICE, link.hubspot_id or "")
            audit_divergence(self.store, self.connection_id, plan, link.hubspot_id or "")
        self.record_state(done.primary, plan, applied, done.previous, read=False)
        if plan.decision.status in SETTLED:
            self._unblock(plan, applied, link)
        elif plan.decision.status is SyncStatus.EXCLUDED:
            # Records waiting for an invoice that will never sync are excluded with it.
            for waiting in self.store.blocked_on(done.primary):
                self.store.mark_dirty(waiting, "dependency excluded")
        elif plan.decision.status is SyncStatus.FAILED and failure_changed(
            done.previous, plan.decision.message
        ):
            # Records waiting for it say why they wait (and stop retrying until it changes).
            self.requeue_waiting(done.primary, "dependency failed")
        return StepResult(done.primary, plan, applied)

    async def preview(self, key: RecordKey) -> tuple[Plan, Link | None]:
        """Read and plan without writing anything (dry runs)."""
        conn = self.connection_id
        if key.object_type == PAYMENT:
            return await self._plan_payment(key), self.store.get_link(
                conn, PAYMENT, key.side, key.source_id
            )
        link = self.store.get_link(conn, INVOICE, key.side, key.source_id)
        hs_id = link.hubspot_id if link else (key.source_id if key.side is Side.HUBSPOT else None)
        qbo_id = link.qbo_id if link else (key.source_id if key.side is Side.QUICKBOOKS else None)
        hs, qbo = await self._read_pair(hs_id, qbo_id, link)
        info = await self.ledger_info()
        return plan_invoice(InvoiceInput(key, hs, qbo, link, self.settings, info)), link

    async def _read_pair(
        self, hs_id: str | None, qbo_id: str | None, link: Link | None
    ) -> tuple[Invoice | None, Invoice | None]:
        hs = self.prefetched.pop(hs_id, None) if hs_id else None
        if hs is None and hs_id:
            hs = await self.crm.get_invoice(hs_id)
        qbo = await self.ledger.get_invoice(qbo_id) if qbo_id else None
        # A record that names its counterpart while no link exists (a crash between a write
        # and its link): read the counterpart, and the planner adopts the pair.
        if link is None and qbo is None and hs is not None:
            other = counterpart_hint(hs, Side.HUBSPOT)
            qbo = await self.ledger.get_invoice(other) if other else None
        elif link is None and hs is None and qbo is not None:
            other = counterpart_hint(qbo, Side.QUICKBOOKS)
            hs = await self.crm.get_invoice(other) if other else None
        return hs, qbo

    def _refreshed_link(self, link: Link, plan: Plan) -> Link:
        """The link with the bases and versions of what was just read (nothing written)."""
        base = {
            "hubspot": dict(plan.base_hubspot or {}),
            "quickbooks": dict(plan.base_quickbooks or {}),
        }
        return replace(
            link,
            base=base,
            hubspot_version=plan.hubspot_version or link.hubspot_version,
            qbo_version=plan.qbo_version or link.qbo_version,
            hubspot_hash=snapshot_hash(base["hubspot"]),
            qbo_hash=snapshot_hash(base["quickbooks"]),
        )

    def _invoice_primary(
        self, key: RecordKey, plan: Plan, applied: Applied | None, link: Link | None
    ) -> RecordKey:
        origin = plan.origin or key.side
        hs_id = (
            (applied.hubspot_id if applied else None)
            or plan.hubspot_id
            or (link.hubspot_id if link else None)
        )
        qbo_id = (
            (applied.qbo_id if applied else None) or plan.qbo_id or (link.qbo_id if link else None)
        )
        source = hs_id if origin is Side.HUBSPOT else qbo_id
        if not source:
            return key
        return RecordKey(self.connection_id, INVOICE, origin, source)

    def _crm_state_write(
        self,
        plan: Plan,
        applied: Applied | None,
        hs: Invoice | None,
        link: Link | None,
        previous: StoredSyncState | None,
    ) -> SyncStateWrite | None:
        """The write that keeps ledgerbridge_sync_status / _error / qbo_invoice_id /
        qbo_doc_number current, or None when HubSpot already shows it."""
        status = plan.decision.status
        hs_id = (
            (applied.hubspot_id if applied else None)
            or plan.hubspot_id
            or (link.hubspot_id if link else None)
        )
        if status is None or not hs_id:
            return None
        qbo_id = (applied.qbo_id if applied else None) or (link.qbo_id if link else None)
        number = (applied.qbo_number if applied else None) or (
            link.extra.get("doc_number") if link else None
        )
        error = error_text(plan) if status is not SyncStatus.SYNCED else None
        # The invoice as read is still current unless this step wrote to it.
        fresh = hs is not None and not any(
            isinstance(op, (UpsertCrmInvoice, UpdateCrmInvoice)) for op in plan.ops
        )
        same_error = (
            previous is not None
            and previous.status is status
            and (
                status is SyncStatus.SYNCED
                or (previous.message, previous.hint) == (plan.decision.message, plan.decision.hint)
            )
        )
        if (
            fresh
            and hs is not None
            and same_error
            and not sync_properties_differ(hs, status, qbo_id, number)
        ):
            return None
        return SyncStateWrite(hs_id, status, error, qbo_id, number)

    def _unblock(self, plan: Plan, applied: Applied | None, link: Link | None) -> None:
        for dependency in self.dependencies_done(plan, applied, link):
            for waiting in self.store.blocked_on(dependency):
                self.store.mark_dirty(waiting, "dependency synced")

    def dependencies_done(
        self, plan: Plan, applied: Applied | None, link: Link | None
    ) -> list[RecordKey]:
        """The keys other records may be blocked on, now that this invoice synced."""
        out: list[RecordKey] = []
        ids = {
            Side.HUBSPOT: (applied.hubspot_id if applied else None)
            or (link.hubspot_id if link else None),
            Side.QUICKBOOKS: (applied.qbo_id if applied else None)
            or (link.qbo_id if link else None),
        }
        if applied is not None and any(c.startswith("quickbooks invoice") for c in applied.created):
            ids[Side.QUICKBOOKS] = None  # a QBO invoice created just now: nothing waits on it
        for side, source in ids.items():
            if not source:
                continue
            out.append(RecordKey(self.connection_id, INVOICE, side, source))
        return out
