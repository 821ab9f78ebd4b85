"""Change Data Capture: `GET /cdc?entities=Invoice,Payment&changedSince=...`.

One QueryResponse per requested entity (`{}` when nothing changed), full entities for changes
and `{"domain","status":"Deleted","Id","MetaData":{"LastUpdatedTime"}}` stubs for deletions.
`changedSince` older than 30 days is refused (Intuit: "Operation cdc with changedSince date ...
which is older than fixed days is not supported"). At most 1000 objects per response: the oldest
changes are kept, so a client that moves its window forward from the last change it saw (or
narrows the window) never loses one. CDC does not cover TaxCode and TaxRate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors, schema
from ledgerbridge.sandbox.quickbooks.company import Company
from ledgerbridge.sandbox.quickbooks.index import UPDATED, Indexes
from ledgerbridge.sandbox.quickbooks.wire import meta_time, parse_time

WINDOW = dt.timedelta(days=30)
CAP = 1000
NOT_COVERED = {"TaxCode", "TaxRate", "CompanyInfo"}


def run(
    company: Company,
    entities_param: str | None,
    changed_since: str | None,
    now: dt.datetime,
    tz: dt.tzinfo,
    *,
    use_index: bool = True,
    cap: int = CAP,
) -> list[dict[str, Any]]:
    """`use_index=False` scans every record (the reference for the indexed answer)."""
    from ledgerbridge.sandbox.quickbooks.operations import public

    if not entities_param:
        raise errors.required("entities")
    if not changed_since:
        raise errors.required("changedSince")
    since = parse_time(changed_since, tz)
    if since is None:
        raise errors.invalid_date("changedSince", changed_since)
    if since < now - WINDOW:
        raise errors.unsupported_operation(
            f"cdc with changedSince date {changed_since} which is older than fixed days"
        )
    names = []
    for raw in entities_param.split(","):
        name = schema.BY_LOWER.get(raw.strip().lower())
        if name is None or name in NOT_COVERED:
            raise errors.query_invalid(f"invalid context declaration: {raw.strip()}")
        if name not in names:
            names.append(name)

    changes: list[tuple[dt.datetime, str, dict[str, Any]]] = []
    idx = company.indexes() if use_index else None
    for name in names:
        rows = company.all(name) if idx is None else _oldest(idx, name, since, cap)
        for record in rows:
            when = dt.datetime.fromisoformat(record["_updated"])
            if when >= since:
                changes.append((when, name, public(record)))
        for entity_id, stamp in company.tombstones.get(name, {}).items():
            when = dt.datetime.fromisoformat(stamp)
            if when >= since:
                stub = {
                    "domain": "QBO",
                    "status": "Deleted",
                    "Id": entity_id,
                    "MetaData": {"LastUpdatedTime": meta_time(when, tz)},
                }
                changes.append((when, name, stub))
    changes.sort(key=lambda c: c[0])
    kept = changes[:cap]
    responses = []
    for name in names:
        objects = [obj for _, n, obj in kept if n == name]
        if objects:
            responses.append({name: objects, "startPosition": 1, "maxResults": len(objects)})
        else:
            responses.append({})
    return [{"QueryResponse": responses}]


def _updated(record: dict[str, Any]) -> dt.datetime | None:
    stamp = record.get("_updated")
    return dt.datetime.fromisoformat(stamp) if stamp else None


def _oldest(idx: Indexes, name: str, since: dt.datetime, cap: int) -> list[dict[str, Any]]:
    """The entity's records changed since `since` that can make the cap: its CAP oldest
    changes (`cap`) and any tied with the last of them, in table order as a scan sees them."""
    times = idx.by_time(name, UPDATED, _updated)
    ids = times.since(since)
    if len(ids) > cap:
        last = times.by_id[ids[cap - 1]]
        end = cap
        while end < len(ids) and times.by_id[ids[end]] == last:
            end += 1
        ids = ids[:end]
    return idx.order(name, ids)
