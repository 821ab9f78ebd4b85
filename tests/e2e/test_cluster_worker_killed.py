"""The distributed mode as it is deployed: two `ledgerbridge worker` processes and one
`ledgerbridge beat` over the local PostgreSQL and Redis, three sandbox companies (each its own
portal and realm). One worker is SIGKILLed in the middle of its work and started again: every
invoice reaches QuickBooks exactly once, with the right total, and nothing is left stuck (no
queued key, no lease, no failure)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.fleet import Company, connect_fleet, seed_invoices
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore
from servers import run_asgi_server

BROKER = "redis://127.0.0.1:6379/14"
COMPANIES = 3
INVOICES = 40


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from ledgerbridge.cli import app; app()", *self.args],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"died early: {self.log}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkilled_worker_loses_nothing_and_duplicates_nothing(
    pg_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()  # a previous run's tasks name other connections
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "LEDGERBRIDGE_DATABASE_URL": pg_db_url,
        "LEDGERBRIDGE_DATA_DIR": str(data_dir),
        "LEDGERBRIDGE_BROKER_URL": BROKER,
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": "1",
        "LEDGERBRIDGE_LEASE_SECONDS": "3",
        "LEDGERBRIDGE_BATCH_SIZE": "8",
        "LEDGERBRIDGE_LOG_FORMAT": "json",
    }
    for key in ("LEDGERBRIDGE_DATABASE_URL", "LEDGERBRIDGE_DATA_DIR"):
        monkeypatch.setenv(key, env[key])

    with ExitStack() as stack:
        apps = [(hubspot_app(seed="empty"), quickbooks_app(seed="empty")) for _ in range(COMPANIES)]
        companies = [
            Company(
                stack.enter_context(run_asgi_server(hs)), stack.enter_context(run_asgi_server(qb))
            )
            for hs, qb in apps
        ]

        async def connect() -> list[int]:
            runtime = await build_runtime(Settings())
            try:
                return await connect_fleet(runtime, companies, prefix=uuid.uuid4().hex[:8])
            finally:
                await runtime.aclose()

        ids = asyncio.run(connect())
        invoices = [
            seed_invoices(hs.state.sandbox, INVOICES, f"k{n}") for n, (hs, _) in enumerate(apps)
        ]
        total = COMPANIES * INVOICES
        store = stack.enter_context(SqlStore(pg_db_url))

        def linked() -> int:
            return sum(
                1
                for cid, ids_ in zip(ids, invoices, strict=True)
                for i in ids_
                if (lk := store.get_link(cid, INVOICE, Side.HUBSPOT, i)) and lk.qbo_id
            )

        workers = [
            Proc(["worker", "--name", f"w{n}@test"], env, tmp_path / f"worker{n}.log")
            for n in range(2)
        ]
        beat = Proc(["beat"], env, tmp_path / "beat.log")
        procs = [*workers, beat]
        try:
            for p in procs:
                p.start()
            _wait(lambda: linked() >= total // 4, 240, "a quarter of the invoices")
            workers[0].kill()  # mid-run: claimed keys, writes in flight
            workers[0].start()
            _wait(lambda: linked() == total, 300, "every invoice in QuickBooks")

            def settled() -> bool:
                if any(store.count_dirty(cid) for cid in ids):
                    return False
                return all(store.count_states(cid)[SyncStatus.SYNCED] >= INVOICES for cid in ids)

            _wait(settled, 120, "an empty queue")
        finally:
            for p in procs:
                p.stop()

        for cid, (hs, qb), ids_ in zip(ids, apps, invoices, strict=True):
            qsb = qb.state.sandbox
            realm = qsb.default_realm_id
            in_qbo = qsb.companies[realm].all("Invoice")
            assert len(in_qbo) == INVOICES, f"connection {cid}: {len(in_qbo)} invoices in QBO"
            seen = set()
            for i in ids_:
                props = hs.state.sandbox.store.get("invoices", i).properties
                assert props["ledgerbridge_sync_status"] == "synced"
                seen.add(props["qbo_invoice_id"])
                row = qsb.get_entity(realm, "Invoice", props["qbo_invoice_id"])
                assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"])
            assert len(seen) == INVOICES
            counts = store.count_states(cid)
            assert counts[SyncStatus.FAILED] == 0 and counts[SyncStatus.PENDING] == 0, counts
