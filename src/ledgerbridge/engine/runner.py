"""SyncEngine: the worker loop around sync steps.

`run_once` claims due dirty keys, runs their steps with bounded concurrency and releases each
key through the outcome policy (engine/outcomes.py): dropped when done, rescheduled with capped
exponential backoff on Transient/RateLimited, re-run at once on Conflict, failed with category and
hint on Invalid/ConfigError/AuthExpired. Blocked records are re-run when their dependency syncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterable

from ledgerbridge import logctx
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.apply import Applier
from ledgerbridge.engine.backfill import Backfill, BackfillProgress
from ledgerbridge.engine.changes import ChangeEvent, ChangeTracker, PollStats
from ledgerbridge.engine.deals import refresh_deals
from ledgerbridge.engine.ensure import Resolver
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.intents import KeyedLocks
from ledgerbridge.engine.outcomes import RetryPolicy, StepOutcomes
from ledgerbridge.engine.planner import LedgerInfo
from ledgerbridge.engine.ports import (
    INVOICE,
    PAYMENT,
    BatchCrmPort,
    BatchLedgerPort,
    RecordKey,
    StorePort,
)
from ledgerbridge.engine.routing import (
    Notification,
    changes_for,
    company_contact_changes,
    parent_invoice_changes,
)
from ledgerbridge.engine.state_book import StepResult
from ledgerbridge.engine.steps import RunReport, Stepper
from ledgerbridge.errors import (
    SyncError,
)

log = logging.getLogger(__name__)

# QBO company facts are reused this long; a user's retry reads them at once (USER_RETRY).
LEDGER_INFO_TTL = dt.timedelta(minutes=1)
USER_RETRY = "retry requested"  # the dirty-key reason of a retry from the console or the CLI


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SyncEngine:
    """One connection's sync: polls the change feeds, claims dirty keys and runs a step for each."""

    def __init__(
        self,
        connection_id: int,
        crm: BatchCrmPort,
        ledger: BatchLedgerPort,
        store: StorePort,
        settings: SyncSettings | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        concurrency: int = 8,
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self._settings = settings or SyncSettings()
        self.clock = clock
        # At most 10 requests in flight per QBO realm: the connector enforces it; this bounds
        # how many records are worked on at once.
        self.concurrency = max(1, concurrency)
        self.locks = KeyedLocks()
        # Called with (connection id, report) after each round: metrics, without the engine
        # knowing about them.
        self.on_report: Callable[[int, RunReport], None] | None = None
        self._ledger_info: LedgerInfo | None = None
        self._ledger_info_at: dt.datetime | None = None
        self.changes = ChangeTracker(
            connection_id,
            crm,
            ledger,
            store,
            clock,
            dt.timedelta(days=self.settings.initial_lookback_days),
        )

    # ---- settings --------------------------------------------------------------------------
    @property
    def settings(self) -> SyncSettings:
        return self._settings

    @settings.setter
    def settings(self, value: SyncSettings) -> None:
        """New settings apply from the next step. Records the old settings kept out (excluded by
        a filter, failed on configuration) are looked at again, and QBO company facts re-read."""
        changed = value != self._settings
        self._settings = value
        if not changed:
            return
        self._ledger_info = None
        self.changes.forget()
        for status in (SyncStatus.EXCLUDED, SyncStatus.FAILED):
            offset = 0
            while True:
                states = self.store.list_states(
                    self.connection_id, status, limit=500, offset=offset
                )
                for state in states:
                    if status is SyncStatus.EXCLUDED or state.category == "config":
                        self.store.mark_dirty(state.key, "sync settings changed")
                if len(states) < 500:
                    break
                offset += 500

    # ---- wiring ----------------------------------------------------------------------------
    def stepper(self, *, dry_run: bool = False) -> Stepper:
        """A Stepper (with its Applier and Resolver) for the current settings; `dry_run`: plans
        only, nothing is written (the backfill preview)."""
        resolver = Resolver(
            self.connection_id,
            self.ledger,
            self.store,
            self.locks,
            dry_run=dry_run,
            create_customers=self.settings.customers.hubspot_to_qbo,
            create_items=self.settings.items.hubspot_to_qbo,
            tax_item=(self.settings.tax_item_name, self.settings.tax_account_name),
            tax_code_mapping=self.settings.tax_code_mapping,
        )
        applier = Applier(
            self.connection_id, self.crm, self.ledger, self.store, resolver, self.clock
        )
        return Stepper(
            self.connection_id,
            self.crm,
            self.ledger,
            self.store,
            self.settings,
            applier,
            self.locks,
            self.ledger_info,
            self.clock,
        )

    def forget_ledger_info(self) -> None:
        """Read the QBO company's preferences and custom fields again at the next step (the
        connector's own cache included)."""
        self._ledger_info = None
        self.ledger.invalidate_settings()

    async def ledger_info(self) -> LedgerInfo:
        now = self.clock()
        if (
            self._ledger_info is None
            or self._ledger_info_at is None
            or now - self._ledger_info_at > LEDGER_INFO_TTL
        ):
            home, multi = await self.ledger.company_currency()
            known: dict[str, str] = {}
            if any(m.qbo_field and not m.qbo_definition_id for m in self.settings.custom_mappings):
                for definition in await self.ledger.custom_field_definitions():
                    known[definition.name.lower()] = definition.definition_id
                    known[definition.name] = definition.definition_id
                    known[definition.definition_id] = definition.definition_id
            self._ledger_info = LedgerInfo(home, multi, known)
            self._ledger_info_at = now
        return self._ledger_info

    @property
    def outcomes(self) -> StepOutcomes:
        """The outcome policy (retry, backoff, conflict retry) under the current settings."""
        return StepOutcomes(self.store, self.clock, RetryPolicy.from_settings(self.settings))

    # ---- change detection ------------------------------------------------------------------
    async def poll_once(self) -> PollStats:
        hs = await self.changes.poll_hubspot()
        qbo = await self.changes.poll_quickbooks()
        return PollStats(hs.marked + qbo.marked, hs.echoes + qbo.echoes, hs.pages + qbo.pages)

    def handle_events(self, events: Iterable[ChangeEvent]) -> PollStats:
        return self.changes.handle_events(events)

    def handle_webhook(
        self, side: Side, events: Iterable[Notification], account: str | None
    ) -> PollStats:
        """Mark the records a webhook delivery reports changed; `account`: this connection's
        HubSpot portal or QBO realm (notifications for other accounts are left alone)."""
        return self.changes.handle_events(changes_for(side, events, account))

    async def handle_invoice_children(
        self, events: Iterable[Notification], account: str | None
    ) -> PollStats:
        """Mark the HubSpot invoices whose line items, discounts, fees or taxes a delivery
        reports changed (routing.invoice_children), and the customers of the contacts of
        companies it reports changed (a rename reaches the QBO customer's name)."""
        events = list(events)
        changes = await parent_invoice_changes(self.crm, events, account)
        changes += await company_contact_changes(self.crm, events, account)
        return self.changes.handle_events(changes)

    # ---- running steps ---------------------------------------------------------------------
    async def run_once(self, limit: int = 100) -> RunReport:
        with logctx.bound(logctx.connection_id, self.connection_id):
            report = await self._run_once(limit)
        if self.on_report is not None and report.claimed:
            self.on_report(self.connection_id, report)
        return report

    async def _run_once(self, limit: int) -> RunReport:
        report = RunReport()
        claimed = self.store.claim_dirty(self.connection_id, limit, self.clock())
        report.claimed = len(claimed)
        if not claimed:
            return report
        if any(dirty.reason == USER_RETRY for dirty in claimed):
            # A retry follows a fix hint, often "change this in QuickBooks": read it again.
            self.forget_ledger_info()
        stepper = self.stepper()
        outcomes = self.outcomes
        gate = asyncio.Semaphore(self.concurrency)

        async def one(key: RecordKey) -> None:
            async with gate:
                with logctx.bound(logctx.record, key.as_text()):
                    await outcomes.run_key(stepper, key, report)

        await asyncio.gather(*(one(dirty.key) for dirty in claimed))
        if self.settings.deal_rollups:
            await self._refresh_deals(report)
        return report

    async def _refresh_deals(self, report: RunReport) -> None:
        """Deals of the HubSpot invoices this round touched (directly, or through a payment)."""
        invoices = [
            r.plan.hubspot_id
            for r in report.results
            if r.key.object_type == INVOICE and r.plan.hubspot_id
        ]
        payments = [
            r.plan.hubspot_id
            for r in report.results
            if r.key.object_type == PAYMENT and r.plan.hubspot_id and r.plan.ops
        ]
        try:
            if payments:
                invoices += await self.crm.related_invoice_ids("payment", payments)
        except SyncError as exc:
            log.warning("deal roll-ups: payments' invoices not read: %s", exc.message)
        await refresh_deals(self.crm, invoices)

    async def sync_key(self, key: RecordKey) -> StepResult | None:
        """Run one record's step now (console "sync now", tests); errors are recorded as usual."""
        report = RunReport()
        await self.outcomes.run_key(self.stepper(), key, report)
        return report.results[0] if report.results else None

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1` (the retry policy of the current settings)."""
        return self.outcomes.policy.backoff(attempts)

    # ---- loops -----------------------------------------------------------------------------
    async def run_forever(
        self, stop_event: asyncio.Event, *, poll_interval: float = 5.0, batch: int = 100
    ) -> None:
        """Poll, run due keys, repeat until `stop_event` is set. Errors in one round are logged
        and the next round goes on: the queue is durable, nothing is lost."""
        last_poll: dt.datetime | None = None
        while not stop_event.is_set():
            now = self.clock()
            busy = False
            try:
                if last_poll is None or (now - last_poll).total_seconds() >= poll_interval:
                    last_poll = now
                    await self.poll_once()
                report = await self.run_once(batch)
                busy = report.claimed >= batch
            except SyncError as exc:
                log.warning("sync round failed: %s", exc)
            except Exception:  # keep the worker alive
                log.exception("sync round crashed")
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=min(1.0, poll_interval))

    async def backfill(
        self, since: dt.date | None = None, dry_run: bool = False, *, batch: int = 200
    ) -> AsyncIterator[BackfillProgress]:
        job = Backfill(self, since=since, dry_run=dry_run, batch=batch)
        async for progress in job.run():
            yield progress
