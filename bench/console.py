"""`make bench-console`: how fast the console answers with 10,000 invoices.

The stack runs (both sandboxes with demo data, the console) without its worker, so that a
worker busy with 10,000 new invoices is not what is measured. Then N invoices are
created in the HubSpot sandbox (through its batch API), and the store gets N sync states and
three sync steps per invoice spread over 30 days (what a month of syncing leaves behind), so
the dashboard reads a realistic volume. Each page is then fetched R times over HTTP as a logged
in user; the median and the worst time are printed.

Usage: python -m bench.console [N] [--repeats R]   (env BENCH_CONSOLE_N sets the default N)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert

from ledgerbridge.console_stack import HUBSPOT_TOKEN, console_stack
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE, RecordKey, StoredSyncState
from ledgerbridge.store.models import SyncStepRow

CATEGORIES = ("validation", "auth", "rate_limit", "not_found", "conflict")


def create_invoices(hubspot_url: str, n: int) -> list[str]:
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    with httpx.Client(base_url=hubspot_url, headers=headers, timeout=60) as client:
        for start in range(0, n, 100):
            inputs = [
                {
                    "properties": {
                        "hs_currency": "USD",
                        "hs_title": f"Bench invoice {i} for Birch & Co",
                        "hs_invoice_date": "2026-11-01T00:00:00.000Z",
                        "hs_due_date": "2026-12-01T00:00:00.000Z",
                        "hs_purchase_order_number": f"PO-{i:05d}",
                        "qbo_doc_number": str(20000 + i),
                    }
                }
                for i in range(start, min(n, start + 100))
            ]
            response = client.post("/crm/v3/objects/invoices/batch/create", json={"inputs": inputs})
            response.raise_for_status()
            ids += [str(r["id"]) for r in response.json()["results"]]
    return ids


def seed_store(stack: object, ids: list[str]) -> None:
    runtime = stack.runtime  # type: ignore[attr-defined]
    conn = stack.connection_id  # type: ignore[attr-defined]
    store = runtime.store
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    states = []
    for i, hubspot_id in enumerate(ids):
        failed = rng.random() < 0.03
        states.append(
            StoredSyncState(
                key=RecordKey(conn, INVOICE, Side.HUBSPOT, hubspot_id),
                status=SyncStatus.FAILED if failed else SyncStatus.SYNCED,
                category=rng.choice(CATEGORIES) if failed else None,
                message="bench failure" if failed else None,
                attempts=2 if failed else 1,
                counterpart_id=str(50000 + i),
                counterpart_number=str(20000 + i),
                label=f"Bench invoice {i}",
                amount=Decimal("100.00"),
                currency="USD",
            )
        )
    for start in range(0, len(states), 1000):
        store.set_states(states[start : start + 1000])
    steps = []
    for i, hubspot_id in enumerate(ids):
        base = now - dt.timedelta(days=rng.uniform(0, 30))
        for k, status in enumerate(("pending", "failed", "synced")):
            steps.append(
                {
                    "connection_id": conn,
                    "object_type": INVOICE,
                    "side": "hubspot",
                    "source_id": hubspot_id,
                    "status": status,
                    "category": rng.choice(CATEGORIES) if status == "failed" else None,
                    "message": None,
                    "attempts": k,
                    "counterpart_id": str(50000 + i),
                    "counterpart_number": str(20000 + i),
                    "at": base + dt.timedelta(seconds=k * rng.uniform(1, 30)),
                }
            )
    with store.engine.begin() as db:
        for start in range(0, len(steps), 5000):
            db.execute(insert(SyncStepRow), steps[start : start + 5000])


def login(client: httpx.Client, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={"username": "admin", "password": password, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text


def measure(client: httpx.Client, path: str, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "n", nargs="?", type=int, default=int(os.environ.get("BENCH_CONSOLE_N", 10_000))
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # The console shares its event loop with the worker in the stack; a worker syncing 10,000
    # new invoices would be what is measured. The stack runs here without one: the store is
    # seeded with what a month of syncing leaves behind instead.
    with (
        tempfile.TemporaryDirectory() as data_dir,
        console_stack(Path(data_dir), worker=False) as stack,
    ):
        # Webhooks for 10,000 creations would keep the console's loop busy for minutes; the
        # index reads HubSpot directly, so nothing needs them here.
        stack.hubspot.state.sandbox.set_webhook(None)
        started = time.perf_counter()
        ids = create_invoices(stack.hubspot_url, args.n)
        seed_store(stack, ids)
        print(f"set up {len(ids):,} invoices in {time.perf_counter() - started:.1f} s")
        with httpx.Client(base_url=stack.console_url, timeout=60) as client:
            login(client, stack.password)
            pages = {
                "index": "/invoices",
                "index, sorted by amount, 100 rows": "/invoices?sort=amount&limit=100",
                "search by company": "/invoices?q=Birch",
                "search by QBO number": f"/invoices?q={20000 + args.n // 2}",
                "overdue filter": "/invoices?status=overdue",
                "dashboard (worst = first load, charts not cached)": "/dashboard",
                "activity": "/activity",
            }
            print(f"{'page':52} {'median':>9} {'worst':>9}   ({args.repeats} requests each)")
            for name, path in pages.items():
                median, worst = measure(client, path, args.repeats)
                print(f"{name:52} {median * 1000:8.0f}ms {worst * 1000:8.0f}ms")
        # How much of a search is the sandbox's own scan (HubSpot does this server-side).
        headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
        with httpx.Client(base_url=stack.hubspot_url, headers=headers, timeout=60) as hs:
            times = []
            for _ in range(args.repeats):
                began = time.perf_counter()
                hs.post(
                    "/crm/v3/objects/invoices/search",
                    json={"query": "Birch", "limit": 100, "properties": ["hs_number"]},
                ).raise_for_status()
                times.append(time.perf_counter() - began)
            median = statistics.median(times) * 1000
            print(f"{'(one sandbox search over all invoices)':52} {median:8.0f}ms")


if __name__ == "__main__":
    main()
