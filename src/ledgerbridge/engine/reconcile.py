"""Reconciliation: read both books in bulk, compare every linked record, repair or report.

A sync step verifies what it wrote; reconciliation verifies what nobody wrote through us: an
edit whose webhook was lost and that polling missed, a bookkeeper's change that the echo
suppression took for our own, a bug. For every linked invoice and payment of a connection it
reads both sides in bulk (HubSpot batch reads, QBO queries by Id; the connectors pace them
within the rate limits), compares them with `compare_invoice` / `compare_payment`, and then:

- when a difference is in a field the sync matrix lets flow (customer, lines, discount, dates,
  memo, voided, PO and custom mappings), the side that wins by the matrix (the field's owner,
  by default the side the invoice was created on) is written over the other: the link's base
  snapshots are forgotten, so the next sync step counts every field as changed on both sides
  and the owner's values win, and the record is marked dirty. When a `drain` is given (the CLI
  and the worker pass the engine's run), the record is synced at once, read again and compared
  again: only a record that now agrees counts as **repaired** (audited with before and after);
- otherwise (totals QBO computes differently, balances, a repair that did not take) the record
  is marked **diverged**, carrying every differing field with both values.

A full sweep also finds what the link table cannot: records on either side that should be
linked and are not (orphans: no link and no sync state at all, so the engine never saw them),
and duplicates (two QBO invoices with the same DocNumber or the same ledgerbridge marker, two
HubSpot invoices pointing at one QBO invoice). Orphans and duplicates are reported, never
repaired automatically: which copy to keep is a person's decision.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import CUSTOM_PREFIX, SyncSettings
from ledgerbridge.engine.ports import (
    INVOICE,
    PAYMENT,
    SALES_RECEIPT,
    FieldDifference,
    Link,
    RecordKey,
    StoredSyncState,
    StorePort,
    differences_text,
)
from ledgerbridge.engine.reconcile_read import (
    BulkReader,
    Pair,
    compare_invoice_links,
    compare_payment_links,
)

FULL = "full"
INCREMENTAL = "incremental"
# Fields a re-sync can bring into agreement: the merged ones (totals follow the lines), and
# amount paid / balance, which a payment still on its way (its event lost) brings in.
_REPAIRABLE = (
    "customer",
    "lines",
    "discount",
    "issue_date",
    "due_date",
    "memo",
    "voided",
    "amount_paid",
    "balance_due",
)

# States a reconciliation reports on but does not overwrite: they already name a cause.
_KEEP_STATES = (SyncStatus.FAILED, SyncStatus.BLOCKED)

REPAIRED = "repaired"
DIVERGED = "diverged"
WOULD_REPAIR = "would repair"  # dry run
ORPHAN = "orphan"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Finding:
    """One line of a run's report: a differing field, an orphan or a duplicate."""

    object_type: str
    outcome: str  # REPAIRED | DIVERGED | WOULD_REPAIR | ORPHAN | DUPLICATE
    hubspot_id: str | None
    qbo_id: str | None
    field: str
    hubspot: str | None = None
    quickbooks: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReconcileReport:
    scope: str  # FULL | INCREMENTAL
    since: dt.datetime | None
    started_at: dt.datetime
    finished_at: dt.datetime
    checked: int = 0
    in_sync: int = 0
    repaired: int = 0
    diverged: int = 0
    orphans: int = 0
    duplicates: int = 0
    api_calls: int = 0
    dry_run: bool = False
    findings: tuple[Finding, ...] = ()

    @property
    def duration(self) -> dt.timedelta:
        return self.finished_at - self.started_at


class ReconcileStore(StorePort, Protocol):
    def list_links(
        self, connection_id: int, object_type: str, updated_since: dt.datetime | None = None
    ) -> list[Link]: ...
    def get_links(
        self, connection_id: int, object_type: str, side: Side, source_ids: Sequence[str]
    ) -> dict[str, Link]: ...
    def get_states(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredSyncState]: ...


Drain = Callable[[], Awaitable[None]]
StatusWriter = Callable[[str, SyncStatus, str | None], Awaitable[None]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Reconciler:
    def __init__(
        self,
        connection_id: int,
        reader: BulkReader,
        store: ReconcileStore,
        settings: SyncSettings,
        *,
        clock: Callable[[], dt.datetime] = _now,
        drain: Drain | None = None,
        write_status: StatusWriter | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.reader = reader
        self.store = store
        self.settings = settings
        self.clock = clock
        self.drain = drain
        self.write_status = write_status

    async def run(
        self, *, since: dt.datetime | None = None, repair: bool = True, dry_run: bool = False
    ) -> ReconcileReport:
        """A full sweep (since=None) or the records changed since `since`, plus every record
        already diverged (so a fixed one turns synced again)."""
        started = self.clock()
        calls_before = self.reader.api_calls()
        invoice_links, payment_links = await self._scope(since)
        findings: list[Finding] = []
        counts: dict[str, int] = defaultdict(int)

        inv_diffs = await compare_invoice_links(
            self.reader, self.settings, invoice_links, payment_links
        )
        pay_diffs = await compare_payment_links(self.reader, payment_links, self.settings)
        pairs = [(INVOICE, p) for p in inv_diffs] + [(PAYMENT, p) for p in pay_diffs]
        counts["checked"] = len(pairs)
        to_repair: list[tuple[str, Pair]] = []
        for object_type, pair in pairs:
            if not pair.diffs:
                counts["in_sync"] += 1
                await self._clear_diverged(object_type, pair.link, dry_run)
            elif repair and _repairable(object_type, pair.diffs):
                to_repair.append((object_type, pair))
            else:
                await self._diverge(object_type, pair, dry_run, findings, counts)

        if to_repair:
            await self._repair(to_repair, dry_run, findings, counts, payment_links)

        if since is None:
            await self._orphans_and_duplicates(invoice_links, payment_links, findings, counts)

        return ReconcileReport(
            scope=FULL if since is None else INCREMENTAL,
            since=since,
            started_at=started,
            finished_at=self.clock(),
            checked=counts["checked"],
            in_sync=counts["in_sync"],
            repaired=counts["repaired"],
            diverged=counts["diverged"],
            orphans=counts["orphans"],
            duplicates=counts["duplicates"],
            api_calls=self.reader.api_calls() - calls_before,
            dry_run=dry_run,
            findings=tuple(findings),
        )

    # ---- scope ---------------------------------------------------------------------------------
    async def _scope(self, since: dt.datetime | None) -> tuple[list[Link], list[Link]]:
        cid = self.connection_id
        # An invoice recorded as a sales receipt (the paid-invoice workflow) has no QBO invoice:
        # its id names a SalesReceipt, which an Invoice may share.
        invoices = [
            link
            for link in self.store.list_links(cid, INVOICE)
            if link.hubspot_id and link.qbo_id and link.qbo_kind != SALES_RECEIPT
        ]
        payments = [link for link in self.store.list_links(cid, PAYMENT) if link.qbo_id]
        if since is None:
            return invoices, payments
        # A change whose version is the one the link holds was synced (and verified) by the
        # engine since: only the others, plus what the engine wrote since and what is diverged.
        hs_changed = await self.reader.hubspot_changed_invoices(since)
        qbo_changed = await self.reader.ledger_changed(since)
        qbo_invoices = qbo_changed.get("Invoice", {})
        qbo_payments = qbo_changed.get("Payment", {})
        qbo_receipts = qbo_changed.get("SalesReceipt", {})
        touched = {link.qbo_id for link in self.store.list_links(cid, INVOICE, since)}
        touched_payments = {link.qbo_id for link in self.store.list_links(cid, PAYMENT, since)}
        diverged = {
            s.key.source_id for s in self.store.list_states(cid, SyncStatus.DIVERGED, limit=100_000)
        }
        invoices = [
            link
            for link in invoices
            if _moved(hs_changed, link.hubspot_id, link.hubspot_version)
            or _moved(qbo_invoices, link.qbo_id, link.qbo_version)
            or link.qbo_id in touched
            or link.hubspot_id in diverged
            or link.qbo_id in diverged
        ]
        payments = [
            link
            for link in payments
            if _moved(
                qbo_receipts if link.qbo_kind == SALES_RECEIPT else qbo_payments,
                link.qbo_id,
                link.qbo_version,
            )
            or link.qbo_id in touched_payments
            or link.qbo_id in diverged
            or link.hubspot_id in diverged
        ]
        return invoices, payments

    # ---- outcomes ------------------------------------------------------------------------------
    def _key(self, object_type: str, link: Link) -> RecordKey:
        """The record's sync state key, as the engine writes it: the origin side's id."""
        cid = self.connection_id
        if object_type == PAYMENT:
            if link.extra.get("origin") == Side.HUBSPOT.value and link.hubspot_id:
                return RecordKey(cid, PAYMENT, Side.HUBSPOT, link.hubspot_id)
            return RecordKey(cid, PAYMENT, Side.QUICKBOOKS, link.qbo_id or "")
        if link.extra.get("origin") == Side.QUICKBOOKS.value and link.qbo_id:
            return RecordKey(cid, INVOICE, Side.QUICKBOOKS, link.qbo_id)
        return RecordKey(cid, INVOICE, Side.HUBSPOT, link.hubspot_id or "")

    async def _diverge(
        self,
        object_type: str,
        pair: Pair,
        dry_run: bool,
        findings: list[Finding],
        counts: dict[str, int],
    ) -> None:
        counts["diverged"] += 1
        findings.extend(_findings(object_type, pair, DIVERGED))
        if dry_run:
            return
        key = self._key(object_type, pair.link)
        current = self.store.get_state(key) or StoredSyncState(key, SyncStatus.PENDING)
        if current.status in _KEEP_STATES:
            return  # already shown as failing or waiting, with its own cause and fix: kept
        message = differences_text(pair.diffs)
        self.store.set_state(
            replace(
                current,
                status=SyncStatus.DIVERGED,
                category="diverged",
                message=message,
                hint="Choose which side's value to keep (console: the record's sync panel), or "
                "fix it on one side; the next reconciliation checks again",
                differences=tuple(pair.diffs),
                counterpart_id=pair.link.qbo_id,
            )
        )
        if object_type == INVOICE and self.write_status and pair.link.hubspot_id:
            await self.write_status(pair.link.hubspot_id, SyncStatus.DIVERGED, message)

    async def _clear_diverged(self, object_type: str, link: Link, dry_run: bool) -> None:
        if dry_run:
            return
        key = self._key(object_type, link)
        current = self.store.get_state(key)
        if current is None or current.status is not SyncStatus.DIVERGED:
            return
        self.store.set_state(
            replace(
                current,
                status=SyncStatus.SYNCED,
                category=None,
                message=None,
                hint=None,
                differences=(),
            )
        )
        if object_type == INVOICE and self.write_status and link.hubspot_id:
            await self.write_status(link.hubspot_id, SyncStatus.SYNCED, None)

    async def _repair(
        self,
        items: Sequence[tuple[str, Pair]],
        dry_run: bool,
        findings: list[Finding],
        counts: dict[str, int],
        payment_links: Sequence[Link],
    ) -> None:
        if dry_run:
            for object_type, pair in items:
                counts["repaired"] += 1
                findings.extend(_findings(object_type, pair, WOULD_REPAIR))
            return
        if self.drain is None:
            # Nothing to verify with now: the worker re-syncs them; they are reported diverged
            # until a later run finds them in agreement.
            for object_type, pair in items:
                self.store.mark_dirty(self._key(object_type, pair.link), "reconcile: differ")
                await self._diverge(object_type, pair, dry_run, findings, counts)
            return
        # First an ordinary re-sync: an edit the engine has not processed yet (a lost event)
        # goes through the three-way merge, so a legitimate edit on either side is kept.
        left = await self._resync(items, payment_links, forget_base=False)
        # What still differs: forget the bases, so every field counts as changed on both sides
        # and the owner's value wins (the sync matrix); payments are re-copied from QBO.
        retry = [(t, p) for t, p in items if left.get(_ident(t, p.link)) is not None]
        if retry:
            left.update(await self._resync(retry, payment_links, forget_base=True))
        for object_type, pair in items:
            after = left.get(_ident(object_type, pair.link))
            if after is not None:
                await self._diverge(object_type, after, dry_run, findings, counts)
                continue
            counts["repaired"] += 1
            findings.extend(_findings(object_type, pair, REPAIRED))
            record = pair.link.hubspot_id or pair.link.qbo_id or ""
            for d in pair.diffs:
                self.store.audit(
                    self.connection_id,
                    object_type,
                    record,
                    d.field,
                    {"hubspot": d.hubspot, "quickbooks": d.quickbooks},
                    "agree after re-sync",
                    "reconciliation (re-synced by the sync matrix)",
                )
            await self._clear_diverged(object_type, pair.link, dry_run)

    async def _resync(
        self,
        items: Sequence[tuple[str, Pair]],
        payment_links: Sequence[Link],
        *,
        forget_base: bool,
    ) -> dict[tuple[str, str], Pair | None]:
        """Mark the records dirty (optionally forgetting their bases), let the engine run, read
        them again: {ident: the pair if it still differs, else None}."""
        for object_type, pair in items:
            link = pair.link
            if forget_base:
                if object_type == INVOICE:
                    link = replace(link, base=None, hubspot_version=None, qbo_version=None)
                else:
                    link = replace(link, qbo_hash=None, qbo_version=None)
                self.store.save_link(link)
            self.store.mark_dirty(self._key(object_type, link), "reconcile: sides differ")
        assert self.drain is not None
        await self.drain()
        inv = [self._relinked(INVOICE, p.link) for t, p in items if t == INVOICE]
        pay = [self._relinked(PAYMENT, p.link) for t, p in items if t == PAYMENT]
        fresh = [
            (INVOICE, p)
            for p in await compare_invoice_links(self.reader, self.settings, inv, payment_links)
        ] + [(PAYMENT, p) for p in await compare_payment_links(self.reader, pay, self.settings)]
        out: dict[tuple[str, str], Pair | None] = {_ident(t, p.link): None for t, p in items}
        for object_type, pair in fresh:
            out[_ident(object_type, pair.link)] = pair if pair.diffs else None
        return out

    def _relinked(self, object_type: str, link: Link) -> Link:
        side = Side.HUBSPOT if link.hubspot_id else Side.QUICKBOOKS
        source = link.hubspot_id or link.qbo_id or ""
        return self.store.get_link(self.connection_id, object_type, side, source) or link

    # ---- orphans and duplicates ----------------------------------------------------------------
    async def _orphans_and_duplicates(
        self,
        invoice_links: Sequence[Link],
        payment_links: Sequence[Link],
        findings: list[Finding],
        counts: dict[str, int],
    ) -> None:
        from ledgerbridge.engine.reconcile_scan import scan

        found = await scan(
            self.connection_id,
            self.reader,
            self.store,
            self.settings,
            invoice_links,
            payment_links,
        )
        for finding in found:
            counts["orphans" if finding.outcome == ORPHAN else "duplicates"] += 1
            findings.append(finding)


def _repairable(object_type: str, diffs: Iterable[FieldDifference]) -> bool:
    """Re-syncing helps when a merged field differs (totals follow the lines); a payment copy
    is re-upserted from QBO, its truth."""
    if object_type == PAYMENT:
        return True
    return any(d.field in _REPAIRABLE or d.field.startswith(CUSTOM_PREFIX) for d in diffs)


def _moved(versions: Mapping[str, str | None], source: str | None, known: str | None) -> bool:
    """In a change feed, at a version other than the one the link last synced."""
    if source is None or source not in versions:
        return False
    return versions[source] is None or versions[source] != known


def _ident(object_type: str, link: Link) -> tuple[str, str]:
    return (object_type, link.hubspot_id or link.qbo_id or "")


def _findings(object_type: str, pair: Pair, outcome: str) -> list[Finding]:
    return [
        Finding(
            object_type,
            outcome,
            pair.link.hubspot_id,
            pair.link.qbo_id,
            d.field,
            d.hubspot,
            d.quickbooks,
            d.note,
        )
        for d in pair.diffs
    ]
