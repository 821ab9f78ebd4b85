"""Counting the database round trips a piece of work makes: transactions begun and SQL
statements sent, through SQLAlchemy's engine events. Used by `bench/transactions.py` and by the
tests that keep a sync step's transactions under a bound (counts, never timings)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class RoundTrips:
    """Transactions begun, statements executed (a transaction's own BEGIN not counted) and
    connections taken from the pool (on PostgreSQL a liveness ping may go with a checkout)."""

    transactions: int = 0
    statements: int = 0
    checkouts: int = 0
    # Statements by their first words ("SELECT sync_states", "INSERT INTO record_links", ...).
    kinds: Counter[str] = field(default_factory=Counter)

    def per(self, count: int) -> tuple[float, float]:
        """(transactions, statements) per unit of `count`."""
        count = max(1, count)
        return self.transactions / count, self.statements / count


def _kind(statement: str) -> str:
    words = statement.split()
    if not words:
        return ""
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    for marker in ("FROM", "INTO", "UPDATE"):
        if marker in upper[:40] and upper.index(marker) + 1 < len(words):
            table = words[upper.index(marker) + 1].strip('"(')
            return f"{verb} {table}"
    return verb


@contextmanager
def count_round_trips(engine: Engine) -> Iterator[RoundTrips]:
    """Count what `engine` sends to the database inside the block."""
    trips = RoundTrips()

    def on_begin(_conn: Any) -> None:
        trips.transactions += 1

    def on_execute(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("BEGIN"):
            return
        trips.statements += 1
        trips.kinds[_kind(statement)] += 1

    def on_checkout(*_args: Any) -> None:
        trips.checkouts += 1

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield trips
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine.pool, "checkout", on_checkout)
