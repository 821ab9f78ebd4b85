"""The distributed mode on real brokers (Redis and RabbitMQ) and the local PostgreSQL: per-
connection tasks, any worker serves any connection, a duplicated task does nothing twice, and
beat's schedule holds one entry per connection, kept from the database."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.fleet import Company, connect_fleet, seed_invoices
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore
from ledgerbridge.workers import celery_app
from servers import run_asgi_server

BROKERS = {
    "redis": "redis://127.0.0.1:6379/15",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


def _broker_up(url: str) -> None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - CI starts both brokers; say so plainly here
        pytest.fail(f"broker not reachable at {url}: {exc}", pytrace=False)


@pytest.fixture
def deployment(
    pg_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, object]]:
    """Settings in the environment, as `ledgerbridge worker` reads them."""
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", pg_db_url)
    monkeypatch.setenv("LEDGERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERBRIDGE_POLL_INTERVAL_SECONDS", "2")
    yield {"db": pg_db_url, "data_dir": tmp_path / "data"}
    celery_app.reset_runtime()


def _connect(companies: list[Company]) -> list[int]:
    """Connect each company through its sandboxes' OAuth, as the console would."""

    async def connect() -> list[int]:
        runtime = await build_runtime(Settings())
        try:
            return await connect_fleet(runtime, companies, prefix=uuid.uuid4().hex[:8])
        finally:
            await runtime.aclose()

    return asyncio.run(connect())


def _all_synced(apps: list[tuple[Any, Any]], invoices: list[list[str]]) -> bool:
    return all(
        hs.state.sandbox.store.get("invoices", i).properties.get("ledgerbridge_sync_status")
        == "synced"
        for (hs, _), ids_ in zip(apps, invoices, strict=True)
        for i in ids_
    )


def _assert_each_invoice_once_with_equal_totals(qb: Any, hs: Any, invoices: list[str]) -> None:
    """The two books: each invoice once in QBO, synced in HubSpot, totals equal to the cent."""
    qsb = qb.state.sandbox
    realm = qsb.default_realm_id
    assert len(qsb.companies[realm].all("Invoice")) == len(invoices)
    for i in invoices:
        props = hs.state.sandbox.store.get("invoices", i).properties
        assert props["ledgerbridge_sync_status"] == "synced"
        row = qsb.get_entity(realm, "Invoice", props["qbo_invoice_id"])
        assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"])


def _companies(stack: ExitStack, n: int) -> tuple[list[Company], list[tuple[object, object]]]:
    apps = [(hubspot_app(seed="empty"), quickbooks_app(seed="empty")) for _ in range(n)]
    companies = [
        Company(stack.enter_context(run_asgi_server(hs)), stack.enter_context(run_asgi_server(qb)))
        for hs, qb in apps
    ]
    return companies, apps


@pytest.mark.postgres
@pytest.mark.parametrize("broker", list(BROKERS))
def test_per_connection_tasks_sync_every_company_once(
    broker: str, deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = BROKERS[broker]
    _broker_up(url)
    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", url)
    with ExitStack() as stack:
        companies, apps = _companies(stack, 2)

        ids = _connect(companies)
        invoices = [seed_invoices(hs.state.sandbox, 4, f"c{n}") for n, (hs, _) in enumerate(apps)]

        app = celery_app.make_celery(Settings())
        app.control.purge()
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30
        ):
            for cid in ids:
                app.send_task("ledgerbridge.sync_connection", args=[cid])
            # The same task again (a redelivery, or beat and a webhook at once): a no-op.
            app.send_task("ledgerbridge.sync_connection", args=[ids[0]])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _all_synced(apps, invoices):
                time.sleep(0.2)
            time.sleep(1.0)  # let the duplicate task run to its end too

    store = SqlStore(str(deployment["db"]))
    try:
        for cid, (hs, qb), ids_ in zip(ids, apps, invoices, strict=True):
            qsb = qb.state.sandbox
            realm = qsb.default_realm_id
            in_qbo = qsb.companies[realm].all("Invoice")
            assert len(in_qbo) == len(ids_)  # exactly once, despite the duplicate task
            for i in ids_:
                props = hs.state.sandbox.store.get("invoices", i).properties
                assert props["ledgerbridge_sync_status"] == "synced"
                row = qsb.get_entity(realm, "Invoice", props["qbo_invoice_id"])
                assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"])
            assert store.count_dirty(cid) == 0
    finally:
        store.close()


class _InFlight:
    """ASGI wrappers that count each company's requests in flight, and note whether a request
    of one company was ever in flight while another company's was (the servers run in
    threads of their own, hence the lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}
        self.overlaps = 0
        self.requests = 0

    def wrap(self, company: int, app: Any) -> Any:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            with self.lock:
                self.requests += 1
                if any(n > 0 for c, n in self.counts.items() if c != company):
                    self.overlaps += 1
                self.counts[company] = self.counts.get(company, 0) + 1
            try:
                await app(scope, receive, send)
            finally:
                with self.lock:
                    self.counts[company] -= 1

        return wrapped


@pytest.mark.postgres
def test_one_worker_process_syncs_several_connections_at_once(
    deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker process (threads pool, one event loop) keeps several connections in flight:
    while one company's QuickBooks answers slowly, another company's requests go out. A worker
    running one task at a time never has two companies' requests in flight at once."""
    from ledgerbridge.sandbox.faults import FaultPlan

    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", BROKERS["redis"])
    flight = _InFlight()
    with ExitStack() as stack:
        apps = [
            (
                hubspot_app(seed="empty"),
                quickbooks_app(seed="empty", faults=FaultPlan(latency_ms=80)),
            )
            for _ in range(3)
        ]
        companies = [
            Company(
                stack.enter_context(run_asgi_server(flight.wrap(n, hs))),
                stack.enter_context(run_asgi_server(flight.wrap(n, qb))),
            )
            for n, (hs, qb) in enumerate(apps)
        ]

        ids = _connect(companies)
        invoices = [seed_invoices(hs.state.sandbox, 3, f"k{n}") for n, (hs, _) in enumerate(apps)]
        with flight.lock:
            flight.overlaps = flight.requests = 0  # connecting is done one company at a time

        app = celery_app.make_celery(Settings())
        app.control.purge()
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30
        ):
            for cid in ids:
                app.send_task("ledgerbridge.sync_connection", args=[cid])
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not _all_synced(apps, invoices):
                time.sleep(0.2)

    for (hs, qb), ids_ in zip(apps, invoices, strict=True):
        _assert_each_invoice_once_with_equal_totals(qb, hs, ids_)
    # Many requests went out while another company's were still in flight.
    assert flight.requests > 0
    assert flight.overlaps > flight.requests // 10, (flight.overlaps, flight.requests)


def test_a_task_for_a_connection_already_running_joins_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two tasks for one connection in one worker never run its engine side by side: the second
    asks the running turn for one more pass (with the poll it wanted) and returns at once."""
    calls: list[tuple[int, bool]] = []
    gate = asyncio.Event()

    async def fake_sync(
        runtime: Any, connection_id: int, *, poll: bool, deadline: float
    ) -> dict[str, int]:
        calls.append((connection_id, poll))
        if len(calls) == 1:
            await gate.wait()
        return {"claimed": 1, "synced": 1, "failed": 0}

    monkeypatch.setattr(celery_app, "_sync", fake_sync)

    async def scenario() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        loop: Any = SimpleNamespace(runtime=None, turns={})
        first = asyncio.create_task(celery_app._sync_turn(loop, 7, poll=False, budget=60))
        await asyncio.sleep(0)
        joined = await celery_app._sync_turn(loop, 7, poll=True, budget=60)
        other = await celery_app._sync_turn(loop, 8, poll=False, budget=60)
        gate.set()
        result = await first
        assert loop.turns == {}
        return result, joined, other

    result, joined, other = asyncio.run(scenario())
    assert joined == {"claimed": 0, "synced": 0, "failed": 0, "joined": 1}
    # Connection 7 ran twice, one after the other, the second pass polling first; 8 ran beside.
    assert calls == [(7, False), (8, False), (7, True)]
    assert result["claimed"] == 2 and "more" not in result
    assert other["claimed"] == 1


@pytest.mark.postgres
def test_beat_keeps_one_entry_per_connection_from_the_database(
    deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", BROKERS["redis"])
    store = SqlStore.from_settings(Settings())
    try:
        tag = uuid.uuid4().hex[:8]
        first = store.create_connection(f"{tag}-a", qbo_realm_id="1")
        app = celery_app.make_celery(Settings())
        scheduler = celery_app.ConnectionScheduler(app=app)
        entry = scheduler.schedule[f"sync:{first.id}"]
        assert entry.task == "ledgerbridge.sync_connection"
        assert entry.args == (first.id,)
        assert entry.schedule.run_every.total_seconds() == 2.0

        # A connection added later (in the console) is scheduled at the next refresh; a deleted
        # one is dropped.
        second = store.create_connection(f"{tag}-b", qbo_realm_id="2")
        scheduler.schedule_refresh = 0.0
        scheduler.tick()
        assert f"sync:{second.id}" in scheduler.schedule
        store.delete_connection(first.id)
        scheduler.tick()
        assert f"sync:{first.id}" not in scheduler.schedule
        assert f"sync:{second.id}" in scheduler.schedule
        scheduler.close()
    finally:
        store.close()


@pytest.mark.postgres
def test_webhook_on_the_web_tier_sends_its_connection_a_task(
    deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --no-worker` with a broker: a HubSpot webhook marks the invoice and sends its
    connection a task at once. No beat and no polling here: only that task can sync it."""
    from concurrent.futures import ThreadPoolExecutor

    from ledgerbridge.bootstrap import SANDBOX_CLIENT_SECRET
    from ledgerbridge.ingress import front_app

    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", BROKERS["redis"])
    with ExitStack() as stack:
        companies, apps = _companies(stack, 1)
        hs, qb = apps[0]

        (_cid,) = _connect(companies)
        with ThreadPoolExecutor(1) as pool:
            web_runtime = pool.submit(asyncio.run, build_runtime(Settings())).result()
        app = celery_app.make_celery(Settings())
        app.control.purge()
        web_runtime.on_webhook = celery_app.webhook_dispatcher(app)
        web_url = stack.enter_context(run_asgi_server(front_app(web_runtime)))
        hs.state.sandbox.set_webhook(f"{web_url}/webhooks/hubspot", SANDBOX_CLIENT_SECRET)

        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            (invoice,) = seed_invoices(hs.state.sandbox, 1, "hook")
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                props = hs.state.sandbox.store.get("invoices", invoice).properties
                if props.get("ledgerbridge_sync_status") == "synced":
                    break
                time.sleep(0.2)
        web_runtime.store.close()
        props = hs.state.sandbox.store.get("invoices", invoice).properties
        assert props.get("ledgerbridge_sync_status") == "synced"
        qsb = qb.state.sandbox
        row = qsb.get_entity(qsb.default_realm_id, "Invoice", props["qbo_invoice_id"])
        assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"])
        assert len(qsb.companies[qsb.default_realm_id].all("Invoice")) == 1


@pytest.mark.postgres
def test_beat_schedules_each_connections_reconciliation_and_a_worker_runs_it(
    deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconciliation schedule on the distributed mode: beat holds a `reconcile:<id>` entry
    per connection; when it fires, a worker runs the reconciliation that is due (the first one is
    a full sweep) against the sandboxes and stores it; the same task again finds nothing due."""
    from ledgerbridge.engine.reconcile import FULL

    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", BROKERS["redis"])
    monkeypatch.setenv("LEDGERBRIDGE_RECONCILE_INTERVAL_SECONDS", "3600")
    with ExitStack() as stack:
        companies, apps = _companies(stack, 1)
        hs, qb = apps[0]

        (cid,) = _connect(companies)
        invoices = seed_invoices(hs.state.sandbox, 3, "rec")
        store = SqlStore.from_settings(Settings())
        stack.callback(store.close)

        # Beat asks every second here (every 10 minutes by default) whether a run is due.
        monkeypatch.setattr(celery_app, "RECONCILE_CHECK_SECONDS", 1.0)
        app = celery_app.make_celery(Settings())
        app.control.purge()
        scheduler = celery_app.ConnectionScheduler(app=app)
        stack.callback(scheduler.close)
        entry = scheduler.schedule[f"reconcile:{cid}"]
        assert entry.task == "ledgerbridge.reconcile_connection"
        assert entry.args == (cid,)
        assert entry.schedule.run_every.total_seconds() == 1.0

        def beat_for(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
            """Celery beat's loop: tick, sleep as long as it says."""
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not until():
                time.sleep(max(0.0, min(scheduler.tick(), 0.2)))

        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            beat_for(60, until=lambda: store.last_reconcile_run(cid) is not None)
            run = store.last_reconcile_run(cid)
            assert run is not None, "the worker did not run the scheduled reconciliation"
            # Beat goes on sending the task every second: nothing is due for an hour.
            beat_for(4)
            time.sleep(1.0)  # the last task sent runs to its end

    assert run.scope == FULL and run.error is None
    assert run.checked >= len(invoices)
    assert run.diverged == run.orphans == run.duplicates == 0
    assert [r.id for r in store.list_reconcile_runs(cid)] == [run.id]
    # "In sync" is the reconciliation's word; check the two books here too.
    _assert_each_invoice_once_with_equal_totals(qb, hs, invoices)


@pytest.mark.postgres
@pytest.mark.parametrize(("interval", "every"), [("3600", 600.0), ("300", 300.0), ("0", None)])
def test_reconcile_entry_follows_the_settings(
    interval: str,
    every: float | None,
    deployment: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checked every 10 minutes at most (so the nightly sweep's hour is never missed), as often
    as the interval when it is shorter, and not at all when the schedule is off."""
    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", BROKERS["redis"])
    monkeypatch.setenv("LEDGERBRIDGE_RECONCILE_INTERVAL_SECONDS", interval)
    store = SqlStore.from_settings(Settings())
    try:
        info = store.create_connection(f"{uuid.uuid4().hex[:8]}-rec", qbo_realm_id="1")
        scheduler = celery_app.ConnectionScheduler(app=celery_app.make_celery(Settings()))
        assert f"sync:{info.id}" in scheduler.schedule
        entry = scheduler.schedule.get(f"reconcile:{info.id}")
        if every is None:
            assert entry is None
        else:
            assert entry is not None and entry.schedule.run_every.total_seconds() == every
            assert not entry.is_due().is_due  # the first check is one interval after start
        scheduler.close()
    finally:
        store.close()
