"""Change detection: feeds and webhooks only mark record keys dirty.

- HubSpot: `changed_invoices` / `changed_payments` pages, with the connector's composite cursor
  stored per feed. Keys are marked before the cursor moves, so a crash re-reads a page rather
  than losing it.
- QuickBooks: CDC since a timestamp cursor (overlapping a little: re-marking is harmless,
  missing a change is not).
- Webhooks from either side arrive as `ChangeEvent`s.

Echo suppression: when a feed or an event carries the record's version and it equals the
version the engine last wrote or saw for that record, the change is its own echo and is dropped
before it costs a read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import (
    INVOICE,
    PAYMENT,
    ChangePage,
    CrmPort,
    LedgerPort,
    RecordKey,
    StorePort,
)

FEED_HS_INVOICES = "hubspot.invoices"
FEED_HS_PAYMENTS = "hubspot.payments"
FEED_QBO_CDC = "quickbooks.cdc"
QBO_ENTITIES = {"Invoice": INVOICE, "Payment": PAYMENT}
CDC_OVERLAP = dt.timedelta(seconds=30)  # clock skew between us and QBO, and commit lag
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
    marked: int = 0
    echoes: int = 0
    pages: int = 0


class ChangeTracker:
    def __init__(self, connection_id: int, crm: CrmPort, ledger: LedgerPort, store: StorePort,
                 clock: Callable[[], dt.datetime], initial_lookback: dt.timedelta) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.clock = clock
        self.initial_lookback = initial_lookback

    # ---- webhooks --------------------------------------------------------------------------
    def handle_events(self, events: Iterable[ChangeEvent], reason: str = "webhook") -> PollStats:
        stats = PollStats()
        for event in events:
            if event.object_type not in (INVOICE, PAYMENT):
                continue  # customers and items are synced as dependencies of invoices
            key = RecordKey(self.connection_id, event.object_type, event.side, event.source_id)
            if not event.deleted and self.is_echo(key, event.version):
                stats.echoes += 1
                continue
            self.store.mark_dirty(key, f"{reason}: {'deleted' if event.deleted else 'changed'}")
            stats.marked += 1
        return stats

    def is_echo(self, key: RecordKey, version: str | None) -> bool:
        if not version:
            return False
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        if link is None:
            return False
        known = link.hubspot_version if key.side is Side.HUBSPOT else link.qbo_version
        return known is not None and known == version

    # ---- polling ---------------------------------------------------------------------------
    async def poll_hubspot(self, limit: int = 100) -> PollStats:
        stats = PollStats()
        for feed, fetch, object_type in (
            (FEED_HS_INVOICES, self.crm.changed_invoices, INVOICE),
            (FEED_HS_PAYMENTS, self.crm.changed_payments, PAYMENT),
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
        # Next window starts a little before this poll began: overlap over gaps.
        self.store.set_cursor(self.connection_id, FEED_QBO_CDC, (started - CDC_OVERLAP).isoformat())
        return stats

    def _mark_page(self, page: ChangePage, side: Side, object_type: str, stats: PollStats,
                   reason: str) -> None:
        versions: Mapping[str, str] = page.versions or {}
        for source_id in page.ids:
            key = RecordKey(self.connection_id, object_type, side, str(source_id))
            if self.is_echo(key, versions.get(str(source_id))):
                stats.echoes += 1
                continue
            self.store.mark_dirty(key, reason)
            stats.marked += 1
        for source_id in page.deleted_ids:
            self.store.mark_dirty(RecordKey(self.connection_id, object_type, side, str(source_id)),
                                  f"{reason}: deleted")
            stats.marked += 1


def _parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
