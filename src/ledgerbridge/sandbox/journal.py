"""Crash-safe persistence whose cost follows the change, not the company: a snapshot file plus an
append-only journal of what changed since.

- A save appends one line to `<name>.journal`: one JSON object holding every change since the
  previous save, with a sequence number. One `write` of one line, so a crash mid-write leaves at
  most a torn last line, which loading ignores: the state is the one of the previous save.
- Compaction writes the whole state to `<name>.json` (temporary file, fsync, atomic rename)
  with the last sequence number it covers, then empties the journal. It runs when the journal
  has grown past the snapshot's size (so its cost, spread over the changes, stays per change),
  on a reset and at shutdown. A crash between the rename and the truncation is harmless: loading
  skips journal lines the snapshot already covers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Dumps = Callable[[Any], str]
Loads = Callable[[str], Any]
MIN_COMPACT_BYTES = 1 << 20  # below this, a journal is cheaper to replay than to compact


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


class Journal:
    def __init__(
        self,
        directory: Path,
        name: str,
        dumps: Dumps = _dumps,
        loads: Loads = json.loads,
        min_compact_bytes: int = MIN_COMPACT_BYTES,
    ) -> None:
        self.directory = directory
        self.snapshot_path = directory / f"{name}.json"
        self.journal_path = directory / f"{name}.journal"
        self.dumps = dumps
        self.loads = loads
        self.seq = 0  # last sequence number written (snapshot or journal)
        self.snapshot_bytes = 0
        self.journal_bytes = 0
        self.min_compact_bytes = min_compact_bytes

    def load(self) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(snapshot, journal entries newer than it, oldest first), or None when nothing was
        saved yet."""
        if not self.snapshot_path.exists():
            return None
        text = self.snapshot_path.read_text(encoding="utf-8")
        snapshot = self.loads(text)
        self.snapshot_bytes = len(text)
        self.seq = int(snapshot.get("journal_seq", 0))
        entries: list[dict[str, Any]] = []
        if self.journal_path.exists():
            raw = self.journal_path.read_bytes()
            good = 0  # bytes of whole, readable lines
            for line in raw.split(b"\n")[:-1]:  # the part after the last newline is torn
                try:
                    entry = self.loads(line.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    break
                good += len(line) + 1
                if int(entry["seq"]) > self.seq:
                    entries.append(entry)
                    self.seq = int(entry["seq"])
            if good < len(raw):  # drop the torn tail, or later appends would follow it
                os.truncate(self.journal_path, good)
            self.journal_bytes = good
        return snapshot, entries

    @property
    def exists(self) -> bool:
        return self.snapshot_path.exists()

    def due(self) -> bool:
        """Whether the journal has grown enough that a compaction pays for itself."""
        return self.journal_bytes > max(self.min_compact_bytes, self.snapshot_bytes)

    def append(self, entry: dict[str, Any]) -> None:
        self.seq += 1
        line = (self.dumps({**entry, "seq": self.seq}) + "\n").encode("utf-8")
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.journal_bytes += len(line)

    def compact(self, snapshot: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        text = self.dumps({**snapshot, "journal_seq": self.seq})
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.snapshot_path.stem}-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.snapshot_path)
        with open(self.journal_path, "wb"):
            pass  # everything in it is in the snapshot now
        self.snapshot_bytes = len(text)
        self.journal_bytes = 0
