"""Change detection: feeds and webhooks only mark record keys dirty.

- HubSpot: `changed_invoices` / `changed_payments` pages, with the connector's composite cursor
  stored per feed. Keys are marked before the cursor moves, so a crash re-reads a page rather
  than losing it.
- QuickBooks: CDC since a timestamp cursor, the server time the connector reports (the
  connector starts each window a little early: re-marking is harmless, missing a change is not).
- Webhooks from either side arrive as `ChangeEvent`s.

Echo suppression: when a feed or an event carries the record's version and it equals the
version the engine last wrote or saw for that record, the change is its own echo and is dropped
before it costs a read. Records without a link (skipped, excluded, blocked, failed) are
remembered by the version last marked, so overlapping feed windows do not wake them again and
again; a new version always gets through.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    ITEM,
    LEDGER_CREDIT,
    LEDGER_REFUND,
    PAYMENT,
    ChangePage,
    CrmPort,
    LedgerPort,
    RecordKey,
    StorePort,
)

FEED_HS_INVOICES = "hubspot.invoices"
FEED_HS_PAYMENTS = "hubspot.payments"
FEED_HS_CONTACTS = "hubspot.contacts"
FEED_HS_PRODUCTS = "hubspot.products"
FEED_HS_COMPANIES = "hubspot.companies"  # a company's rename wakes its contacts' customers
FEED_QBO_CDC = "quickbooks.cdc"
QBO_ENTITIES = {
    "Invoice": INVOICE,
    "Payment": PAYMENT,
    "Customer": CUSTOMER,
    "Item": ITEM,
    "RefundReceipt": LEDGER_REFUND,  # made in QBO by hand: to the payment it refunds
    "CreditMemo": LEDGER_CREDIT,  # made in QBO by hand: checked, reported while unapplied
}
# Customers and items sync after creation only once linked (engine/masterdata.py): a change to
# one that is not linked is not marked at all, so a portal's contacts never crowd the queue.
LINKED_ONLY = (CUSTOMER, ITEM)
DELETED = "deleted"  # the version remembered for a record reported deleted
SEEN_MAX = 50_000  # versions remembered for unlinked records (a bounded, in-memory cache)
MAX_PAGES = 1000  # per feed per poll: a bound, not an expectation


@dataclass(frozen=True)
class ChangeEvent:
    """One change reported by a webhook (or a test): which record, and its version if known."""

    side: Side
    object_type: str  # INVOICE | PAYMENT | CUSTOMER | ITEM
    source_id: str
    version: str | None = None
    deleted: bool = False


@dataclass
class PollStats:
    """What one polling round saw: records marked dirty, echoes of our own writes dropped, pages
    read.
    """

    marked: int = 0
    echoes: int = 0
    pages: int = 0


class ChangeTracker:
    """Reads both change feeds (HubSpot search, QBO CDC) from stored cursors and marks changed
    records dirty.
    """

    def __init__(
        self,
        connection_id: int,
        crm: CrmPort,
        ledger: LedgerPort,
        store: StorePort,
        clock: Callable[[], dt.datetime],
        initial_lookback: dt.timedelta,
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.clock = clock
        self.initial_lookback = initial_lookback
        self._seen: OrderedDict[str, str] = OrderedDict()

    # ---- webhooks --------------------------------------------------------------------------
    def handle_events(self, events: Iterable[ChangeEvent], reason: str = "webhook") -> PollStats:
        stats = PollStats()
        for event in events:
            if event.object_type not in (
                INVOICE,
                PAYMENT,
                CUSTOMER,
                ITEM,
                LEDGER_REFUND,
                LEDGER_CREDIT,
            ):
                continue
            key = RecordKey(self.connection_id, event.object_type, event.side, event.source_id)
            if not self._tracked(key):
                continue
            if not event.deleted and self.is_echo(key, event.version):
                stats.echoes += 1
                continue
            self._mark(key, f"{reason}: {'deleted' if event.deleted else 'changed'}", event.version)
            stats.marked += 1
        return stats

    def _tracked(self, key: RecordKey) -> bool:
        """Invoices and payments always; customers and items only when linked."""
        if key.object_type not in LINKED_ONLY:
            return True
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        return link is not None and bool(link.hubspot_id and link.qbo_id)

    def is_echo(self, key: RecordKey, version: str | None) -> bool:
        """The change is one the engine already knows: its own write, or a version seen before."""
        if not version:
            return False
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        if link is not None:
            known = link.hubspot_version if key.side is Side.HUBSPOT else link.qbo_version
            if known is not None and known == version:
                return True
        return self._seen.get(key.as_text()) == version

    def _mark(self, key: RecordKey, reason: str, version: str | None) -> None:
        self.store.mark_dirty(key, reason)
        if version:
            text = key.as_text()
            self._seen[text] = version
            self._seen.move_to_end(text)
            while len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)

    def forget(self) -> None:
        """Drop the remembered versions (after a settings change, everything may matter again)."""
        self._seen.clear()

    # ---- polling ---------------------------------------------------------------------------
    async def poll_hubspot(self, limit: int = 100) -> PollStats:
        stats = PollStats()
        for feed, fetch, object_type in (
            (FEED_HS_INVOICES, self.crm.changed_invoices, INVOICE),
            (FEED_HS_PAYMENTS, self.crm.changed_payments, PAYMENT),
            (FEED_HS_CONTACTS, self.crm.changed_contacts, CUSTOMER),
            (FEED_HS_PRODUCTS, self.crm.changed_products, ITEM),
            (FEED_HS_COMPANIES, self.crm.changed_company_contacts, CUSTOMER),
        ):
            cursor = self.store.get_cursor(self.connection_id, feed)
            for _ in range(MAX_PAGES):
                page = await fetch(cursor, limit)
                stats.pages += 1
                self._mark_page(page, Side.HUBSPOT, object_type, stats, "poll")
                if page.cursor is not None and page.cursor != cursor:
                    self.store.set_cursor(self.connection_id, feed, page.cursor)
                    cursor = page.cursor
                if page.done or not page.ids:
                    break
        return stats

    async def poll_quickbooks(self) -> PollStats:
        stats = PollStats()
        started = self.clock()
        stored = self.store.get_cursor(self.connection_id, FEED_QBO_CDC)
        since = _parse_time(stored) if stored else started - self.initial_lookback
        pages = await self.ledger.changes(since, list(QBO_ENTITIES))
        for entity, page in pages.items():
            object_type = QBO_ENTITIES.get(entity)
            if object_type is None:
                continue
            stats.pages += 1
            self._mark_page(page, Side.QUICKBOOKS, object_type, stats, "cdc")
        self.store.set_cursor(
            self.connection_id, FEED_QBO_CDC, _next_since(pages, started).isoformat()
        )
        return stats

    def _mark_page(
        self, page: ChangePage, side: Side, object_type: str, stats: PollStats, reason: str
    ) -> None:
        versions: Mapping[str, str] = page.versions or {}
        for source_id in page.ids:
            key = RecordKey(self.connection_id, object_type, side, str(source_id))
            if not self._tracked(key):
                continue
            version = versions.get(str(source_id))
            if self.is_echo(key, version):
                stats.echoes += 1
                continue
            self._mark(key, reason, version)
            stats.marked += 1
        for source_id in page.deleted_ids:
            key = RecordKey(self.connection_id, object_type, side, str(source_id))
            if not self._tracked(key):
                continue
            # CDC windows overlap: a delete already marked once is not news (a record stays
            # deleted), or the key would wake at every poll and never settle.
            if self.is_echo(key, DELETED):
                stats.echoes += 1
                continue
            self._mark(key, f"{reason}: deleted", DELETED)
            stats.marked += 1


def _next_since(pages: Mapping[str, ChangePage], started: dt.datetime) -> dt.datetime:
    """Where the next window starts: the server time the feed reported (the earliest cursor of
    an unfinished page, if one had more to give), else the time this poll started."""
    unfinished = [_parse_time(p.cursor) for p in pages.values() if p.cursor and not p.done]
    if unfinished:
        return min(unfinished)
    finished = [_parse_time(p.cursor) for p in pages.values() if p.cursor]
    return max(finished) if finished else started


def _parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
