"""`make bench`: backfill N HubSpot invoices into an empty QuickBooks company whose rate limits
are on, and print throughput, how close it comes to what QuickBooks' limits allow, requests per
invoice, ledgerbridge's own CPU cost and peak memory.

The sandboxes run in their own process (`ledgerbridge sandbox --rate-limits --time-scale S`),
as the real APIs would, so the figures for ledgerbridge are its own. The QBO sandbox enforces the
real limits (500 requests/min and 10 concurrent per realm; /batch 120 calls/min of 30
operations) with a time scale: one QBO minute lasts 60/S seconds. Time-dependent figures are
printed per real second and per QBO minute.

Usage: python -m bench.backfill [N] [--time-scale S] [--customers C] [--products P]
(env BENCH_N and BENCH_TIME_SCALE set the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import SyncStatus
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.servers import port_free
from ledgerbridge.store import SqlStore, TokenCipher, migrate

QBO_BATCH_PER_MIN = 120
QBO_BATCH_OPS = 30
QBO_REQUESTS_PER_MIN = 500
HS = {"Authorization": "Bearer pat-sandbox"}


def _ports() -> int:
    for _ in range(200):
        base = random.randint(20000, 60000)
        if port_free(base) and port_free(base + 1):
            return base
    raise RuntimeError("no free ports")


def start_sandboxes(time_scale: float) -> tuple[subprocess.Popen[str], str, str, str]:
    port = _ports()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ledgerbridge.cli import app; app()",
            "sandbox",
            "--seed",
            "empty",
            "--hubspot-port",
            str(port),
            "--quickbooks-port",
            str(port + 1),
            "--rate-limits",
            "--time-scale",
            str(time_scale),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        found = re.search(r"realm id: (\d+)", line)
        if found:
            return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", found.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("the sandboxes did not start")


def _assoc(to_id: str, type_id: int) -> list[dict[str, Any]]:
    return [
        {
            "to": {"id": str(to_id)},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


def _batch_create(http: httpx.Client, object_type: str, inputs: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(inputs), 100):
        chunk = inputs[start : start + 100]
        while True:
            r = http.post(f"/crm/v3/objects/{object_type}/batch/create", json={"inputs": chunk})
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "0.2")))
                continue
            assert r.status_code in (200, 201), r.text
            break
        ids.extend(str(row["id"]) for row in r.json()["results"])
    return ids


def _batch_update(
    http: httpx.Client, object_type: str, inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(inputs), 100):
        while True:
            r = http.post(
                f"/crm/v3/objects/{object_type}/batch/update",
                json={"inputs": inputs[start : start + 100]},
            )
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "0.2")))
                continue
            assert r.status_code == 200, r.text
            break
        out.extend(r.json()["results"])
    return out


def seed_hubspot(base: str, n: int, customers: int, products: int) -> Decimal:
    """Create the portal's data through HubSpot's batch APIs, as an import would."""
    rng = random.Random(5000)
    http = httpx.Client(base_url=base, headers=HS, timeout=60)
    prices = [f"{rng.randint(100, 99999) / 100:.2f}" for _ in range(products)]
    product_ids = _batch_create(
        http,
        "products",
        [
            {"properties": {"name": f"Product {i}", "hs_sku": f"P-{i}", "price": prices[i]}}
            for i in range(products)
        ],
    )
    contact_ids = _batch_create(
        http,
        "contacts",
        [
            {
                "properties": {
                    "email": f"c{i}@bench{i % 50}.example",
                    "firstname": f"C{i}",
                    "lastname": "Bench",
                    "company": f"Bench Co {i}",
                }
            }
            for i in range(customers)
        ],
    )
    invoice_ids = _batch_create(
        http,
        "invoices",
        [
            {
                "properties": {"hs_currency": "USD"},
                "associations": _assoc(contact_ids[i % customers], 177),
            }
            for i in range(n)
        ],
    )
    lines: list[dict[str, Any]] = []
    for invoice in invoice_ids:
        for p in rng.sample(range(products), rng.randint(1, 3)):
            lines.append(
                {
                    "properties": {
                        "hs_product_id": product_ids[p],
                        "quantity": str(rng.randint(1, 9)),
                        "price": prices[p],
                    },
                    "associations": _assoc(invoice, 410),
                }
            )
    _batch_create(http, "line_items", lines)
    opened = _batch_update(
        http,
        "invoices",
        [{"id": i, "properties": {"hs_invoice_status": "open"}} for i in invoice_ids],
    )
    total = Decimal(0)
    for start in range(0, len(invoice_ids), 100):
        r = http.post(
            "/crm/v3/objects/invoices/batch/read",
            json={
                "inputs": [{"id": i} for i in invoice_ids[start : start + 100]],
                "properties": ["hs_amount_billed"],
            },
        )
        total += sum(
            (Decimal(row["properties"]["hs_amount_billed"]) for row in r.json()["results"]),
            Decimal(0),
        )
    assert len(opened) == n
    return total


def qbo_totals(base: str, realm: str) -> tuple[int, Decimal]:
    http = httpx.Client(
        base_url=f"{base}/v3/company/{realm}",
        timeout=60,
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    count, total, start = 0, Decimal(0), 1
    while True:
        r = http.post(
            "/query",
            content=f"select * from Invoice startposition {start} maxresults 1000",
            headers={"Content-Type": "application/text"},
        )
        if r.status_code == 429:
            time.sleep(0.5)
            continue
        rows = r.json()["QueryResponse"].get("Invoice", [])
        count += len(rows)
        total += sum((Decimal(str(row["TotalAmt"])) for row in rows), Decimal(0))
        if len(rows) < 1000:
            return count, total
        start += 1000


async def backfill(hs_url: str, qbo_url: str, realm: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        store = SqlStore(url, TokenCipher.generate())
        info = store.create_connection("bench", qbo_realm_id=realm)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http:
            crm = HubSpotConnector(http, StaticTokenProvider("pat-sandbox"), base_url=hs_url)
            ledger = QuickBooksConnector(
                http, StaticTokenProvider("qbo-sandbox-token"), realm, base_url=qbo_url
            )
            await crm.ensure_sync_properties()
            engine = SyncEngine(info.id, crm, ledger, store, SyncSettings())
            tracemalloc.start()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            final = None
            async for progress in engine.backfill(None, dry_run=False):
                final = progress
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            result = {
                "wall": wall,
                "cpu": cpu,
                "peak": peak,
                "final": final,
                "qbo_requests": ledger.requests_sent,
                "hs_requests": crm.requests_sent,
                "states": store.count_states(info.id),
            }
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=int(os.environ.get("BENCH_N", "5000")))
    parser.add_argument(
        "--time-scale", type=float, default=float(os.environ.get("BENCH_TIME_SCALE", "30"))
    )
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--products", type=int, default=25)
    args = parser.parse_args()
    n, scale = args.n, args.time_scale
    qbo_minute = 60 / scale
    print(
        f"ledgerbridge backfill benchmark: {n} invoices, {args.customers} customers, {args.products} products"
    )
    print(
        f"sandboxes in their own process, rate limits on, time scale {scale:g} "
        f"(one QBO minute = {qbo_minute:.2f} s)"
    )
    proc, hs_url, qbo_url, realm = start_sandboxes(scale)
    try:
        t0 = time.perf_counter()
        hubspot_total = seed_hubspot(hs_url, n, args.customers, args.products)
        print(f"seeded HubSpot through its batch APIs in {time.perf_counter() - t0:.1f} s")
        r = asyncio.run(backfill(hs_url, qbo_url, realm))
        synced, qbo_total = qbo_totals(qbo_url, realm)
    finally:
        proc.terminate()
        proc.wait(20)

    wall, cpu = r["wall"], r["cpu"]
    rate = synced / wall if wall else 0.0
    ceiling = QBO_BATCH_PER_MIN * QBO_BATCH_OPS / qbo_minute  # invoice creates/s the limits allow
    states = r["states"]
    print()
    print(
        f"invoices in QuickBooks      {synced} / {n}  (sync states: synced {states[SyncStatus.SYNCED]}, "
        f"failed {states[SyncStatus.FAILED]})"
    )
    print(
        f"totals equal to the cent    {qbo_total == hubspot_total}  (HubSpot {hubspot_total}, QBO {qbo_total})"
    )
    print(f"wall time                   {wall:.2f} s  (= {wall / qbo_minute:.2f} QBO minutes)")
    print(
        f"throughput                  {rate:.1f} invoices/s  (= {rate * qbo_minute:.0f} invoices per QBO minute)"
    )
    print(
        f"QBO limit ceiling           {ceiling:.1f} invoices/s  (120 /batch calls x 30 creates per QBO minute)"
    )
    print(f"fraction of the ceiling     {rate / ceiling:.1%}")
    print(
        f"QBO requests                {r['qbo_requests']}  ({r['qbo_requests'] / max(synced, 1):.3f} per invoice; "
        f"limit {QBO_REQUESTS_PER_MIN / qbo_minute:.0f}/s)"
    )
    print(
        f"HubSpot requests            {r['hs_requests']}  ({r['hs_requests'] / max(synced, 1):.3f} per invoice)"
    )
    print(
        f"ledgerbridge CPU            {cpu:.2f} s  ({1000 * cpu / max(synced, 1):.2f} ms per invoice; "
        f"CPU/wall {cpu / wall:.0%})"
    )
    print(f"peak traced Python memory   {r['peak'] / 2**20:.1f} MiB")
    print(
        f"max RSS of this process     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    final = r["final"]
    if final is not None:
        print(
            f"backfill report             synced {final.synced}, failed {final.failed}, "
            f"excluded {final.excluded}, blocked {final.blocked}"
        )


if __name__ == "__main__":
    main()
