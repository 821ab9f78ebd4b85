"""Backfill fast path: create new QBO invoices through the ledger's batch endpoint.

Same guarantees as one-by-one creates: every invoice gets its write intent committed before the
batch is sent, with its deterministic request id and external key; anything unusual (an intent
already begun, a dependency that fails, an item whose outcome is unknown) falls back to the
ordinary sync step, which knows how to recover.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace

from ledgerbridge.domain import Invoice, Side, SyncStatus
from ledgerbridge.engine import parity
from ledgerbridge.engine.apply import Applied
from ledgerbridge.engine.decisions import CreateLedgerInvoice, EnsureCustomer, EnsureItems, Plan
from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy
from ledgerbridge.engine.identity import counterpart_hint
from ledgerbridge.engine.intents import intent_key
from ledgerbridge.engine.planner import InvoiceInput, plan_invoice
from ledgerbridge.engine.ports import INVOICE, InvoiceCreate, Link, RecordKey, WriteResult
from ledgerbridge.engine.state_book import StepResult
from ledgerbridge.engine.steps import SETTLED, Finish, RunReport, Stepper
from ledgerbridge.engine.verify import audit_divergence
from ledgerbridge.errors import SyncError, Transient


@dataclass
class _Pending:
    key: RecordKey
    invoice: Invoice
    plan: Plan
    create: CreateLedgerInvoice
    customer_id: str | None = None
    item_ids: tuple[str, ...] = ()


class BatchCreator:
    """Creates a page of new QBO invoices through /batch, falling back to single steps for anything
    unusual.
    """

    def __init__(self, stepper: Stepper, concurrency: int) -> None:
        self.stepper = stepper
        self.concurrency = max(1, concurrency)

    async def run(self, invoices: Sequence[Invoice], report: RunReport) -> list[RecordKey]:
        """Sync what can go through the batch path; returns the keys left for ordinary steps."""
        stepper = self.stepper
        conn = stepper.connection_id
        store = stepper.store
        info = await stepper.ledger_info()
        leftover: list[RecordKey] = []
        pending: list[_Pending] = []
        finished: list[tuple[RecordKey, Plan, Invoice]] = []
        with store.unit_of_work():  # the link lookups share one read transaction
            linked = store.get_links(
                conn, INVOICE, Side.HUBSPOT, [inv.id or "" for inv in invoices]
            )
            for invoice in invoices:
                key = RecordKey(conn, INVOICE, Side.HUBSPOT, invoice.id or "")
                link = linked.get(key.source_id)
                if link or counterpart_hint(invoice, Side.HUBSPOT):
                    leftover.append(key)
                    continue
                plan = plan_invoice(InvoiceInput(key, invoice, None, None, stepper.settings, info))
                create = next((op for op in plan.ops if isinstance(op, CreateLedgerInvoice)), None)
                if create is None:
                    finished.append((key, plan, invoice))  # excluded, failed validation, draft...
                else:
                    pending.append(_Pending(key, invoice, plan, create))
        gate = asyncio.Semaphore(self.concurrency)

        async def finish(key: RecordKey, plan: Plan, invoice: Invoice) -> None:
            async with gate:
                result = await stepper.finish_invoice(key, plan, None, invoice, None)
                report.results.append(result)
                report.count(plan.decision.status)

        await asyncio.gather(*(finish(*item) for item in finished))
        # The page's new customers and items in a few /batch calls (sent together) instead of
        # one request (and three commits) each; what this leaves unresolved, the per-invoice
        # path below resolves.
        resolver = stepper.applier.resolver
        customers = [
            (op.customer, op.currency, op.home_currency)
            for p in pending
            for op in p.plan.ops
            if isinstance(op, EnsureCustomer)
        ]
        lines = [
            (line, op.policy is ProductNotFoundPolicy.CREATE_ITEM)
            for p in pending
            for op in p.plan.ops
            if isinstance(op, EnsureItems)
            for line in op.lines
        ]
        async with resolver.preparing:
            await asyncio.gather(
                _quietly(resolver.prepare_customers(customers)),
                _quietly(resolver.prepare_items(lines)),
            )
        ready = [p for p in await asyncio.gather(*(self._resolve(p, gate) for p in pending)) if p]
        resolved = {id(p) for p in ready}
        leftover.extend(p.key for p in pending if id(p) not in resolved)
        batch = self._begin(ready, leftover)
        if batch:
            await self._send(batch, report, gate, leftover)
        return leftover

    async def _resolve(self, item: _Pending, gate: asyncio.Semaphore) -> _Pending | None:
        resolver = self.stepper.applier.resolver
        async with gate:
            try:
                for op in item.plan.ops:
                    if isinstance(op, EnsureItems):
                        ids = await resolver.item_ids(op.lines, op.policy, op.default_item_name)
                        item.item_ids = tuple(i or "" for i in ids)
                    elif isinstance(op, EnsureCustomer):
                        item.customer_id = await resolver.customer_id(
                            op.customer, op.currency, op.home_currency
                        )
            except SyncError:
                return None  # the ordinary step records the failure (or retries) properly
        return item if item.customer_id and all(item.item_ids) else None

    def _begin(
        self, ready: list[_Pending], leftover: list[RecordKey]
    ) -> list[tuple[_Pending, str]]:
        """Commit the write intents of the whole batch, in one transaction, before any of it
        is sent (the idempotency guarantee: a crash after this replays with the same keys)."""
        store = self.stepper.store
        conn = self.stepper.connection_id
        batch: list[tuple[_Pending, str]] = []
        keys = [intent_key(conn, INVOICE, item.key.source_id) for item in ready]
        # Intents begun before (pending: unknown outcome; done: already created) go to the
        # ordinary step, which looks them up or links them.
        earlier = store.begin_intents(
            [
                (key, conn, INVOICE, Side.QUICKBOOKS, item.key.source_id)
                for key, item in zip(keys, ready, strict=True)
            ]
        )
        for key, item in zip(keys, ready, strict=True):
            if key in earlier:
                leftover.append(item.key)
            else:
                batch.append((item, key))
        return batch

    async def _send(
        self,
        batch: list[tuple[_Pending, str]],
        report: RunReport,
        gate: asyncio.Semaphore,
        leftover: list[RecordKey],
    ) -> None:
        stepper = self.stepper
        store = stepper.store
        requests = [
            InvoiceCreate(
                item.create.invoice,
                item.customer_id or "",
                item.item_ids,
                key,
                item.create.external_key,
                item.create.custom_fields,
            )
            for item, key in batch
        ]
        results = await stepper.ledger.batch_create_invoices(requests)
        created: list[tuple[_Pending, str, WriteResult]] = []
        failed: list[tuple[_Pending, SyncError]] = []
        for (item, key), result in zip(batch, results, strict=True):
            if isinstance(result, Transient):
                leftover.append(item.key)  # intent stays pending: looked up before a resend
            elif isinstance(result, SyncError):
                failed.append((item, result))
            else:
                created.append((item, key, result))
        # What QBO created is remembered at once, before anything else can fail.
        store.complete_intents([(key, result.id) for _, key, result in created])

        async def fail(item: _Pending, error: SyncError) -> None:
            async with gate:
                await stepper.fail(
                    item.key,
                    SyncStatus.FAILED,
                    error.category,
                    error.message,
                    error.hint or None,
                    None,
                )
                report.failed += 1

        await asyncio.gather(*(fail(item, error) for item, error in failed))
        if created:
            await self._finish_created(created, report, gate, leftover)

    async def _finish_created(
        self,
        created: list[tuple[_Pending, str, WriteResult]],
        report: RunReport,
        gate: asyncio.Semaphore,
        leftover: list[RecordKey],
    ) -> None:
        """Links, HubSpot sync properties and states of the invoices just created: the sync
        properties in batch updates, the store writes in one transaction."""
        stepper = self.stepper
        store = stepper.store
        prepared: list[Finish] = []
        # Verified from what /batch answered (the whole invoice): no read per invoice.
        plans = [await self._verified(item, result) for item, _, result in created]
        with store.unit_of_work():
            states = store.get_states([item.key for item, _, _ in created])
            for (item, _, result), plan in zip(created, plans, strict=True):
                applied = Applied(
                    hubspot_id=item.key.source_id,
                    qbo_id=result.id,
                    qbo_number=result.number,
                    hubspot_version=item.invoice.version,
                    qbo_version=result.version,
                    customer_qbo_id=item.customer_id,
                    created=[f"quickbooks invoice {result.id}"] if result.created else [],
                    matched=[] if result.created else [f"quickbooks invoice {result.id}"],
                )
                prepared.append(
                    stepper.prepare_finish(item.key, plan, applied, item.invoice, None, states)
                )
        try:
            versions = await self._write_crm_states(prepared)
        except SyncError:
            # The QBO invoices exist and their intents are complete: save their links, and let
            # the ordinary step set the HubSpot properties (and record the state) again.
            with store.unit_of_work():
                for done in prepared:
                    stepper.save_finished_link(done, None)
            leftover.extend(done.key for done in prepared)
            return
        with store.unit_of_work():
            for step in commit_finishes(stepper, prepared, versions):
                report.results.append(step)
                report.count(step.plan.decision.status)

    async def _verified(self, item: _Pending, result: WriteResult) -> Plan:
        stepper = self.stepper
        plan = parity.check(
            item.plan,
            result.total,
            item.invoice,
            None,
            parity.auditor(stepper.store, stepper.connection_id),
        )
        return await stepper.verifier.invoice(
            plan, result.record, item.invoice, None, item.key.source_id, result.id
        )

    async def _write_crm_states(self, prepared: list[Finish]) -> list[str | None]:
        """The HubSpot versions our sync-state writes produced (None where nothing was written
        or the version is not ours to remember)."""
        crm = self.stepper.crm
        wanted = [(n, done) for n, done in enumerate(prepared) if done.crm_write is not None]
        versions: list[str | None] = [None] * len(prepared)
        if not wanted:
            return versions
        results = await crm.batch_set_sync_state(
            [done.crm_write for _, done in wanted if done.crm_write is not None]
        )
        for (n, done), result in zip(wanted, results, strict=True):
            versions[n] = done.our_version(result.version) if result is not None else None
        return versions


async def _quietly(work: Awaitable[None]) -> None:
    """A batch preparation that failed leaves its records to the per-invoice path."""
    with contextlib.suppress(SyncError):
        await work


def commit_finishes(
    stepper: Stepper, prepared: Sequence[Finish], versions: Sequence[str | None]
) -> list[StepResult]:
    """Stepper.commit_finish for many, with the store's set-wise writes."""
    store = stepper.store
    links: list[Link | None] = []
    for done, version in zip(prepared, versions, strict=True):
        link = done.link
        if link is not None and version:
            link = replace(link, hubspot_version=version)
        links.append(link)
    store.save_links(
        [link for done, link in zip(prepared, links, strict=True) if link and link != done.before]
    )
    states = []
    dependencies: list[RecordKey] = []
    for done, link in zip(prepared, links, strict=True):
        synced = done.plan.decision.status in SETTLED
        if link is not None and synced:
            stepper.applier.audit(done.plan, INVOICE, link.hubspot_id or "")
            audit_divergence(store, stepper.connection_id, done.plan, link.hubspot_id or "")
        state = stepper.build_state(done.primary, done.plan, done.applied, done.previous)
        if state is not None:
            states.append(state)
        if synced:
            dependencies.extend(stepper.dependencies_done(done.plan, done.applied, link))
    store.set_states(states)
    for waiting in store.blocked_on_many(dependencies).values():
        for key in waiting:
            store.mark_dirty(key, "dependency synced")
    return [StepResult(done.primary, done.plan, done.applied) for done in prepared]
