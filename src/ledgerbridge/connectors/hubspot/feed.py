"""HubSpot change feed: search on hs_lastmodifieddate with a composite (timestamp, id) cursor.

Search returns at most 10,000 results per query (paging past that is a 400) and sorts by one
property only. So the feed never pages with `after`: every call re-anchors a fresh query at the
cursor and takes its first page. The cursor "ts:id" means every record with
(hs_lastmodifieddate, id) <= (ts, id) has been emitted.

- One query per call: `ts > T` OR (`ts = T` AND `id > I`), sorted by ts ascending.
- A partial page is complete: emit it all. So is a full page whose answer says nothing follows
  (its `total` is the page's length and it has no `paging.next`): the next call would only
  find the end, a paced search (5 per second) for nothing.
- A full page may split a timestamp across the page boundary (ties are not ordered by id), so
  records at the page's last timestamp are held back; everything before it is exact, because
  the page is sorted by timestamp.
- A full page that is all one timestamp (more ties than a page) switches to an id-ordered query
  within that timestamp.
- `settle_ms` keeps the newest records (whose index entries may still be landing) for the next
  poll instead of racing past them.
- `until` (a backfill's bound, from `newest()` at its start) stops the walk at the records that
  existed then: what changes later, including our own write-back, is the live feed's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ledgerbridge.connectors.hubspot.api import SEARCH_PAGE_MAX, HubSpotApi
from ledgerbridge.connectors.hubspot.translate import epoch_ms
from ledgerbridge.engine.ports import ChangePage

MODIFIED = "hs_lastmodifieddate"
OBJECT_ID = "hs_object_id"


def encode_cursor(ts: int, object_id: int) -> str:
    return f"{ts}:{object_id}"


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    ts, _, object_id = cursor.partition(":")
    return int(ts or 0), int(object_id or 0)


def _key(record: Mapping[str, Any], modified: str = MODIFIED) -> tuple[int, int]:
    props = record.get("properties") or {}
    ts = epoch_ms(props.get(modified) or record.get("updatedAt")) or 0
    return ts, int(record.get("id") or props.get(OBJECT_ID) or 0)


class SearchFeed:
    def __init__(
        self,
        api: HubSpotApi,
        object_type: str,
        *,
        settle_ms: int = 0,
        clock: Callable[[], float] = time.time,
        modified: str = MODIFIED,
    ) -> None:
        self.api = api
        self.object_type = object_type
        # The last-modified property: hs_lastmodifieddate, but lastmodifieddate for contacts.
        self.modified = modified
        self.settle_ms = settle_ms
        self.clock = clock
        self.queries = 0

    def _upper(self, until: int | None = None) -> list[dict[str, str]]:
        bounds = [until] if until is not None else []
        if self.settle_ms:
            bounds.append(int(self.clock() * 1000) - self.settle_ms)
        if not bounds:
            return []
        return [{"propertyName": self.modified, "operator": "LTE", "value": str(min(bounds))}]

    async def newest(self) -> tuple[int | None, int | None]:
        """How many records there are and the modification time (epoch ms) of the newest one, in
        one search: a backfill walks the feed up to that bound."""
        self.queries += 1
        body = {
            "sorts": [{"propertyName": self.modified, "direction": "DESCENDING"}],
            "properties": [self.modified],
            "limit": 1,
        }
        data = await self.api.search(self.object_type, body)
        total = data.get("total")
        results = list(data.get("results") or [])
        newest = _key(results[0], self.modified)[0] if results else None
        return (total if isinstance(total, int) else None), newest

    async def _search(
        self, groups: list[list[dict[str, str]]], sort: str, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """The results, and whether they are all there is (nothing left past this page)."""
        self.queries += 1
        body = {
            "filterGroups": [{"filters": g} for g in groups],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": [self.modified],
            "limit": limit,
        }
        data = await self.api.search(self.object_type, body)
        results = list(data.get("results") or [])
        total = data.get("total")
        more = (data.get("paging") or {}).get("next")
        complete = isinstance(total, int) and total <= len(results) and not more
        return results, complete

    async def page(
        self, cursor: str | None, limit: int = 100, until: int | None = None
    ) -> ChangePage:
        """The records changed after `cursor` (and at or before `until`, epoch ms, if given)."""
        limit = max(1, min(limit, SEARCH_PAGE_MAX))
        ts, last_id = decode_cursor(cursor)
        upper = self._upper(until)
        groups = [[{"propertyName": self.modified, "operator": "GT", "value": str(ts)}, *upper]]
        if last_id:
            groups.append(
                [
                    {"propertyName": self.modified, "operator": "EQ", "value": str(ts)},
                    {"propertyName": OBJECT_ID, "operator": "GT", "value": str(last_id)},
                    *upper,
                ]
            )
        results, complete = await self._search(groups, self.modified, limit)
        keyed = sorted(((_key(r, self.modified), r) for r in results), key=lambda kr: kr[0])
        if len(results) < limit or complete:
            return _page(keyed, cursor, done=True, modified_property=self.modified)
        last_ts = keyed[-1][0][0]
        before = [kr for kr in keyed if kr[0][0] < last_ts]
        if before:
            return _page(before, cursor, done=False, modified_property=self.modified)
        # A whole page of one timestamp: walk that timestamp by id.
        start_id = last_id if last_ts == ts else 0
        ties, _ = await self._search(
            [
                [
                    {"propertyName": self.modified, "operator": "EQ", "value": str(last_ts)},
                    {"propertyName": OBJECT_ID, "operator": "GT", "value": str(start_id)},
                ]
            ],
            OBJECT_ID,
            limit,
        )
        keyed_ties = sorted(((_key(r, self.modified), r) for r in ties), key=lambda kr: kr[0][1])
        keyed_ties = [((last_ts, k[1]), r) for k, r in keyed_ties]
        return _page(keyed_ties, cursor, done=False, modified_property=self.modified)


def _page(
    keyed: list[tuple[tuple[int, int], dict[str, Any]]],
    cursor: str | None,
    done: bool,
    modified_property: str = MODIFIED,
) -> ChangePage:
    ids: list[str] = []
    versions: dict[str, str] = {}
    for (_, object_id), record in keyed:
        key = str(object_id)
        if key in versions or key in ids:
            continue
        ids.append(key)
        modified = (record.get("properties") or {}).get(modified_property)
        if modified:
            versions[key] = str(modified)
    new_cursor = encode_cursor(*keyed[-1][0]) if keyed else cursor
    return ChangePage(ids=ids, cursor=new_cursor, done=done, versions=versions)
