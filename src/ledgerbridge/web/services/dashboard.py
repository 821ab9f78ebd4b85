"""The dashboard: sync health at a glance.

- counts per sync status (synced, failed, diverged, pending ...);
- sync lag: for each step that synced a record, the time since the sync first took it up (its
  earliest step since its previous sync, or when it was first seen); shown per hour over the
  last 24 h and per day over 30 days (median and worst);
- failures by category per day; invoices and payments synced per day;
- each connection's last reconcile ("never" when none is recorded).
All from the store (sync_states, sync_steps): no call to HubSpot or QuickBooks.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.engine.ports import INVOICE, PAYMENT
from ledgerbridge.web.formatting import SYNC_STATUS_LABELS

STATUS_ORDER = ("synced", "failed", "diverged", "pending", "blocked", "excluded")


@dataclass
class Series:
    """One chart: x labels, named data sets, and the same as a table (the fallback that reads
    without colour or script)."""

    title: str
    labels: list[str]
    datasets: list[dict[str, Any]]
    unit: str = ""
    kind: str = "bar"  # bar | line

    def table(self) -> list[list[str]]:
        rows = []
        for index, label in enumerate(self.labels):
            rows.append([label] + [_cell(d["data"][index]) for d in self.datasets])
        return rows


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@dataclass
class Dashboard:
    counts: list[tuple[str, str, int]]  # (status, words, count)
    lag_24h: Series
    lag_30d: Series
    failures: Series
    synced: Series
    reconciles: list[tuple[str, dt.datetime | None]] = field(default_factory=list)
    lag_now: float | None = None  # median lag over the last 24 h, seconds


def _lag_series(
    lags: list[tuple[float, float]],
    offset: float,
    step: float,
    buckets: list[dt.datetime],
    fmt: str,
) -> Series:
    """Median and worst lag per bucket; `lags` are (seconds after day0, lag), `offset` is where
    the first bucket starts after day0."""
    grouped: dict[int, list[float]] = defaultdict(list)
    for at, seconds in lags:
        index = int((at - offset) // step)
        if 0 <= index < len(buckets):
            grouped[index].append(seconds)
    median = [
        round(statistics.median(grouped[i]), 1) if grouped[i] else None for i in range(len(buckets))
    ]
    worst = [round(max(grouped[i]), 1) if grouped[i] else None for i in range(len(buckets))]
    return Series(
        title="",
        labels=[b.strftime(fmt) for b in buckets],
        datasets=[
            {"label": "Median lag (s)", "data": median},
            {"label": "Worst lag (s)", "data": worst},
        ],
        unit="seconds",
        kind="line",
    )


def build(console: Any, now: dt.datetime) -> Dashboard:
    store = console.store
    conn = console.connection_id
    counts = {
        str(k.value if hasattr(k, "value") else k): v for k, v in store.count_states(conn).items()
    }
    statuses = [
        s for s in STATUS_ORDER if s in counts or s in ("synced", "failed", "diverged", "pending")
    ]
    statuses += [s for s in counts if s not in statuses]
    count_rows = [
        (s, SYNC_STATUS_LABELS.get(s, s.replace("_", " ").capitalize()), counts.get(s, 0))
        for s in statuses
    ]

    charts = _cached_charts(store, conn, now)
    reconciles = [(c.name, store.last_reconcile(c.id)) for c in store.list_connections()]
    return Dashboard(counts=count_rows, reconciles=reconciles, **charts)


# The charts cover hours and days: recomputing them from the step log on every load would cost
# most of the page's time at 10,000 invoices, so they are kept for a minute (the counts above
# are always live).
CHART_TTL = dt.timedelta(seconds=60)
_charts: dict[tuple[int, int], tuple[dt.datetime, dict[str, Any]]] = {}


def _cached_charts(store: Any, conn: int, now: dt.datetime) -> dict[str, Any]:
    key = (id(store), conn)
    hit = _charts.get(key)
    if hit is not None and dt.timedelta(0) <= now - hit[0] < CHART_TTL:
        return hit[1]
    charts = _charts_now(store, conn, now)
    _charts[key] = (now, charts)
    return charts


def _charts_now(store: Any, conn: int, now: dt.datetime) -> dict[str, Any]:
    day0 = (now - dt.timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    summary = store.step_summary(conn, day0)
    lags = summary.lags
    hour0 = (now - dt.timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    hours = [hour0 + dt.timedelta(hours=i) for i in range(24)]
    days = [day0 + dt.timedelta(days=i) for i in range(30)]
    lag_24h = _lag_series(lags, (hour0 - day0).total_seconds(), 3600.0, hours, "%H:00")
    lag_24h.title = "Sync lag, last 24 hours (per hour)"
    lag_30d = _lag_series(lags, 0.0, 86400.0, days, "%b %d")
    lag_30d.title = "Sync lag, last 30 days (per day)"
    recent_from = (now - dt.timedelta(hours=24) - day0).total_seconds()
    recent = [s for at, s in lags if at >= recent_from]

    by_category: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    invoices = [0] * len(days)
    payments = [0] * len(days)
    for object_type, status, category, i, count in summary.counts:
        if not 0 <= i < len(days):
            continue
        if status == "failed":
            by_category[category or "other"][i] += count
        elif status == "synced" and object_type == INVOICE:
            invoices[i] += count
        elif status == "synced" and object_type == PAYMENT:
            payments[i] += count
    labels = [d.strftime("%b %d") for d in days]
    failures = Series(
        title="Failures by category, last 30 days",
        labels=labels,
        datasets=[{"label": c, "data": v} for c, v in sorted(by_category.items())]
        or [{"label": "failures", "data": [0] * len(days)}],
        unit="failed steps",
    )
    synced = Series(
        title="Synced per day, last 30 days",
        labels=labels,
        datasets=[
            {"label": "Invoices", "data": invoices},
            {"label": "Payments", "data": payments},
        ],
        unit="records",
    )
    return {
        "lag_24h": lag_24h,
        "lag_30d": lag_30d,
        "failures": failures,
        "synced": synced,
        "lag_now": round(statistics.median(recent), 1) if recent else None,
    }


def chart_data(board: Dashboard) -> dict[str, Any]:
    def one(series: Series) -> dict[str, Any]:
        return {
            "title": series.title,
            "labels": series.labels,
            "datasets": series.datasets,
            "unit": series.unit,
            "kind": series.kind,
        }

    return {
        "lag24": one(board.lag_24h),
        "lag30": one(board.lag_30d),
        "failures": one(board.failures),
        "synced": one(board.synced),
    }
