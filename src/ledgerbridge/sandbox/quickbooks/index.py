"""Indexes over one company's entities, so a query or a CDC call costs what its answer costs.

Built on first use per (entity, property path) and kept true lazily: every write marks the
record (`Company.note`, called by put/remove/touch), and the next lookup re-reads the marked
records. Keys are the query's own comparison keys (`query._comparable`), so a lookup returns a
superset of the matching rows; the query checks each with the full condition, sorts and pages
exactly as a scan would. Rows keep their place in the entity table (`seq`), because a scan's
stable sorts break ties in that order.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, insort
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerbridge.sandbox.quickbooks.company import Company

Extract = Callable[[dict[str, Any]], Any]
UPDATED = ("_updated",)  # CDC's order: the record's microsecond change time


class _Eq:
    def __init__(self, key: Extract) -> None:
        self.key = key
        self.by_key: dict[Any, set[str]] = {}
        self.by_id: dict[str, Any] = {}

    def put(self, rid: str, record: dict[str, Any] | None) -> None:
        old = self.by_id.pop(rid, None)
        if old is not None:
            ids = self.by_key.get(old)
            if ids is not None:
                ids.discard(rid)
                if not ids:
                    del self.by_key[old]
        k = self.key(record) if record is not None else None
        if k is not None:
            try:
                self.by_key.setdefault(k, set()).add(rid)
            except TypeError:  # an unhashable value (a list) is never equal to a literal
                return
            self.by_id[rid] = k


class _Sorted:
    def __init__(self, key: Extract) -> None:
        self.key = key
        self.entries: list[tuple[Any, str]] = []
        self.by_id: dict[str, Any] = {}

    def put(self, rid: str, record: dict[str, Any] | None) -> None:
        old = self.by_id.pop(rid, None)
        if old is not None:
            i = bisect_left(self.entries, (old, rid))
            if i < len(self.entries) and self.entries[i] == (old, rid):
                del self.entries[i]
        k = self.key(record) if record is not None else None
        if isinstance(k, dt.datetime):
            self.by_id[rid] = k
            insort(self.entries, (k, rid))

    def since(self, low: dt.datetime, *, strict: bool = False) -> list[str]:
        """Ids with a key >= low (> low when strict), oldest first."""
        i = bisect_left(self.entries, (low, ""))
        out = [rid for _, rid in self.entries[i:]]
        if strict:
            out = [rid for rid in out if self.by_id[rid] > low]
        return out

    def until(self, high: dt.datetime, *, strict: bool = False) -> list[str]:
        out = []
        for k, rid in self.entries:
            if k > high or (strict and k == high):
                break
            out.append(rid)
        return out


class Indexes:
    def __init__(self, company: Company) -> None:
        self.company = company
        self.seq: dict[str, dict[str, int]] = {}
        self.next_seq = 0
        self.eq: dict[tuple[str, tuple[str, ...]], _Eq] = {}
        self.sorted: dict[tuple[str, tuple[str, ...]], _Sorted] = {}

    def _table_seq(self, entity: str) -> dict[str, int]:
        if entity not in self.seq:
            seqs = {}
            for rid in self.company.entities.get(entity, {}):
                seqs[rid] = self.next_seq
                self.next_seq += 1
            self.seq[entity] = seqs
        return self.seq[entity]

    def refresh(self) -> None:
        """Re-read the records written since the last lookup."""
        pending, self.company.changed = self.company.changed, set()
        for entity, rid in pending:
            record = self.company.entities.get(entity, {}).get(rid)
            seqs = self.seq.get(entity)
            if seqs is not None:
                if record is None:
                    seqs.pop(rid, None)
                elif rid not in seqs:
                    seqs[rid] = self.next_seq
                    self.next_seq += 1
            for (name, _), idx in (*self.eq.items(), *self.sorted.items()):
                if name == entity:
                    idx.put(rid, record)

    def order(self, entity: str, ids: set[str] | list[str]) -> list[dict[str, Any]]:
        """The visible records among `ids`, in the entity table's order (a scan's order)."""
        self.refresh()
        seqs = self._table_seq(entity)
        table = self.company.entities.get(entity, {})
        hidden = self.company.hidden
        ranked = sorted((seqs[i], i) for i in ids if i in seqs)
        return [table[i] for _, i in ranked if i in table and (entity, i) not in hidden]

    def seq_of(self, entity: str, rid: str) -> int:
        return self._table_seq(entity).get(rid, -1)

    def equal(self, entity: str, path: tuple[str, ...], key: Extract) -> _Eq:
        self.refresh()
        if (entity, path) not in self.eq:
            idx = _Eq(key)
            for rid, record in self.company.entities.get(entity, {}).items():
                idx.put(rid, record)
            self.eq[(entity, path)] = idx
        return self.eq[(entity, path)]

    def by_time(self, entity: str, path: tuple[str, ...], key: Extract) -> _Sorted:
        self.refresh()
        if (entity, path) not in self.sorted:
            idx = _Sorted(key)
            for rid, record in self.company.entities.get(entity, {}).items():
                k = key(record)
                if isinstance(k, dt.datetime):
                    idx.by_id[rid] = k
            idx.entries = sorted((k, rid) for rid, k in idx.by_id.items())
            self.sorted[(entity, path)] = idx
        return self.sorted[(entity, path)]
