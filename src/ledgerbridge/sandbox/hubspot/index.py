"""Search indexes over one object type's live records, so a search costs what its answer costs,
not what the portal holds.

Two kinds, both built on first use and kept true by `ObjectStore.reindex` after every write:
- `EqIndex`: comparison key -> ids, for EQ / IN on any property (unique ids, emails, status...).
- `SortedIndex`: (key, int id) pairs in order, for ranges and sorts on dates and numbers
  (hs_lastmodifieddate, createdate, hs_object_id, amounts). It also knows which live records
  have no comparable value, since a sort puts those last.

Keys are exactly the search's comparison keys (`key_of(ptype)`), so an indexed answer and a full
scan agree by construction; search re-checks every candidate with the full filter anyway.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .clock import parse_instant

KeyFn = Callable[[Any], Any]
RANGE_TYPES = ("number", "date", "datetime")


def _number(v: Any) -> Decimal | None:
    try:
        return Decimal(str(v))
    except (InvalidOperation, TypeError):
        return None


def key_of(ptype: str) -> KeyFn:
    """The search's comparison key for a property type (None: not comparable)."""
    if ptype == "number":
        return _number
    if ptype in ("date", "datetime"):
        return lambda v: parse_instant(str(v))
    if ptype == "enumeration":
        return str  # enumeration filters are case-sensitive
    return lambda v: str(v).lower()


class EqIndex:
    def __init__(self, prop: str, key: KeyFn) -> None:
        self.prop = prop
        self.key = key
        self.by_key: dict[Any, set[str]] = {}
        self.by_id: dict[str, Any] = {}

    def drop(self, rid: str) -> None:
        old = self.by_id.pop(rid, None)
        if old is not None:
            ids = self.by_key.get(old)
            if ids is not None:
                ids.discard(rid)
                if not ids:
                    del self.by_key[old]

    def put(self, rid: str, props: dict[str, str] | None) -> None:
        self.drop(rid)
        raw = props.get(self.prop) if props is not None else None
        if raw is None:
            return
        k = self.key(raw)
        if k is None:
            return
        self.by_id[rid] = k
        self.by_key.setdefault(k, set()).add(rid)

    def lookup(self, keys: Iterable[Any]) -> set[str]:
        out: set[str] = set()
        for k in keys:
            out |= self.by_key.get(k, set())
        return out


class SortedIndex:
    def __init__(self, prop: str, key: KeyFn) -> None:
        self.prop = prop
        self.key = key
        self.entries: list[tuple[Any, int]] = []
        self.by_id: dict[str, Any] = {}
        self.absent: set[str] = set()  # live ids without a comparable value

    def drop(self, rid: str) -> None:
        self.absent.discard(rid)
        old = self.by_id.pop(rid, None)
        if old is not None:
            entry = (old, int(rid))
            i = bisect_left(self.entries, entry)
            if i < len(self.entries) and self.entries[i] == entry:
                del self.entries[i]

    def put(self, rid: str, props: dict[str, str] | None) -> None:
        """`props` None: the record is gone (archived or deleted)."""
        self.drop(rid)
        if props is None:
            return
        raw = props.get(self.prop)
        k = self.key(raw) if raw not in (None, "") else None
        if k is None:
            self.absent.add(rid)
            return
        self.by_id[rid] = k
        insort(self.entries, (k, int(rid)))

    def bounds(self, lo: Any, lo_open: bool, hi: Any, hi_open: bool) -> tuple[int, int]:
        """Index positions [start, end) of keys within the bounds (None: unbounded)."""
        start = 0
        if lo is not None:
            # (lo, big) sorts after every (lo, id); (lo, -1) before them.
            start = (
                bisect_right(self.entries, (lo, float("inf")))
                if lo_open
                else (bisect_left(self.entries, (lo, -1)))
            )
        end = len(self.entries)
        if hi is not None:
            end = (
                bisect_left(self.entries, (hi, -1))
                if hi_open
                else bisect_right(self.entries, (hi, float("inf")))
            )
        return start, max(start, end)

    def walk(self, start: int, end: int, desc: bool) -> Iterable[tuple[Any, int]]:
        """Entries in search order: ascending (key, id); descending keys keep ids ascending
        (a stable sort of id-ordered hits with reverse=True)."""
        if not desc:
            for i in range(start, end):
                yield self.entries[i]
            return
        i = end - 1
        while i >= start:
            j = i
            k = self.entries[i][0]
            while j - 1 >= start and self.entries[j - 1][0] == k:
                j -= 1
            for n in range(j, i + 1):
                yield self.entries[n]
            i = j - 1
