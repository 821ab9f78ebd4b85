"""Which records a search has to look at, from the indexes (index.py) instead of every record.

`candidates` narrows each filter group to the records one of its filters can select through an
index (the most selective one); search then checks them with the full filter, so the answer is
the full scan's. `ordered_page` answers, without touching the rest, the shape change feeds and
lists use: one group of range filters on the sort property (e.g. hs_lastmodifieddate > T,
sorted by it), other groups small enough to check one by one, or no filter at all.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .index import RANGE_TYPES, SortedIndex
from .schema import ObjectType, resolve_type
from .store import Record

if TYPE_CHECKING:
    from .state import SandboxState

RANGE_OPS = ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN")
Bounds = tuple[Any, bool, Any, bool]  # lo, lo open, hi, hi open (None: unbounded)
EMPTY: Bounds = (1, True, 0, True)  # no key lies in it: compares only with same-type keys


def _range(
    state: SandboxState, t: ObjectType, filters: list[dict[str, Any]]
) -> tuple[str, Bounds] | None:
    """(prop, bounds) when every filter is a range filter on the same date/number property."""
    if not filters:
        return None
    props = {str(f.get("propertyName", "")) for f in filters}
    if len(props) != 1:
        return None
    prop = props.pop()
    d = state.props.get(t.name, prop)
    if d is None or d["type"] not in RANGE_TYPES:
        return None
    idx = state.store.sorted_index(t.name, prop, d["type"])
    lo: Any = None
    hi: Any = None
    lo_open = hi_open = False
    for f in filters:
        op = f.get("operator", "EQ")
        if op not in RANGE_OPS:
            return None
        want = idx.key(f.get("value", ""))
        high = idx.key(f.get("highValue", "")) if op == "BETWEEN" else want
        if want is None or high is None:
            return prop, EMPTY
        if op in ("EQ", "GT", "GTE", "BETWEEN") and (
            lo is None or want > lo or (want == lo and op == "GT")
        ):
            lo, lo_open = want, op == "GT"
        if op in ("EQ", "LT", "LTE", "BETWEEN") and (
            hi is None or high < hi or (high == hi and op == "LT")
        ):
            hi, hi_open = high, op == "LT"
    return prop, (lo, lo_open, hi, hi_open)


def _slice(idx: SortedIndex, b: Bounds) -> tuple[int, int]:
    if b is EMPTY:
        return 0, 0
    return idx.bounds(*b)


def _group_ids(
    state: SandboxState, t: ObjectType, filters: list[dict[str, Any]]
) -> set[str] | None:
    """A superset of the records matching every filter of a group, or None (scan)."""
    best: tuple[int, Callable[[], set[str]]] | None = None
    by_prop: dict[str, list[dict[str, Any]]] = {}
    for f in filters:
        by_prop.setdefault(str(f.get("propertyName", "")), []).append(f)
    for prop, fs in by_prop.items():
        option = _option(state, t, prop, fs)
        if option is not None and (best is None or option[0] < best[0]):
            best = option
    return best[1]() if best is not None else None


def _option(
    state: SandboxState, t: ObjectType, prop: str, fs: list[dict[str, Any]]
) -> tuple[int, Callable[[], set[str]]] | None:
    if prop.startswith("associations."):
        for f in fs:
            op = f.get("operator", "EQ")
            if op in ("EQ", "IN"):
                to = resolve_type(prop.split(".", 1)[1])
                wanted = {str(v) for v in (f.get("values") or [f.get("value")]) if v is not None}
                ids: set[str] = set()
                if to is not None:
                    for w in wanted:
                        ids |= set(state.graph.targets(to.name, w, t.name))
                return len(ids), lambda ids=ids: ids
        return None
    d = state.props.get(t.name, prop)
    if d is None:
        return None
    ranged = [f for f in fs if f.get("operator", "EQ") in RANGE_OPS]
    if d["type"] in RANGE_TYPES and ranged:
        found = _range(state, t, ranged)
        if found is None:
            return None
        idx = state.store.sorted_index(t.name, prop, d["type"])
        start, end = _slice(idx, found[1])
        return end - start, lambda: {str(idx.entries[i][1]) for i in range(start, end)}
    for f in fs:
        op = f.get("operator", "EQ")
        if op not in ("EQ", "IN"):
            continue
        eq = state.store.eq_index(t.name, prop, d["type"])
        raw = f.get("values") or [] if op == "IN" else [f.get("value", "")]
        keys = [eq.key(v) for v in raw]
        if op == "IN" and any(k is None for k in keys):
            continue  # a value with no key matches records with no key: scan
        found_ids = eq.lookup(k for k in keys if k is not None)
        return len(found_ids), lambda ids=found_ids: ids
    return None


def candidates(
    state: SandboxState, t: ObjectType, groups: list[dict[str, Any]]
) -> list[Record] | None:
    """Live records that may match (a superset of the answer), or None: scan them all."""
    if not groups:
        return None
    ids: set[str] = set()
    for g in groups:
        found = _group_ids(state, t, list(g.get("filters") or []))
        if found is None:
            return None
        ids |= found
    live = (state.store.get(t.name, i) for i in ids)
    return [r for r in live if r is not None]


def ordered_page(
    state: SandboxState,
    t: ObjectType,
    groups: list[dict[str, Any]],
    sort: tuple[str, bool],
    after: int,
    limit: int,
) -> tuple[int, list[Record]] | None:
    """(total, page) straight from the sort property's index, or None when the search has
    another shape."""
    from .search import MAX_RESULTS, _matches  # search imports this module

    prop, desc = sort
    d = state.props.get(t.name, prop)
    if d is None or d["type"] not in RANGE_TYPES:
        return None
    idx = state.store.sorted_index(t.name, prop, d["type"])
    extra: list[Record] = []
    if not groups:
        start, end = 0, len(idx.entries)
        absent = idx.absent
        missing = lambda: sorted(int(i) for i in absent)  # noqa: E731 (only paid for when reached)
    else:
        pure = [
            i
            for i, g in enumerate(groups)
            if (_range(state, t, list(g.get("filters") or [])) or ("",))[0] == prop
        ]
        if len(pure) != 1:
            return None
        found = _range(state, t, list(groups[pure[0]].get("filters") or []))
        assert found is not None
        bounds = found[1]
        start, end = _slice(idx, bounds)
        others = [g for i, g in enumerate(groups) if i != pure[0]]
        pool: set[str] = set()
        for g in others:
            ids = _group_ids(state, t, list(g.get("filters") or []))
            if ids is None:
                return None
            pool |= ids
        for rid in pool:
            rec = state.store.get(t.name, rid)
            if rec is None or not any(
                all(_matches(state, t, rec, f) for f in g.get("filters") or []) for g in others
            ):
                continue
            k = idx.by_id.get(rid)
            if k is not None and start <= bisect_left(idx.entries, (k, int(rid))) < end:
                continue  # the range group holds it already
            extra.append(rec)
        extra_missing = sorted(int(r.id) for r in extra if r.id not in idx.by_id)
        missing = extra_missing.copy
    present_extra = sorted(
        ((idx.by_id[r.id], int(r.id)) for r in extra if r.id in idx.by_id),
        key=lambda e: (e[0], e[1]),
    )
    total = (end - start) + (len(idx.absent) if not groups else len(extra))
    if desc:
        present_extra = _desc_order(present_extra)
        merged: Iterable[tuple[Any, int]] = heapq.merge(
            idx.walk(start, end, True), present_extra, key=lambda e: (-e[0], e[1])
        )
    else:
        merged = heapq.merge(idx.walk(start, end, False), present_extra)
    stop = min(after + limit, total, MAX_RESULTS)
    ordered = itertools.chain((e[1] for e in merged), _lazy(missing))
    page = []
    for rid in itertools.islice(ordered, after, stop):
        rec = state.store.get(t.name, str(rid))
        if rec is not None:
            page.append(rec)
    return total, page


def _desc_order(entries: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    return sorted(entries, key=lambda e: (-e[0], e[1]))


def _lazy(make: Callable[[], list[int]]) -> Iterator[int]:
    yield from make()
