"""Backfill: sync every existing record once (or preview what that would do).

HubSpot invoices are listed through the change feed from the beginning and read in batches of
100 (`get_invoices`), QuickBooks invoices and payments come from CDC (the connector falls back
to the query API past 30 days). Invoices go first, payments after them, so payments rarely
block. A dry run reads and plans everything and writes nothing: not to either system, not to
the store; it reports what would be created, updated and matched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledgerbridge.domain import Invoice, Side, SyncStatus
from ledgerbridge.engine.batching import BatchCreator, supports_batch
from ledgerbridge.engine.ensure import Resolver
from ledgerbridge.engine.plan import CreateLedgerInvoice, EnsureCustomer, EnsureItems, Plan
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey
from ledgerbridge.engine.steps import RunReport, Stepper
from ledgerbridge.errors import SyncError

if TYPE_CHECKING:
    from ledgerbridge.engine.runner import SyncEngine

# A page of HubSpot invoices being read, an error of the feed, or None at its end.
_Page = asyncio.Future[list[Invoice]] | BaseException | None

BACKFILL_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
HUBSPOT_BATCH = 100
READ_AHEAD = 2  # HubSpot pages read ahead of the ones being written
PAGES_IN_FLIGHT = 1  # pages written at once (more measured no faster: CPU is the limit)


@dataclass
class DryRunReport:
    """What a backfill would do. Lists hold short human-readable lines."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    match: list[str] = field(default_factory=list)
    unchanged: int = 0
    excluded: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    customers_to_create: int = 0
    customers_matched: int = 0
    items_to_create: int = 0
    items_matched: int = 0


@dataclass
class BackfillProgress:
    """What a running backfill reports to its progress bar."""

    phase: str  # "hubspot invoices" | "quickbooks invoices" | "payments" | "done"
    done: int
    total: int | None
    synced: int = 0
    failed: int = 0
    excluded: int = 0
    blocked: int = 0
    dry_run: bool = False
    report: DryRunReport | None = None  # the dry-run report, on the final progress


class Backfill:
    """Syncs every existing record once, page by page, in batches (or only plans it, in a dry run)."""

    def __init__(
        self, engine: SyncEngine, *, since: dt.date | None, dry_run: bool, batch: int
    ) -> None:
        self.engine = engine
        self.since = since
        self.dry_run = dry_run
        self.batch = max(1, min(batch, HUBSPOT_BATCH))
        self.report = DryRunReport()
        self.done = 0
        self._would_create: set[str] = set()  # dry run: keys of invoices that would be created
        self.counts = {
            SyncStatus.SYNCED: 0,
            SyncStatus.FAILED: 0,
            SyncStatus.EXCLUDED: 0,
            SyncStatus.BLOCKED: 0,
        }

    async def run(self) -> AsyncIterator[BackfillProgress]:
        engine = self.engine
        stepper = engine._stepper(dry_run=self.dry_run)
        resolver = stepper.applier.resolver
        since_time = (
            dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)
            if self.since
            else BACKFILL_EPOCH
        )
        qbo_pages = await engine.ledger.changes(since_time, ["Invoice", "Payment"])
        qbo_invoices = list(qbo_pages["Invoice"].ids) if "Invoice" in qbo_pages else []
        qbo_payments = list(qbo_pages["Payment"].ids) if "Payment" in qbo_pages else []

        hs_payment_ids: list[str] = []
        fast = not self.dry_run and supports_batch(engine.ledger)
        if fast:
            prefetch = getattr(engine.ledger, "prefetch_display_names", None)
            if callable(prefetch):
                await prefetch()  # new customers' names are checked in memory
        # HubSpot pages are read ahead while earlier pages are being written; on the batch path
        # a few pages are written at once, so one page's round trips overlap another's work.
        pages: asyncio.Queue[_Page] = asyncio.Queue(READ_AHEAD)
        reader = asyncio.create_task(self._read_invoices(pages))
        limit = PAGES_IN_FLIGHT if fast else 1
        writing: set[asyncio.Task[None]] = set()
        try:
            while (item := await pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                invoices = await item
                while len(writing) >= limit:
                    writing = await _first_done(writing)
                    yield self._progress("hubspot invoices", None)
                writing.add(
                    asyncio.create_task(self._invoice_page(stepper, resolver, invoices, fast))
                )
            while writing:
                writing = await _first_done(writing)
                yield self._progress("hubspot invoices", None)
        finally:
            while not pages.empty():  # reads started ahead and never used
                if isinstance(left := pages.get_nowait(), asyncio.Future):
                    writing.add(left)  # type: ignore[arg-type]
            for task in (reader, *writing):
                task.cancel()
            await asyncio.gather(reader, *writing, return_exceptions=True)
            forget = getattr(engine.ledger, "forget_display_names", None)
            if callable(forget):
                forget()

        keys = [
            RecordKey(engine.connection_id, INVOICE, Side.QUICKBOOKS, str(i)) for i in qbo_invoices
        ]
        for chunk in _chunks(keys, self.batch):
            await self._process(stepper, resolver, chunk)
            yield self._progress("quickbooks invoices", None)

        pay_cursor: str | None = None
        seen_payments: set[str] = set()
        while True:
            page = await engine.crm.changed_payments(pay_cursor, self.batch)
            hs_payment_ids.extend(str(i) for i in page.ids if str(i) not in seen_payments)
            seen_payments.update(str(i) for i in page.ids)
            pay_cursor = page.cursor if page.cursor is not None else pay_cursor
            if page.done or not page.ids:
                break
        payment_keys = [
            RecordKey(engine.connection_id, PAYMENT, Side.HUBSPOT, i) for i in hs_payment_ids
        ]
        payment_keys += [
            RecordKey(engine.connection_id, PAYMENT, Side.QUICKBOOKS, str(i)) for i in qbo_payments
        ]
        for chunk in _chunks(payment_keys, self.batch):
            await self._process(stepper, resolver, chunk)
            yield self._progress("payments", None)
        if self.dry_run:
            self.report.customers_to_create = resolver.stats.customers_created
            self.report.customers_matched = resolver.stats.customers_matched
            self.report.items_to_create = resolver.stats.items_created
            self.report.items_matched = resolver.stats.items_matched
        yield self._progress("done", self.done)

    async def _invoice_page(
        self, stepper: Stepper, resolver: Resolver, invoices: list[Invoice], fast: bool
    ) -> None:
        engine = self.engine
        wanted = [inv for inv in invoices if self._in_range(inv) and inv.id]
        keys = [
            RecordKey(engine.connection_id, INVOICE, Side.HUBSPOT, inv.id or "") for inv in wanted
        ]
        if fast:
            report = RunReport()
            left = set(await BatchCreator(stepper, engine.concurrency).run(wanted, report))
            self._tally(report)
            self.done += len(keys) - len(left)
            wanted = [inv for inv in wanted if inv.id in {k.source_id for k in left}]
            keys = [k for k in keys if k in left]
        for inv in wanted:
            stepper.prefetched[inv.id or ""] = inv
        await self._process(stepper, resolver, keys)

    async def _read_invoices(self, pages: asyncio.Queue[_Page]) -> None:
        """Producer: HubSpot invoices from the change feed, 100 per read; None at the end.
        Each page's read starts at once (the queue bounds how many run ahead) while the feed
        is searched for the next page."""
        crm = self.engine.crm
        cursor: str | None = None
        seen: set[str] = set()
        try:
            while True:
                page = await crm.changed_invoices(cursor, self.batch)
                # Our own writes move records to the end of the modification-ordered feed: each
                # record is handled once per backfill.
                ids = [str(i) for i in page.ids if str(i) not in seen]
                seen.update(ids)
                if ids:
                    await pages.put(asyncio.ensure_future(crm.get_invoices(ids)))
                cursor = page.cursor if page.cursor is not None else cursor
                if page.done or not page.ids:
                    break
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await pages.put(exc)
            return
        await pages.put(None)

    def _in_range(self, invoice: Invoice) -> bool:
        if self.since is None:
            return True
        day = invoice.issue_date
        return day is None or day >= self.since

    async def _process(
        self, stepper: Stepper, resolver: Resolver, keys: Sequence[RecordKey]
    ) -> None:
        engine = self.engine
        gate = asyncio.Semaphore(engine.concurrency)
        report = RunReport()

        async def one(key: RecordKey) -> None:
            async with gate:
                if self.dry_run:
                    await self._preview(stepper, resolver, key)
                else:
                    await engine._run_key(stepper, key, report, release=False)

        await asyncio.gather(*(one(k) for k in keys))
        self.done += len(keys)
        if not self.dry_run:
            self._tally(report)

    def _tally(self, report: RunReport) -> None:
        self.counts[SyncStatus.SYNCED] += report.synced
        self.counts[SyncStatus.FAILED] += report.failed
        self.counts[SyncStatus.EXCLUDED] += report.excluded
        self.counts[SyncStatus.BLOCKED] += report.blocked

    async def _preview(self, stepper: Stepper, resolver: Resolver, key: RecordKey) -> None:
        name = f"{key.object_type} {key.side.value} {key.source_id}"
        try:
            plan, _ = await stepper.preview(key)
            label = f"{name} ({plan.label})" if plan.label else name
            status = plan.decision.status
            if status is SyncStatus.EXCLUDED:
                self.report.excluded.append(f"{label}: {plan.decision.message}")
                self.counts[SyncStatus.EXCLUDED] += 1
                return
            if status is SyncStatus.FAILED:
                hint = f" (fix: {plan.decision.hint})" if plan.decision.hint else ""
                self.report.failing.append(f"{label}: {plan.decision.message}{hint}")
                self.counts[SyncStatus.FAILED] += 1
                return
            on = plan.decision.blocked_on
            if (
                status is SyncStatus.BLOCKED
                and on is not None
                and on.as_text() in self._would_create
            ):
                # Its invoice is created earlier in this same backfill: so would the payment be.
                self.report.create.append(f"{label}: record the payment once its invoice exists")
                self.counts[SyncStatus.SYNCED] += 1
                return
            if status is SyncStatus.BLOCKED:
                self.report.blocked.append(f"{label}: {plan.decision.message}")
                self.counts[SyncStatus.BLOCKED] += 1
                return
            if status is None:
                return
            await self._preview_dependencies(plan, resolver)
            if plan.action == "create" and await self._exists_already(plan):
                self.report.match.append(f"{label}: already in QuickBooks, would be linked")
            elif plan.action == "create":
                self.report.create.append(f"{label}: {plan.summary}")
                self._would_create.add(key.as_text())
            elif plan.action == "update":
                self.report.update.append(f"{label}: {plan.summary}")
            elif plan.action == "match":
                self.report.match.append(f"{label}: would be linked")
            else:
                self.report.unchanged += 1
            self.counts[SyncStatus.SYNCED] += 1
        except SyncError as exc:
            hint = f" (fix: {exc.hint})" if exc.hint else ""
            self.report.failing.append(f"{name}: {exc.message}{hint}")
            self.counts[SyncStatus.FAILED] += 1

    async def _preview_dependencies(self, plan: Plan, resolver: Resolver) -> None:
        for op in plan.ops:
            if isinstance(op, EnsureItems):
                await resolver.item_ids(op.lines, op.policy, op.default_item_name)
            elif isinstance(op, EnsureCustomer):
                await resolver.customer_id(op.customer)

    async def _exists_already(self, plan: Plan) -> bool:
        for op in plan.ops:
            if isinstance(op, CreateLedgerInvoice):
                found = await self.engine.ledger.find_invoice(op.invoice.number, op.external_key)
                return found is not None
        return False

    def _progress(self, phase: str, total: int | None) -> BackfillProgress:
        return BackfillProgress(
            phase=phase,
            done=self.done,
            total=total,
            synced=self.counts[SyncStatus.SYNCED],
            failed=self.counts[SyncStatus.FAILED],
            excluded=self.counts[SyncStatus.EXCLUDED],
            blocked=self.counts[SyncStatus.BLOCKED],
            dry_run=self.dry_run,
            report=self.report if self.dry_run and phase == "done" else None,
        )


async def _first_done(tasks: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """Wait for one task to end (raising its error); the ones still running."""
    done, running = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()
    return running


def _chunks(items: Sequence[RecordKey], size: int) -> list[Sequence[RecordKey]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
