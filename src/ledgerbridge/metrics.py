"""Prometheus metrics (prometheus-client, the process's default registry).

Two kinds:
- counters kept by the process that does the work (steps, API calls, 429s, budget waits, token
  refreshes, tasks): every web and worker process exposes its own; sum them in queries.
- gauges read from the database at scrape time (lag, queue depth, records per status, failures
  per category): the truth is in PostgreSQL, so the web tier exposes them once for the whole
  deployment (`register_store_collector`), however many workers run.

Names and example alert rules: docs/operations.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

STEPS = Counter(
    "ledgerbridge_sync_steps_total",
    "Sync steps run, by connection and outcome",
    ["connection", "outcome"],
)
API_CALLS = Counter(
    "ledgerbridge_api_calls_total",
    "HTTP requests sent to HubSpot or QuickBooks (each attempt), by API, account and status",
    ["api", "account", "status"],
)
RATE_LIMITED = Counter(
    "ledgerbridge_api_rate_limited_total",
    "429 answers from HubSpot or QuickBooks, by API and account (portal or realm)",
    ["api", "account"],
)
BUDGET_WAITS = Counter(
    "ledgerbridge_budget_waits_total",
    "Times a request waited for the account's rate budget before being sent",
    ["api", "account"],
)
BUDGET_WAIT_SECONDS = Counter(
    "ledgerbridge_budget_wait_seconds_total",
    "Seconds requests spent waiting for the account's rate budget",
    ["api", "account"],
)
TOKEN_REFRESHES = Counter(
    "ledgerbridge_token_refreshes_total",
    "OAuth access tokens refreshed, by API and account",
    ["api", "account"],
)
TASKS = Counter(
    "ledgerbridge_worker_tasks_total",
    "Worker tasks run, by task name and outcome (ok, joined, not_due, error)",
    ["task", "outcome"],
)


RECONCILE_RUNS = Counter(
    "ledgerbridge_reconcile_runs_total",
    "Reconciliation runs finished by this process, by connection and scope (full, incremental)",
    ["connection", "scope"],
)
RECONCILE_FINDINGS = Counter(
    "ledgerbridge_reconcile_findings_total",
    "What reconciliation runs found, by connection and outcome (repaired, diverged, orphan,"
    " duplicate)",
    ["connection", "outcome"],
)


def reconciled(connection_id: int, report: Any) -> None:
    """Count a finished ReconcileReport."""
    cid = str(connection_id)
    RECONCILE_RUNS.labels(cid, report.scope).inc()
    for outcome, n in (
        ("repaired", report.repaired),
        ("diverged", report.diverged),
        ("orphan", report.orphans),
        ("duplicate", report.duplicates),
    ):
        if n:
            RECONCILE_FINDINGS.labels(cid, outcome).inc(n)


def api_call(api: str, account: str | None, status: int) -> None:
    API_CALLS.labels(api, account or "", str(status)).inc()
    if status == 429:
        RATE_LIMITED.labels(api, account or "").inc()


def budget_waited(api: str, account: str | None, seconds: float) -> None:
    """For the rate budget: call when a request had to wait for its account's budget."""
    BUDGET_WAITS.labels(api, account or "").inc()
    BUDGET_WAIT_SECONDS.labels(api, account or "").inc(max(0.0, seconds))


def token_refreshed(api: str, account: str | None) -> None:
    TOKEN_REFRESHES.labels(api, account or "").inc()


def steps(connection_id: int, report: Any) -> None:
    """Count a RunReport's outcomes."""
    cid = str(connection_id)
    for outcome in ("synced", "failed", "excluded", "blocked", "retrying", "skipped"):
        n = getattr(report, outcome, 0)
        if n:
            STEPS.labels(cid, outcome).inc(n)


class StoreCollector(Collector):
    """Gauges computed from the database on each scrape (a few grouped queries)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "ledgerbridge_sync_lag_seconds",
            "Age of the oldest record waiting to sync, per connection (0 = nothing waiting)",
            labels=["connection"],
        )
        depth = GaugeMetricFamily(
            "ledgerbridge_queue_depth",
            "Records waiting to sync, per connection",
            labels=["connection"],
        )
        in_flight = GaugeMetricFamily(
            "ledgerbridge_queue_in_flight",
            "Records claimed by a worker right now, per connection",
            labels=["connection"],
        )
        records = GaugeMetricFamily(
            "ledgerbridge_records", "Records per sync status", labels=["connection", "status"]
        )
        failing = GaugeMetricFamily(
            "ledgerbridge_failing_records",
            "Records failing to sync, per connection and error category",
            labels=["connection", "category"],
        )
        last_reconcile = GaugeMetricFamily(
            "ledgerbridge_reconcile_last_run_timestamp_seconds",
            "When the connection's newest reconciliation started (Unix time; absent: never)",
            labels=["connection", "scope"],
        )
        last_diverged = GaugeMetricFamily(
            "ledgerbridge_reconcile_last_diverged",
            "Records the newest reconciliation left out of sync (diverged, orphans, duplicates)",
            labels=["connection"],
        )
        info = GaugeMetricFamily(
            "ledgerbridge_connection_info",
            "One per connection: its name and health",
            labels=["connection", "name", "status"],
        )
        try:
            connections = self.store.list_connections()
            figures = self.store.ops_figures()
            runs = self.store.last_reconcile_runs()
        except Exception:
            log.exception("metrics: the database could not be read")
            return
        for conn in connections:
            cid = str(conn.id)
            info.add_metric([cid, conn.name, conn.status], 1)
            f = figures.get(conn.id)
            lag.add_metric([cid], f.lag_seconds if f else 0.0)
            depth.add_metric([cid], f.queue_depth if f else 0)
            in_flight.add_metric([cid], f.in_flight if f else 0)
            for status, n in (f.states if f else {}).items():
                records.add_metric([cid, status], n)
            for category, n in (f.failing_by_category if f else {}).items():
                failing.add_metric([cid, category], n)
            run = runs.get(conn.id)
            if run is not None:
                last_reconcile.add_metric([cid, run.scope], run.started_at.timestamp())
                last_diverged.add_metric([cid], run.diverged + run.orphans + run.duplicates)
        yield from (lag, depth, in_flight, records, failing, last_reconcile, last_diverged, info)


_collector: StoreCollector | None = None


def register_store_collector(store: Any) -> None:
    """Expose the database gauges from this process (the newest store wins: tests build many)."""
    global _collector
    if _collector is None:
        _collector = StoreCollector(store)
        REGISTRY.register(_collector)
    else:
        _collector.store = store


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped remotely
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
