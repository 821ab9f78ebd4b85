"""`make bench-sandbox`: what the sandboxes cost per request, and whether that cost stays flat
as the company grows.

1. Per request, in process (the apps called through ASGI, no sockets, so the figures are the
   sandbox's own): requests per second and CPU per request for the calls ledgerbridge makes,
   with N invoices in each sandbox (default 5,000 and 100,000):
   HubSpot search by hs_lastmodifieddate (the change feed's query), batch read of 100, batch
   create of 100; QBO query by DocNumber and by MetaData.LastUpdatedTime, /batch of 30 creates,
   CDC. Also the memory each invoice takes.
2. Backfill with limits off (default 5,000 and 50,000 invoices): both sandboxes in their own
   process (`ledgerbridge sandbox`, no rate limits), HubSpot seeded through its batch APIs,
   ledgerbridge backfilling into an empty QBO company; the sandbox process's CPU per backfilled
   invoice, ledgerbridge's, and the sandbox's memory per record.

Usage: python -m bench.sandbox [--sizes 5000,100000] [--backfill 5000,50000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.sandbox.quickbooks import operations
from ledgerbridge.servers import port_free

HS = {"Authorization": "Bearer pat-sandbox"}
QB = {"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"}
PAGE = 1.0  # seconds of requests per measured call (at least MIN_CALLS)
MIN_CALLS = 20


def _mem() -> int:
    """Bytes Python has allocated and not freed (the heap's live size, not the RSS, which
    freed-but-kept memory from the previous size would blur)."""
    return _heap()


def _heap() -> int:
    import tracemalloc

    if not tracemalloc.is_tracing():
        return 0
    return tracemalloc.get_traced_memory()[0]


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _measure(name: str, call: Callable[[int], Any]) -> tuple[str, float, float]:
    """(name, requests/s, CPU ms per request) over about PAGE seconds of calls."""
    await call(0)  # warm: lazily built indexes are built once, not per request
    n, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while n < MIN_CALLS or time.perf_counter() - wall0 < PAGE:
        n += 1
        await call(n)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return name, n / wall, 1000 * cpu / n


class FakeUtc:
    """QBO clock for the fill: one second passes every ten invoices, as in a busy company."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)

    def __call__(self) -> dt.datetime:
        return self.now


async def hubspot_figures(
    n: int, measure: bool = True
) -> tuple[list[tuple[str, float, float]], float, float]:
    app = hubspot_app(seed="empty")
    sb = app.state.sandbox
    gc.collect()
    mem0, t0 = _mem(), time.perf_counter()
    contacts = [sb.create_object("contacts", {"email": f"c{i}@bench.example"}) for i in range(100)]
    ids = []
    for i in range(n):
        ids.append(
            sb.create_object(
                "invoices",
                {"hs_currency": "USD", "hs_title": f"Bench {i}"},
                [
                    {
                        "to": {"id": contacts[i % 100]},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}
                        ],
                    }
                ],
            )
        )
    fill = time.perf_counter() - t0
    gc.collect()
    per_record = (_mem() - mem0) / n
    if not measure:
        return [], per_record, fill
    stamps = sorted(int(sb.store.get("invoices", i).updated_ms) for i in ids)
    rng = random.Random(1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hs", headers=HS) as http:

        async def feed(_: int) -> None:
            # the connector's change feed: modified after a recent cursor, oldest first
            since = stamps[-rng.randint(1, 500)]
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "hs_lastmodifieddate",
                                "operator": "GT",
                                "value": str(since),
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": ["hs_lastmodifieddate"],
                "limit": 100,
            }
            r = await http.post("/crm/v3/objects/invoices/search", json=body)
            assert r.status_code == 200, r.text

        async def batch_read(_: int) -> None:
            body = {
                "inputs": [{"id": i} for i in rng.sample(ids, 100)],
                "properties": ["hs_number", "hs_amount_billed", "hs_invoice_status"],
            }
            r = await http.post("/crm/v3/objects/invoices/batch/read", json=body)
            assert r.status_code == 200, r.text

        async def batch_create(k: int) -> None:
            inputs = [{"properties": {"email": f"new{k}-{j}@bench.example"}} for j in range(100)]
            r = await http.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs})
            assert r.status_code in (200, 201), r.text

        rows = [
            await _measure("HubSpot search by hs_lastmodifieddate (100)", feed),
            await _measure("HubSpot batch read (100 invoices)", batch_read),
            await _measure("HubSpot batch create (100 contacts)", batch_create),
        ]
    return rows, per_record, fill


async def qbo_figures(
    n: int, measure: bool = True
) -> tuple[list[tuple[str, float, float]], float, float]:
    clock = FakeUtc()
    app = quickbooks_app(seed="empty", clock=clock)
    state = app.state.sandbox
    realm = state.default_realm_id
    gc.collect()
    mem0, t0 = _mem(), time.perf_counter()
    env = state.env(realm, quiet=True)
    customers = [
        operations.create(env, "Customer", {"DisplayName": f"Bench {i}"})["Id"] for i in range(500)
    ]
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal("10"),
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    for i in range(n):
        if i % 10 == 0:
            clock.now += dt.timedelta(seconds=1)
            env = state.env(realm, quiet=True)
        operations.create(
            env,
            "Invoice",
            {"CustomerRef": {"value": customers[i % 500]}, "DocNumber": f"B-{i}", "Line": [line]},
        )
    fill = time.perf_counter() - t0
    gc.collect()
    per_record = (_mem() - mem0) / n
    if not measure:
        return [], per_record, fill
    clock.now += dt.timedelta(seconds=1)
    rng = random.Random(2)
    transport = httpx.ASGITransport(app=app)
    base = f"http://qb/v3/company/{realm}"
    async with httpx.AsyncClient(transport=transport, base_url=base, headers=QB) as http:

        async def query(text: str) -> None:
            r = await http.post(
                "/query", content=text, headers={"Content-Type": "application/text"}
            )
            assert r.status_code == 200, r.text

        def recent() -> str:
            # about 100 changes back (ten a second): answers of the same size at every scale
            when = clock.now - dt.timedelta(seconds=rng.randint(5, 10))
            return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")

        async def by_doc(_: int) -> None:
            await query(f"select * from Invoice where DocNumber = 'B-{rng.randrange(n)}'")

        async def by_time(_: int) -> None:
            await query(
                f"select * from Invoice where MetaData.LastUpdatedTime >= '{recent()}' "
                "orderby MetaData.LastUpdatedTime maxresults 100"
            )

        async def batch(k: int) -> None:
            items = [
                {
                    "bId": str(j),
                    "operation": "create",
                    "Invoice": {
                        "CustomerRef": {"value": customers[j]},
                        "DocNumber": f"N-{k}-{j}",
                        "Line": [{**line, "Amount": "10"}],
                    },
                }
                for j in range(30)
            ]
            r = await http.post("/batch", json={"BatchItemRequest": items})
            assert r.status_code == 200, r.text
            # the batch's writes happened at this instant; move on as a live company would
            clock.now += dt.timedelta(seconds=1)

        async def cdc(_: int) -> None:
            r = await http.get(
                "/cdc", params={"entities": "Invoice,Customer", "changedSince": recent()}
            )
            assert r.status_code == 200, r.text

        rows = [
            await _measure("QBO query by DocNumber", by_doc),
            await _measure("QBO query by LastUpdatedTime (100)", by_time),
            await _measure("QBO CDC Invoice,Customer (~100 changes)", cdc),
            await _measure("QBO /batch (30 invoice creates)", batch),
        ]
    return rows, per_record, fill


def memory(n: int = 3000) -> None:
    """Memory per invoice, from a traced fill (tracing slows everything, so not the runs above)."""
    import tracemalloc

    tracemalloc.start()
    _, hs_mem, _ = asyncio.run(hubspot_figures(n, measure=False))
    _, qb_mem, _ = asyncio.run(qbo_figures(n, measure=False))
    tracemalloc.stop()
    print(
        f"  memory per invoice: HubSpot {hs_mem / 1024:.1f} KiB (record, history, indexes, one "
        f"association), QBO {qb_mem / 1024:.1f} KiB (traced over {n:,} invoices)"
    )


def per_request(sizes: list[int]) -> None:
    memory()
    results: dict[int, list[tuple[str, float, float]]] = {}
    for n in sizes:
        hs_rows, _hs_mem, hs_fill = asyncio.run(hubspot_figures(n))
        print(f"  HubSpot: {n:,} invoices filled in {hs_fill:.1f} s")
        gc.collect()
        qb_rows, _qb_mem, qb_fill = asyncio.run(qbo_figures(n))
        print(f"  QBO: {n:,} invoices filled in {qb_fill:.1f} s")
        results[n] = hs_rows + qb_rows
        gc.collect()
    header = "call".ljust(46) + "".join(f"{f'{n:,} req/s':>16}{'CPU ms/req':>12}" for n in sizes)
    print()
    print(header)
    for i, (name, _, _) in enumerate(results[sizes[0]]):
        row = name.ljust(46)
        for n in sizes:
            _, rps, cpu = results[n][i]
            row += f"{rps:>16.0f}{cpu:>12.2f}"
        print(row)


# ---- backfill with limits off -------------------------------------------------------------
def _start_sandboxes() -> tuple[subprocess.Popen[str], str, str, str]:
    for _ in range(200):
        port = random.randint(20000, 60000)
        if port_free(port) and port_free(port + 1):
            break
    cmd = [sys.executable, "-c", "from ledgerbridge.cli import app; app()", "sandbox"]
    cmd += ["--seed", "empty", "--hubspot-port", str(port), "--quickbooks-port", str(port + 1)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"realm id: (\d+)", line)
        if found:
            return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", found.group(1)
    raise RuntimeError("the sandboxes did not start")


def backfill_figures(n: int) -> dict[str, float]:
    from bench.backfill import backfill, qbo_totals, seed_hubspot

    proc, hs_url, qbo_url, realm = _start_sandboxes()
    try:
        time.sleep(0.5)
        rss0 = _rss_of(proc.pid)
        seed_cpu0 = _cpu_of(proc.pid)
        hubspot_total = seed_hubspot(hs_url, n, 200, 25)
        seed_cpu = _cpu_of(proc.pid) - seed_cpu0
        health = httpx.get(f"{hs_url}/_sandbox/health", timeout=30).json()
        records = sum(health["objects"].values())
        rss_seeded = _rss_of(proc.pid)
        cpu0 = _cpu_of(proc.pid)
        r = asyncio.run(backfill(hs_url, qbo_url, realm))
        sandbox_cpu = _cpu_of(proc.pid) - cpu0
        rss_done = _rss_of(proc.pid)
        synced, qbo_total = qbo_totals(qbo_url, realm)
    finally:
        proc.terminate()
        proc.wait(60)
    assert synced == n and qbo_total == hubspot_total, (synced, qbo_total, hubspot_total)
    return {
        "n": n,
        "wall": r["wall"],
        "lb_cpu": r["cpu"],
        "sandbox_cpu": sandbox_cpu,
        "seed_cpu": seed_cpu,
        "hs_records": records,
        "hs_bytes_per_record": (rss_seeded - rss0) / max(records, 1),
        "qbo_bytes_per_invoice": (rss_done - rss_seeded) / n,
    }


def backfills(sizes: list[int]) -> None:
    rows = [backfill_figures(n) for n in sizes]
    print()
    print(
        "invoices   wall s   ledgerbridge CPU (ms/inv)   sandbox CPU (ms/inv)   "
        "HubSpot seeding CPU (ms/inv)   sandbox memory"
    )
    for f in rows:
        n = int(f["n"])
        print(
            f"{n:>8,} {f['wall']:>8.1f}   {f['lb_cpu']:>7.1f} s ({1000 * f['lb_cpu'] / n:.2f})"
            f"          {f['sandbox_cpu']:>7.1f} s ({1000 * f['sandbox_cpu'] / n:.2f})"
            f"       {f['seed_cpu']:>7.1f} s ({1000 * f['seed_cpu'] / n:.2f})"
            f"        HubSpot {f['hs_bytes_per_record'] / 1024:.1f} KiB/record "
            f"({int(f['hs_records']):,} records), QBO {f['qbo_bytes_per_invoice'] / 1024:.1f} "
            "KiB/invoice"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        ratio = (last["sandbox_cpu"] / last["n"]) / (first["sandbox_cpu"] / first["n"])
        print(
            f"sandbox CPU per invoice at {int(last['n']):,} / at {int(first['n']):,}: {ratio:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="5000,100000")
    parser.add_argument("--backfill", default="5000,50000", help="'' to skip")
    parser.add_argument("--quick", action="store_true", help="5,000 only, no backfill")
    args = parser.parse_args()
    sizes = [5000] if args.quick else [int(x) for x in args.sizes.split(",") if x]
    print(
        f"sandbox benchmark: per-request figures at {', '.join(f'{n:,}' for n in sizes)} invoices"
    )
    per_request(sizes)
    fills = [] if args.quick else [int(x) for x in args.backfill.split(",") if x]
    if fills:
        print()
        print(f"backfill with limits off at {', '.join(f'{n:,}' for n in fills)} invoices")
        backfills(fills)


if __name__ == "__main__":
    main()
