"""Backfill: sync every existing record once (or preview what that would do).

HubSpot invoices are listed through the change feed from the beginning and read in batches of
100 (`get_invoices`), QuickBooks invoices and payments come from CDC (the connector falls back
to the query API past 30 days). Invoices go first, payments after them, so payments rarely
block. A dry run reads and plans everything and writes nothing: not to either system, not to
the store; it reports what would be created, updated and matched, and how long the real run
takes under the realm's rate limits.

Everything here runs in the budget's bulk lane: live changes go ahead of it. Progress is
checkpointed by page (checkpoint.py), so a killed backfill resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ledgerbridge.domain import Invoice, Side, SyncStatus
from ledgerbridge.engine.batching import BatchCreator
from ledgerbridge.engine.checkpoint import (
    Checkpoint,
    CostModel,
    budget_base,
    budget_limits,
    budget_stats,
    bulk_context,
    dry_run_seconds,
    in_context,
    invoice_snapshot,
    ledger_budget,
    persist,
    unlinked,
)
from ledgerbridge.engine.decisions import CreateLedgerInvoice, EnsureCustomer, EnsureItems, Plan
from ledgerbridge.engine.ensure import EnsureStats, Resolver
from ledgerbridge.engine.paid_receipts import plan_paid_invoice
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey
from ledgerbridge.engine.steps import RunReport, Stepper
from ledgerbridge.errors import SyncError

if TYPE_CHECKING:
    from ledgerbridge.engine.runner import SyncEngine

# A page of HubSpot invoices being read (None: nothing left to read in it) with the feed cursor
# after it, an error of the feed, or None at its end.
_Page = tuple[asyncio.Future[list[Invoice]] | None, str | None] | BaseException | None

T = TypeVar("T")

BACKFILL_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Invoices per page: HubSpot's search returns at most 200 per call. A page's invoices are read
# in batch reads of 100, but its seven association reads take up to 1,000 ids each: the larger
# the page, the fewer requests per invoice (and each request costs CPU on both ends).
HUBSPOT_BATCH = 200
READ_AHEAD = 2  # HubSpot pages read ahead of the ones being written
# Pages written at once: while one page waits on QuickBooks or HubSpot, the next is planned. The
# checkpoint only moves past a page once every page before it has finished, and the pages'
# customers and items are prepared one page at a time (Resolver.preparing).
PAGES_IN_FLIGHT = 2


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
    estimated_seconds: float = 0.0  # the real run's duration under the realm's rate limits


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
    rate: float | None = None  # records per second in this run
    eta_seconds: float | None = None  # what the rest costs under the realm's rate budget
    resumed: bool = False


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
        self.checkpoint = Checkpoint()
        self.resuming = False
        self._pages_done: dict[int, str | None] = {}  # finished pages (by number) not yet saved
        self._next_page = 0  # the first page whose cursor is not in the checkpoint yet
        self._started = time.monotonic()
        self._done_at_start = 0
        self._cost = CostModel()
        self._resolver_stats: EnsureStats | None = None
        self._budget = ledger_budget(engine.ledger)
        self._budget_base = budget_base(self._budget)
        self.counts = {
            SyncStatus.SYNCED: 0,
            SyncStatus.FAILED: 0,
            SyncStatus.EXCLUDED: 0,
            SyncStatus.BLOCKED: 0,
        }

    async def run(self) -> AsyncIterator[BackfillProgress]:
        engine = self.engine
        self._start_checkpoint()
        cp = self.checkpoint
        # Every request of the backfill goes in the bulk lane: live changes go first.
        bulk = bulk_context()
        stepper = engine.stepper(dry_run=self.dry_run)
        resolver = stepper.applier.resolver
        self._resolver_stats = resolver.stats
        self._cost.observe(None, 0, 0, time.monotonic())  # the pace is measured from here
        since_time = (
            dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)
            if self.since
            else BACKFILL_EPOCH
        )
        qbo_pages = await in_context(
            bulk,
            persist(
                "listing QuickBooks changes",
                lambda: engine.ledger.changes(since_time, ["Invoice", "Payment"]),
            ),
        )
        qbo_invoices = list(qbo_pages["Invoice"].ids) if "Invoice" in qbo_pages else []
        qbo_payments = list(qbo_pages["Payment"].ids) if "Payment" in qbo_pages else []
        snapshot = await in_context(bulk, invoice_snapshot(engine.crm))
        total = snapshot.count

        hs_payment_ids: list[str] = []
        fast = not self.dry_run
        if cp.phase == "hubspot invoices":
            if fast:
                # New customers' names and the item catalog are checked in memory.
                await in_context(bulk, engine.ledger.prefetch_display_names())
                await in_context(bulk, engine.ledger.prefetch_items())
            # HubSpot pages are read ahead while earlier pages are being written.
            pages: asyncio.Queue[_Page] = asyncio.Queue(READ_AHEAD)
            reader = asyncio.create_task(self._read_invoices(pages, snapshot.until), context=bulk)
            limit = PAGES_IN_FLIGHT if fast else 1
            writing: set[asyncio.Task[None]] = set()
            pages_started = 0
            try:
                while (item := await pages.get()) is not None:
                    if isinstance(item, BaseException):
                        raise item
                    read, after = item
                    invoices = await read if read is not None else []
                    while len(writing) >= limit:
                        writing = await _first_done(writing)
                        yield self._progress("hubspot invoices", total)
                    writing.add(
                        asyncio.create_task(
                            self._page(stepper, resolver, invoices, fast, after, pages_started),
                            context=bulk,
                        )
                    )
                    pages_started += 1
                while writing:
                    writing = await _first_done(writing)
                    yield self._progress("hubspot invoices", total)
            finally:
                unused: list[asyncio.Future[list[Invoice]]] = []
                while not pages.empty():  # reads started ahead and never used
                    left = pages.get_nowait()
                    if isinstance(left, tuple) and left[0] is not None:
                        unused.append(left[0])
                started: list[asyncio.Future[Any]] = [reader, *writing, *unused]
                for task in started:
                    task.cancel()
                await asyncio.gather(*started, return_exceptions=True)
                engine.ledger.forget_display_names()
            self._save("quickbooks invoices")

        if cp.phase == "quickbooks invoices":
            keys = [
                RecordKey(engine.connection_id, INVOICE, Side.QUICKBOOKS, str(i))
                for i in self._not_done(INVOICE, Side.QUICKBOOKS, [str(i) for i in qbo_invoices])
            ]
            phase_total = self.done + len(keys)
            for chunk in _chunks(keys, self.batch):
                await in_context(bulk, self._process(stepper, resolver, chunk))
                yield self._progress("quickbooks invoices", phase_total)
            self._save("payments")

        pay_cursor: str | None = None
        seen_payments: set[str] = set()
        while True:
            page = await in_context(
                bulk,
                persist(
                    "listing HubSpot payments",
                    partial(engine.crm.changed_payments, pay_cursor, self.batch),
                ),
            )
            hs_payment_ids.extend(str(i) for i in page.ids if str(i) not in seen_payments)
            seen_payments.update(str(i) for i in page.ids)
            pay_cursor = page.cursor if page.cursor is not None else pay_cursor
            if page.done or not page.ids:
                break
        payment_keys = [
            RecordKey(engine.connection_id, PAYMENT, Side.HUBSPOT, i)
            for i in self._not_done(PAYMENT, Side.HUBSPOT, hs_payment_ids)
        ]
        payment_keys += [
            RecordKey(engine.connection_id, PAYMENT, Side.QUICKBOOKS, str(i))
            for i in self._not_done(PAYMENT, Side.QUICKBOOKS, [str(i) for i in qbo_payments])
        ]
        phase_total = self.done + len(payment_keys)
        for chunk in _chunks(payment_keys, self.batch):
            await in_context(bulk, self._process(stepper, resolver, chunk))
            yield self._progress("payments", phase_total)
        if self.dry_run:
            report = self.report
            report.customers_to_create = resolver.stats.customers_created
            report.customers_matched = resolver.stats.customers_matched
            report.items_to_create = resolver.stats.items_created
            report.items_matched = resolver.stats.items_matched
            report.estimated_seconds = dry_run_seconds(
                budget_limits(engine.ledger),
                len(report.create),
                len(report.update),
                report.customers_to_create,
                report.items_to_create,
            )
        self.checkpoint.finished = True
        self._save("done")
        yield self._progress("done", self.done)

    def _start_checkpoint(self) -> None:
        """Resume an unfinished backfill over the same range, or start a new one."""
        if self.dry_run:
            return  # a dry run writes nothing, not even a checkpoint
        store = self.engine.store
        found = Checkpoint.load(store, self.engine.connection_id)
        if found is not None and found.resumes(self.since):
            self.checkpoint, self.resuming = found, True
            self.done = self._done_at_start = found.done
            return
        self.checkpoint = Checkpoint(
            since=self.since.isoformat() if self.since else None,
            started_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        self._save(self.checkpoint.phase)

    def _save(self, phase: str) -> None:
        self.checkpoint.phase = phase
        self.checkpoint.done = self.done
        if not self.dry_run:
            self.checkpoint.save(self.engine.store, self.engine.connection_id)

    def _not_done(self, object_type: str, side: Side, ids: list[str]) -> list[str]:
        """On a resumed run, the records an earlier run already linked are done: skip them
        before reading them."""
        if not self.resuming:
            return ids
        return unlinked(self.engine.store, self.engine.connection_id, object_type, side, ids)

    async def _page(
        self,
        stepper: Stepper,
        resolver: Resolver,
        invoices: list[Invoice],
        fast: bool,
        after: str | None,
        number: int,
    ) -> None:
        """One page, retried whole on a transient failure (every step is idempotent), then
        checkpointed once every page before it is done too: the next run starts after it."""
        await persist(
            "a page of invoices", lambda: self._invoice_page(stepper, resolver, invoices, fast)
        )
        self._pages_done[number] = after
        moved = False
        while self._next_page in self._pages_done:
            self.checkpoint.cursor = self._pages_done.pop(self._next_page)
            self._next_page += 1
            moved = True
        if moved:
            self._save("hubspot invoices")

    async def _invoice_page(
        self, stepper: Stepper, resolver: Resolver, invoices: list[Invoice], fast: bool
    ) -> None:
        engine = self.engine
        wanted = [inv for inv in invoices if self._in_range(inv) and inv.id]
        keys = [
            RecordKey(engine.connection_id, INVOICE, Side.HUBSPOT, inv.id or "") for inv in wanted
        ]
        if fast:
            # Invoices the sales-receipt setting records as receipts take the step path (which
            # plans them as receipts, or waits for their payment) like in the live sync.
            receipts = await self._receipt_invoices(stepper, wanted, keys)
            report = RunReport()
            batched = [inv for inv in wanted if inv.id not in receipts]
            left = set(await BatchCreator(stepper, engine.concurrency).run(batched, report))
            left |= {k for k in keys if k.source_id in receipts}
            self._tally(report)
            self.done += len(keys) - len(left)
            wanted = [inv for inv in wanted if inv.id in {k.source_id for k in left}]
            keys = [k for k in keys if k in left]
        for inv in wanted:
            stepper.prefetched[inv.id or ""] = inv
        await self._process(stepper, resolver, keys)

    async def _receipt_invoices(
        self, stepper: Stepper, invoices: list[Invoice], keys: list[RecordKey]
    ) -> set[str]:
        """Ids of the invoices `sales_receipts.paid_invoice = "sales_receipt"` does not record
        as an ordinary invoice (a receipt now, or a wait for the payment first)."""
        if stepper.settings.sales_receipts.paid_invoice != "sales_receipt":
            return set()
        info = await stepper.ledger_info()
        prefs = (info.home_currency, info.multicurrency)
        now = stepper.clock()
        return {
            key.source_id
            for inv, key in zip(invoices, keys, strict=True)
            if plan_paid_invoice(key, inv, None, stepper.settings, now, prefs) is not None
        }

    async def _read_invoices(self, pages: asyncio.Queue[_Page], until: str | None) -> None:
        """Producer: HubSpot invoices from the change feed, 100 per read; None at the end.
        Each page's read starts at once (the queue bounds how many run ahead) while the feed
        is searched for the next page. A resumed run starts at the checkpoint's cursor.

        The walk stops at `until`, the newest change when the backfill started: our own
        write-back moves every invoice it handles to the end of the modification-ordered feed,
        and walking over those again would cost a paced search (5 per second) per 200 invoices
        for nothing. What changes after the start (an edit, a new invoice) is the live sync's:
        the poll and the webhooks see it like any other change."""
        crm = self.engine.crm
        cursor: str | None = self.checkpoint.cursor if self.resuming else None
        seen: set[str] = set()
        try:
            while True:
                page = await persist(
                    "listing HubSpot invoices",
                    partial(crm.changed_invoices, cursor, self.batch, until),
                )
                # Our own writes move records to the end of the modification-ordered feed (past
                # `until`, unless it is unknown): each record is handled once per backfill.
                ids = [str(i) for i in page.ids if str(i) not in seen]
                seen.update(ids)
                ids = self._not_done(INVOICE, Side.HUBSPOT, ids)
                cursor = page.cursor if page.cursor is not None else cursor
                read = None
                if ids:
                    read = asyncio.ensure_future(
                        persist(
                            "reading HubSpot invoices",
                            partial(crm.get_invoices, ids),
                        )
                    )
                if ids or page.ids:
                    await pages.put((read, cursor))
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
        outcomes = engine.outcomes

        async def one(key: RecordKey) -> None:
            async with gate:
                if self.dry_run:
                    await self._preview(stepper, resolver, key)
                else:
                    await outcomes.run_key(stepper, key, report, release=False)

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
                await resolver.customer_id(op.customer, op.currency, op.home_currency)

    async def _exists_already(self, plan: Plan) -> bool:
        for op in plan.ops:
            if isinstance(op, CreateLedgerInvoice):
                found = await self.engine.ledger.find_invoice(op.invoice.number, op.external_key)
                return found is not None
        return False

    def _progress(self, phase: str, total: int | None) -> BackfillProgress:
        done_here = self.done - self._done_at_start
        elapsed = time.monotonic() - self._started
        rate = done_here / elapsed if elapsed > 0 and done_here > 0 else None
        eta = None
        if total is not None and not self.dry_run:
            stats = self._resolver_stats
            self._cost.observe(
                budget_stats(self._budget, self._budget_base),
                done_here,
                stats.customers_created + stats.items_created if stats else 0,
                time.monotonic(),
            )
            limits = self._budget.limits if self._budget is not None else None
            eta = self._cost.eta(limits, total - self.done)
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
            rate=rate,
            eta_seconds=eta,
            resumed=self.resuming,
        )


async def _first_done(tasks: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """Wait for one task to end (raising its error); the ones still running."""
    done, running = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()
    return running


def _chunks(items: Sequence[RecordKey], size: int) -> list[Sequence[RecordKey]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
