"""CRM records: string-valued properties with their change history, per object type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .clock import iso_ms, parse_instant
from .index import EqIndex, SortedIndex, key_of

# One history entry: (value, epoch ms, sourceType). Tuples, not dicts: a portal holds one per
# property per record, and at 100,000 records the difference is gigabytes.
HistoryEntry = tuple[str, int, str]


def history_entry(h: HistoryEntry) -> dict[str, Any]:
    """The API's shape of a history entry."""
    value, ms, source = h
    out: dict[str, Any] = {"value": value, "timestamp": iso_ms(ms), "sourceType": source}
    if source != "API":
        out["sourceId"] = "sandbox"
    return out


@dataclass
class Record:
    id: str
    object_type: str
    created_ms: int
    updated_ms: int
    properties: dict[str, str] = field(default_factory=dict)
    # newest first, at most 20 per property; a property set once holds its entry bare (most
    # do, and a one-item list per property per record adds up)
    history: dict[str, HistoryEntry | list[HistoryEntry]] = field(default_factory=dict)
    archived: bool = False
    archived_ms: int | None = None

    def set(self, name: str, value: str | None, now_ms: int, source: str) -> bool:
        """Set one value, recording history. Returns whether it changed."""
        old = self.properties.get(name)
        if old == value:
            return False
        if value is None:
            self.properties.pop(name, None)
        else:
            self.properties[name] = value
        entry = (value or "", now_ms, source)
        past = self.history.get(name)
        if past is None:
            self.history[name] = entry
        elif isinstance(past, tuple):
            self.history[name] = [entry, past]
        else:
            past.insert(0, entry)
            del past[20:]  # enough history for any client; bounded memory
        return True

    def history_of(self, name: str) -> list[HistoryEntry]:
        past = self.history.get(name)
        if past is None:
            return []
        return [past] if isinstance(past, tuple) else past

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object_type": self.object_type,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "properties": self.properties,
            "history": {name: self.history_of(name) for name in self.history},
            "archived": self.archived,
            "archived_ms": self.archived_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        history: dict[str, HistoryEntry | list[HistoryEntry]] = {}
        for name, entries in data.get("history", {}).items():
            parsed = [_entry_from_json(h) for h in entries]
            history[name] = parsed[0] if len(parsed) == 1 else parsed
        return cls(**{**data, "history": history})


def _entry_from_json(h: Any) -> HistoryEntry:
    if isinstance(h, dict):  # snapshots written before entries were tuples
        return (h["value"], parse_instant(h["timestamp"]) or 0, h["sourceType"])
    return (h[0], int(h[1]), h[2])


class ObjectStore:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Record]] = {}
        self.next_id = 10001
        self.last_ms = 0
        self.sequences: dict[str, int] = {"invoice_number": 1000}
        # Lookup indexes for find_by, built on first use: (type, prop) -> (value -> id, id -> value).
        self._index: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]] = {}
        # Search indexes: (type, prop, property type) -> index (see index.py).
        self._eq: dict[tuple[str, str, str], EqIndex] = {}
        self._sorted: dict[tuple[str, str, str], SortedIndex] = {}
        # (type, id) of records written since persistence last looked (see sandbox.py).
        self.dirty: set[tuple[str, str]] = set()

    def new_id(self) -> str:
        """One id sequence across object types, so an id of the wrong type never resolves."""
        self.next_id += 1
        return str(self.next_id)

    def stamp(self, now_ms: int) -> int:
        """Strictly increasing write timestamps: change feeds that page by
        hs_lastmodifieddate never see two writes at the same instant."""
        self.last_ms = max(now_ms, self.last_ms + 1)
        return self.last_ms

    def of(self, object_type: str) -> dict[str, Record]:
        return self.records.setdefault(object_type, {})

    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> Record | None:
        rec = self.of(object_type).get(str(object_id))
        if rec is None or rec.archived != archived:
            return None
        return rec

    @staticmethod
    def _fold(prop: str, value: str) -> str:
        return value.lower() if prop == "email" else value

    def find_by(self, object_type: str, prop: str, value: str) -> Record | None:
        """Live record whose `prop` equals `value` (emails compare case-insensitively)."""
        key = (object_type, prop)
        if key not in self._index:
            by_value: dict[str, str] = {}
            by_id: dict[str, str] = {}
            for rec in self.of(object_type).values():
                have = rec.properties.get(prop)
                if not rec.archived and have is not None:
                    by_value.setdefault(self._fold(prop, have), rec.id)
                    by_id[rec.id] = self._fold(prop, have)
            self._index[key] = (by_value, by_id)
        rid = self._index[key][0].get(self._fold(prop, value))
        return self.get(object_type, rid) if rid is not None else None

    def eq_index(self, object_type: str, prop: str, ptype: str) -> EqIndex:
        key = (object_type, prop, ptype)
        if key not in self._eq:
            idx = EqIndex(prop, key_of(ptype))
            for rec in self.of(object_type).values():
                if not rec.archived:
                    idx.put(rec.id, rec.properties)
            self._eq[key] = idx
        return self._eq[key]

    def sorted_index(self, object_type: str, prop: str, ptype: str) -> SortedIndex:
        key = (object_type, prop, ptype)
        if key not in self._sorted:
            idx = SortedIndex(prop, key_of(ptype))
            live = [r for r in self.of(object_type).values() if not r.archived]
            for rec in live:
                raw = rec.properties.get(prop)
                k = idx.key(raw) if raw not in (None, "") else None
                if k is None:
                    idx.absent.add(rec.id)
                else:
                    idx.by_id[rec.id] = k
            idx.entries = sorted((k, int(i)) for i, k in idx.by_id.items())
            self._sorted[key] = idx
        return self._sorted[key]

    def reindex(self, rec: Record) -> None:
        """Keep the indexes true after `rec` was written, archived or removed."""
        self.dirty.add((rec.object_type, rec.id))
        live_rec = not rec.archived and self.of(rec.object_type).get(rec.id) is rec
        for idx_map in (self._eq, self._sorted):
            for (object_type, _, _), idx in idx_map.items():
                if object_type == rec.object_type:
                    idx.put(rec.id, rec.properties if live_rec else None)
        for (object_type, prop), (by_value, by_id) in self._index.items():
            if object_type != rec.object_type:
                continue
            old = by_id.pop(rec.id, None)
            if old is not None and by_value.get(old) == rec.id:
                del by_value[old]
            live = not rec.archived and self.of(object_type).get(rec.id) is rec
            have = rec.properties.get(prop)
            if live and have is not None:
                folded = self._fold(prop, have)
                by_value.setdefault(folded, rec.id)
                by_id[rec.id] = folded

    def live(self, object_type: str) -> list[Record]:
        return [r for r in self.of(object_type).values() if not r.archived]

    def to_dict(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "last_ms": self.last_ms,
            "sequences": self.sequences,
            "records": [r.to_dict() for recs in self.records.values() for r in recs.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectStore:
        s = cls()
        s.next_id = data["next_id"]
        s.last_ms = data["last_ms"]
        s.sequences = data["sequences"]
        for raw in data["records"]:
            rec = Record.from_dict(raw)
            s.of(rec.object_type)[rec.id] = rec
        return s
