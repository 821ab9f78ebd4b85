"""Figures for operators (metrics, the console's overview): a few aggregate queries over every
connection at once, so a scrape costs a handful of statements however many connections exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select

from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import DirtyKeyRow, SyncStateRow


@dataclass(frozen=True)
class ConnectionFigures:
    connection_id: int
    queue_depth: int = 0
    # Age of the oldest dirty key: how far behind the sync is for this connection.
    lag_seconds: float = 0.0
    # Keys currently leased by some worker.
    in_flight: int = 0
    states: dict[str, int] = field(default_factory=dict)
    failing_by_category: dict[str, int] = field(default_factory=dict)


class OpsQueries(StoreBase):
    def ops_figures(self, now: dt.datetime | None = None) -> dict[int, ConnectionFigures]:
        now = now or self._now()
        depth: dict[int, tuple[int, dt.datetime | None, int]] = {}
        states: dict[int, dict[str, int]] = {}
        failing: dict[int, dict[str, int]] = {}
        leased = func.sum(case((DirtyKeyRow.lease_until > now, 1), else_=0))
        with self._read() as session:
            for cid, count, oldest, in_flight in session.execute(
                select(
                    DirtyKeyRow.connection_id,
                    func.count(),
                    func.min(DirtyKeyRow.marked_at),
                    leased,
                ).group_by(DirtyKeyRow.connection_id)
            ):
                depth[cid] = (count, oldest, int(in_flight or 0))
            for cid, status, category, count in session.execute(
                select(
                    SyncStateRow.connection_id,
                    SyncStateRow.status,
                    SyncStateRow.category,
                    func.count(),
                ).group_by(SyncStateRow.connection_id, SyncStateRow.status, SyncStateRow.category)
            ):
                by_status = states.setdefault(cid, {})
                by_status[status] = by_status.get(status, 0) + count
                if status == "failed":
                    by_cat = failing.setdefault(cid, {})
                    key = category or "unknown"
                    by_cat[key] = by_cat.get(key, 0) + count
        out: dict[int, ConnectionFigures] = {}
        for cid in set(depth) | set(states):
            count, oldest, in_flight = depth.get(cid, (0, None, 0))
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            out[cid] = ConnectionFigures(
                cid, count, lag, in_flight, states.get(cid, {}), failing.get(cid, {})
            )
        return out
