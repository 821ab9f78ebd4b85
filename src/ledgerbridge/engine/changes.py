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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    Link,
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


# The object types a webhook event may mark.
WEBHOOK_TYPES = (INVOICE, PAYMENT, CUSTOMER, ITEM, LEDGER_REFUND, LEDGER_CREDIT)


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
        wanted = [e for e in events if e.object_type in WEBHOOK_TYPES]
        links = self._links_of(
            (e.object_type, e.side, e.source_id)
            for e in wanted
            if e.version or e.object_type in LINKED_ONLY
        )
        marks: list[tuple[RecordKey, str, str | None]] = []
        for event in wanted:
            key = RecordKey(self.connection_id, event.object_type, event.side, event.source_id)
            link = links.get((event.object_type, event.side, event.source_id))
            if not self._tracked_by(key, link):
                continue
            if not event.deleted and self._echo_of(key, event.version, link):
                stats.echoes += 1
                continue
            marks.append(
                (key, f"{reason}: {'deleted' if event.deleted else 'changed'}", event.version)
            )
            stats.marked += 1
        self._mark_all(marks)
        return stats

    def _links_of(
        self, wanted: Iterable[tuple[str, Side, str]]
    ) -> dict[tuple[str, Side, str], Link]:
        """The links of many records, one query per object type and side, in one transaction."""
        groups: dict[tuple[str, Side], list[str]] = {}
        for object_type, side, source_id in wanted:
            groups.setdefault((object_type, side), []).append(source_id)
        out: dict[tuple[str, Side, str], Link] = {}
        if not groups:
            return out
        with self.store.reading():
            for (object_type, side), ids in groups.items():
                found = self.store.get_links(self.connection_id, object_type, side, ids)
                for source_id, link in found.items():
                    out[(object_type, side, source_id)] = link
        return out

    def _tracked(self, key: RecordKey) -> bool:
        """Invoices and payments always; customers and items only when linked."""
        if key.object_type not in LINKED_ONLY:
            return True
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        return self._tracked_by(key, link)

    @staticmethod
    def _tracked_by(key: RecordKey, link: Link | None) -> bool:
        if key.object_type not in LINKED_ONLY:
            return True
        return link is not None and bool(link.hubspot_id and link.qbo_id)

    def is_echo(self, key: RecordKey, version: str | None) -> bool:
        """The change is one the engine already knows: its own write, or a version seen before."""
        if not version:
            return False
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        return self._echo_of(key, version, link)

    def _echo_of(self, key: RecordKey, version: str | None, link: Link | None) -> bool:
        if not version:
            return False
        if link is not None:
            known = link.hubspot_version if key.side is Side.HUBSPOT else link.qbo_version
            if known is not None and known == version:
                return True
        return self._seen.get(key.as_text()) == version

    def _mark(self, key: RecordKey, reason: str, version: str | None) -> None:
        self._mark_all([(key, reason, version)])

    def _mark_all(
        self,
        marks: Sequence[tuple[RecordKey, str, str | None]],
        cursor: tuple[str, str] | None = None,
    ) -> None:
        """Mark many keys (and move a feed's cursor past them) in one transaction."""
        if not marks and cursor is None:
            return
        with self.store.unit_of_work():
            for key, reason, _ in marks:
                self.store.mark_dirty(key, reason)
            if cursor is not None:
                self.store.set_cursor(self.connection_id, *cursor)
        for key, _, version in marks:
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
        feeds = (
            (FEED_HS_INVOICES, self.crm.changed_invoices, INVOICE),
            (FEED_HS_PAYMENTS, self.crm.changed_payments, PAYMENT),
            (FEED_HS_CONTACTS, self.crm.changed_contacts, CUSTOMER),
            (FEED_HS_PRODUCTS, self.crm.changed_products, ITEM),
            (FEED_HS_COMPANIES, self.crm.changed_company_contacts, CUSTOMER),
        )
        with self.store.reading():
            cursors = {
                feed: self.store.get_cursor(self.connection_id, feed) for feed, _, _ in feeds
            }
        for feed, fetch, object_type in feeds:
            cursor = cursors[feed]
            for _ in range(MAX_PAGES):
                page = await fetch(cursor, limit)
                stats.pages += 1
                marks = self._page_marks(page, Side.HUBSPOT, object_type, stats, "poll")
                # Keys are marked before (in the same transaction as) the cursor moves.
                moved = page.cursor is not None and page.cursor != cursor
                self._mark_all(marks, (feed, page.cursor) if moved and page.cursor else None)
                if moved:
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
        marks: list[tuple[RecordKey, str, str | None]] = []
        for entity, page in pages.items():
            object_type = QBO_ENTITIES.get(entity)
            if object_type is None:
                continue
            stats.pages += 1
            marks += self._page_marks(page, Side.QUICKBOOKS, object_type, stats, "cdc")
        self._mark_all(marks, (FEED_QBO_CDC, _next_since(pages, started).isoformat()))
        return stats

    def _mark_page(
        self, page: ChangePage, side: Side, object_type: str, stats: PollStats, reason: str
    ) -> None:
        self._mark_all(self._page_marks(page, side, object_type, stats, reason))

    def _page_marks(
        self, page: ChangePage, side: Side, object_type: str, stats: PollStats, reason: str
    ) -> list[tuple[RecordKey, str, str | None]]:
        """The keys of a feed page to mark (echoes and untracked records left out), with the
        page's links read in one query."""
        versions: Mapping[str, str] = page.versions or {}
        ids = [str(i) for i in page.ids] + [str(i) for i in page.deleted_ids]
        links = self._links_of((object_type, side, i) for i in ids)
        marks: list[tuple[RecordKey, str, str | None]] = []
        for source_id in page.ids:
            key = RecordKey(self.connection_id, object_type, side, str(source_id))
            link = links.get((object_type, side, str(source_id)))
            if not self._tracked_by(key, link):
                continue
            version = versions.get(str(source_id))
            if self._echo_of(key, version, link):
                stats.echoes += 1
                continue
            marks.append((key, reason, version))
            stats.marked += 1
        for source_id in page.deleted_ids:
            key = RecordKey(self.connection_id, object_type, side, str(source_id))
            link = links.get((object_type, side, str(source_id)))
            if not self._tracked_by(key, link):
                continue
            # CDC windows overlap: a delete already marked once is not news (a record stays
            # deleted), or the key would wake at every poll and never settle.
            if self._echo_of(key, DELETED, link):
                stats.echoes += 1
                continue
            marks.append((key, f"{reason}: deleted", DELETED))
            stats.marked += 1
        return marks


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
