"""QBO change feed: Change Data Capture, with the query API as the fallback.

CDC returns full entities changed since a time (deleted ones as `status: Deleted` stubs), for at
most the last 30 days and at most 1000 objects per response, with no paging. So:
- window older than 30 days → query `MetaData.LastUpdatedTime >= since` for every entity;
- an entity whose CDC answer hit the 1000 cap → query for that entity (CDC cannot be split by
  an end time). The query API does not show deletions; the nightly reconciliation does.
The cursor is the server's own `time` of the answer (never our clock), as Intuit advises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.connectors.quickbooks.translate import quote
from ledgerbridge.engine.ports import ChangePage

CDC_MAX_AGE = dt.timedelta(days=30)
CDC_SAFETY = dt.timedelta(hours=1)  # do not ask CDC for a window right at its 30-day edge
CDC_CAP = 1000
# MetaData.LastUpdatedTime has whole seconds while the server's `time` has milliseconds, and a
# commit can become visible a moment after its timestamp: every window starts a little early.
# Seeing a record twice is harmless (the engine is level-triggered); missing one is not.
OVERLAP = dt.timedelta(seconds=30)
QUERY_FALLBACK_MAX = 10_000  # ids per page when falling back to the query API
NAME_LISTS = {"Customer", "Item", "Vendor", "Employee", "Account", "PaymentMethod"}


def qbo_time(value: dt.datetime) -> str:
    """A datetime in the form QBO accepts, always with an explicit offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def parse_qbo_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class ChangeFeed:
    def __init__(
        self, api: QboApi, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ):
        self.api = api
        self.clock = clock
        self.fallbacks = 0  # how many entity windows went to the query API (observability)

    async def changes(self, since: dt.datetime, entities: Sequence[str]) -> dict[str, ChangePage]:
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        since = since - OVERLAP
        result: dict[str, ChangePage] = {}
        if self.clock() - since > CDC_MAX_AGE - CDC_SAFETY:
            for entity in entities:
                result[entity] = await self._query(entity, since)
            return result
        by_entity, server_time = await self.api.cdc(list(entities), qbo_time(since))
        cursor = server_time or qbo_time(self.clock())
        # The cap is on the whole response, across entities (the oldest changes are kept): a
        # full response may have cut any entity short, even one with few rows in it.
        capped = sum(len(by_entity.get(e, [])) for e in entities) >= CDC_CAP
        for entity in entities:
            rows = by_entity.get(entity, [])
            if capped:
                result[entity] = await self._query(entity, since)
                continue
            result[entity] = _page(rows, cursor)
        return result

    async def _query(self, entity: str, since: dt.datetime) -> ChangePage:
        self.fallbacks += 1
        where = f"MetaData.LastUpdatedTime >= {quote(qbo_time(since))}"
        if entity in NAME_LISTS:
            where += " AND Active IN (true, false)"
        rows, server_time = await self.api.query_pages(
            entity, where, "MetaData.LastUpdatedTime", max_rows=QUERY_FALLBACK_MAX
        )
        if len(rows) >= QUERY_FALLBACK_MAX:
            # More to come: resume from the last timestamp seen (>= re-reads its ties; the
            # engine is level-triggered, so seeing an id twice is harmless).
            last = (rows[-1].get("MetaData") or {}).get("LastUpdatedTime")
            return _page(rows, last or server_time, done=False)
        return _page(rows, server_time or qbo_time(self.clock()))


def _page(rows: list[dict[str, Any]], cursor: str | None, done: bool = True) -> ChangePage:
    ids: list[str] = []
    deleted: list[str] = []
    versions: dict[str, str] = {}
    seen: set[str] = set()
    for row in rows:
        if row.get("Id") is None:
            continue
        entity_id = str(row["Id"])
        if row.get("status") == "Deleted":
            deleted.append(entity_id)
            continue
        if entity_id in seen:
            continue
        seen.add(entity_id)
        ids.append(entity_id)
        if row.get("SyncToken") is not None:
            versions[entity_id] = str(row["SyncToken"])
            if row.get("RemainingCredit") is not None:
                # A credit memo applied by a payment changes its remaining credit, not its
                # SyncToken: the version must tell the two states apart.
                versions[entity_id] += f":{row['RemainingCredit']}"
    return ChangePage(ids=ids, cursor=cursor, done=done, deleted_ids=deleted, versions=versions)
