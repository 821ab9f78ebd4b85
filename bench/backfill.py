"""`make bench`: backfill N HubSpot invoices into an empty QuickBooks company under QuickBooks'
real rate limits, while live changes are made, and print how close the run comes to what the
limits allow, the 429s received, ledgerbridge's own CPU per invoice, its memory, and the
latency of the live changes.

The sandboxes run in their own process (`ledgerbridge sandbox --rate-limits --time-scale S`),
as the real APIs would, so the figures for ledgerbridge are its own. The QBO sandbox enforces the
real limits per realm: 500 requests per minute with every /batch item counted, 10 in flight,
/batch 120 calls per minute. The ceiling is therefore (invoices + customers + items created) /
500 per minute. By default the run is at real speed (time scale 1; 1,500 invoices take a few
minutes); `--fast` (make bench BENCH_FAST=1) runs time-scaled (a QBO minute lasts 60/S seconds),
and `--limits-off` measures CPU and wall time with no limits at all.

Live changes: every few seconds during the backfill an invoice is created and finished in
HubSpot and handed to a second engine, as a webhook would; its latency runs from the finish to
the QBO id written back on the HubSpot invoice.

Usage: python -m bench.backfill [N] [--fast] [--limits-off] [--time-scale S] [--live L]
(env BENCH_N, BENCH_TIME_SCALE, BENCH_FAST set the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.budget import LocalBudget, hubspot_limits, qbo_limits
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.hubspot.translate import QBO_INVOICE_ID
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, RecordKey
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.servers import port_free
from ledgerbridge.store import SqlStore, TokenCipher, migrate

QBO_REQUESTS_PER_MIN = 500
HS = {"Authorization": "Bearer pat-sandbox"}


def _ports() -> int:
    for _ in range(200):
        base = random.randint(20000, 60000)
        if port_free(base) and port_free(base + 1):
            return base
    raise RuntimeError("no free ports")


def start_sandboxes(
    time_scale: float, limits: bool = True
) -> tuple[subprocess.Popen[str], str, str, str]:
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
            *(["--rate-limits"] if limits else []),
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


def seed_hubspot(
    base: str, n: int, customers: int, products: int
) -> tuple[Decimal, tuple[str, str]]:
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
    return total, (contact_ids[0], product_ids[0])  # what the live changes use


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


class LiveChanges:
    """Invoices created and finished in HubSpot during the backfill, each handed at once to a
    second engine (as a webhook would); latency: finish → QBO id back on the HubSpot invoice."""

    def __init__(self, hs_url: str, engine: SyncEngine, contact: str, product: str) -> None:
        self.http = httpx.AsyncClient(base_url=hs_url, headers=HS, timeout=60)
        self.engine = engine
        self.contact = contact
        self.product = product
        self.latencies: list[float] = []
        self.totals: dict[str, Decimal] = {}

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        while True:
            r = await self.http.request(method, path, json=body)
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers.get("Retry-After", "0.2")))
                continue
            assert r.status_code in (200, 201), r.text
            return r.json()

    async def one(self, n: int) -> None:
        invoice = await self._call(
            "POST",
            "/crm/v3/objects/invoices",
            {"properties": {"hs_currency": "USD"}, "associations": _assoc(self.contact, 177)},
        )
        invoice_id = str(invoice["id"])
        await self._call(
            "POST",
            "/crm/v3/objects/line_items",
            {
                "properties": {"hs_product_id": self.product, "quantity": str(n % 5 + 1)},
                "associations": _assoc(invoice_id, 410),
            },
        )
        await self._call(
            "PATCH",
            f"/crm/v3/objects/invoices/{invoice_id}",
            {"properties": {"hs_invoice_status": "open"}},  # the user finishes it
        )
        finished = time.perf_counter()
        key = RecordKey(self.engine.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
        await self.engine.sync_key(key)  # the step ends after the QBO id is written back
        self.latencies.append(time.perf_counter() - finished)
        self.totals[invoice_id] = Decimal(0)

    async def run(self, count: int, every: float, stop: asyncio.Event) -> None:
        for n in range(count):
            try:
                await asyncio.wait_for(stop.wait(), every)
                return
            except TimeoutError:
                pass
            await self.one(n)

    async def check(self) -> tuple[int, Decimal]:
        """How many live invoices carry their QBO id on the HubSpot side, and their total."""
        done, total = 0, Decimal(0)
        for invoice_id in self.totals:
            r = await self.http.get(
                f"/crm/v3/objects/invoices/{invoice_id}",
                params={"properties": f"{QBO_INVOICE_ID},hs_amount_billed"},
            )
            props = r.json()["properties"]
            done += bool(props.get(QBO_INVOICE_ID))
            total += Decimal(props.get("hs_amount_billed") or "0")
        return done, total


def _connectors(
    http: httpx.AsyncClient,
    hs_url: str,
    qbo_url: str,
    realm: str,
    budgets: tuple[LocalBudget, LocalBudget] | None,
) -> tuple[HubSpotConnector, QuickBooksConnector]:
    crm = HubSpotConnector(
        http,
        StaticTokenProvider("pat-sandbox"),
        base_url=hs_url,
        budget=budgets[0] if budgets else None,
    )
    ledger = QuickBooksConnector(
        http,
        StaticTokenProvider("qbo-sandbox-token"),
        realm,
        base_url=qbo_url,
        budget=budgets[1] if budgets else None,
    )
    return crm, ledger


async def backfill(
    hs_url: str,
    qbo_url: str,
    realm: str,
    scale: float,
    limits: bool,
    live_count: int,
    live_seed: tuple[str, str],
    profile: bool = False,
    sandbox_pid: int | None = None,
) -> dict[str, Any]:
    budgets = (
        (LocalBudget(hubspot_limits(time_scale=scale)), LocalBudget(qbo_limits(time_scale=scale)))
        if limits
        else None
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        store = SqlStore(url, TokenCipher.generate())
        info = store.create_connection("bench", qbo_realm_id=realm)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http:
            crm, ledger = _connectors(http, hs_url, qbo_url, realm, budgets)
            await crm.ensure_sync_properties()
            engine = SyncEngine(info.id, crm, ledger, store, SyncSettings())
            live_crm, live_ledger = _connectors(http, hs_url, qbo_url, realm, budgets)
            live = LiveChanges(
                hs_url,
                SyncEngine(info.id, live_crm, live_ledger, store, SyncSettings()),
                *live_seed,
            )
            stop = asyncio.Event()
            live_task = asyncio.create_task(live.run(live_count, 6.0 / scale, stop))
            profiler = None
            if profile:
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="disabled")
                profiler.start()
            rss0 = _rss_mib()  # after seeding: what the backfill adds is measured from here
            peak = [rss0]

            async def sample() -> None:
                while True:
                    peak[0] = max(peak[0], _rss_mib())
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            cpu0, wall0 = time.process_time(), time.perf_counter()
            sandbox0 = _process_cpu(sandbox_pid)
            final = None
            etas: list[tuple[float, float]] = []
            async for progress in engine.backfill(None, dry_run=False):
                final = progress
                if progress.eta_seconds is not None and progress.phase == "hubspot invoices":
                    etas.append((time.perf_counter() - wall0, progress.eta_seconds))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            sandbox_cpu = _process_cpu(sandbox_pid) - sandbox0
            sampler.cancel()
            peak[0] = max(peak[0], _rss_mib())
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, show_all=False)[:12000])
            stop.set()
            await live_task
            live_visible, live_total = await live.check()
            await live.http.aclose()
            result = {
                "wall": wall,
                "cpu": cpu,
                "sandbox_cpu": sandbox_cpu,
                "final": final,
                "qbo_requests": ledger.requests_sent + live_ledger.requests_sent,
                "hs_requests": crm.requests_sent + live_crm.requests_sent,
                "states": store.count_states(info.id),
                "latencies": live.latencies,
                "live_visible": live_visible,
                "live_total": live_total,
                "throttled": budgets[1].stats.throttled if budgets else 0,
                "hs_throttled": budgets[0].stats.throttled if budgets else 0,
                "etas": etas,
                "rss_before": rss0,
                "rss_after": _rss_mib(),
                "rss_peak": peak[0],
            }
        store.close()
    return result


def _process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far (Linux); 0 where /proc is missing."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib() -> float:
    """This process's resident memory now (Linux), MiB; 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def qbo_created(base: str, realm: str, entity: str) -> int:
    http = httpx.Client(
        base_url=f"{base}/v3/company/{realm}",
        timeout=60,
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    while True:
        r = http.post(
            "/query",
            content=f"select count(*) from {entity}",
            headers={"Content-Type": "application/text"},
        )
        if r.status_code == 429:
            time.sleep(0.5)
            continue
        return int(r.json()["QueryResponse"]["totalCount"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    fast = os.environ.get("BENCH_FAST", "") not in ("", "0")
    parser.add_argument("n", nargs="?", type=int, default=int(os.environ.get("BENCH_N", "0")))
    parser.add_argument("--fast", action="store_true", default=fast, help="time-scaled run")
    parser.add_argument("--limits-off", action="store_true", help="no rate limits (CPU/wall)")
    parser.add_argument("--time-scale", type=float, default=None)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--products", type=int, default=25)
    parser.add_argument("--live", type=int, default=None, help="live changes during the run")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the backfill")
    parser.add_argument(
        "--rss-check",
        action="store_true",
        help="limits off at 5,000 and 50,000 invoices, each in its own process: peak RSS ratio",
    )
    args = parser.parse_args()
    if args.rss_check:
        rss_check(args.customers, args.products)
        return
    limits = not args.limits_off
    scale = args.time_scale or float(
        os.environ.get("BENCH_TIME_SCALE", "30" if args.fast or not limits else "1")
    )
    n = args.n or (5000 if args.fast else 1500 if limits else 1000)
    live_count = args.live if args.live is not None else (20 if limits else 0)
    qbo_minute = 60 / scale
    print(
        f"ledgerbridge backfill benchmark: {n} invoices, {args.customers} customers, "
        f"{args.products} products, {live_count} live changes"
    )
    print(
        "sandboxes in their own process, "
        + (
            f"rate limits on, time scale {scale:g} (one QBO minute = {qbo_minute:.2f} s)"
            if limits
            else "rate limits off"
        )
    )
    proc, hs_url, qbo_url, realm = start_sandboxes(scale, limits)
    try:
        t0 = time.perf_counter()
        # Seeded from a child process: this process's memory is the backfill's alone.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            hubspot_total, live_seed = pool.submit(
                seed_hubspot, hs_url, n, args.customers, args.products
            ).result()
        print(f"seeded HubSpot through its batch APIs in {time.perf_counter() - t0:.1f} s")
        r = asyncio.run(
            backfill(
                hs_url,
                qbo_url,
                realm,
                scale,
                limits,
                live_count,
                live_seed,
                args.profile,
                proc.pid,
            )
        )
        synced, qbo_total = qbo_totals(qbo_url, realm)
        customers = qbo_created(qbo_url, realm, "Customer")
        items = qbo_created(qbo_url, realm, "Item")
    finally:
        proc.terminate()
        proc.wait(20)
    report(r, n, synced, qbo_total, hubspot_total, customers, items, qbo_minute, limits)


def rss_check(customers: int, products: int, sizes: tuple[int, int] = (5000, 50000)) -> None:
    """Memory stays flat: the peak RSS of a limits-off backfill of 50,000 invoices against
    that of 5,000 (target: at most 1.2 times), each run in a fresh process."""
    peaks: list[float] = []
    for n in sizes:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.backfill",
                str(n),
                "--limits-off",
                "--customers",
                str(customers),
                "--products",
                str(products),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(out)
        line = next(x for x in out.splitlines() if x.startswith("peak RSS during the backfill"))
        peaks.append(float(line.split()[-2]))
    ratio = peaks[1] / peaks[0]
    print(
        f"peak RSS: {peaks[0]:.1f} MiB at {sizes[0]}, {peaks[1]:.1f} MiB at {sizes[1]}: "
        f"{ratio:.2f}x (target <= 1.2x)"
    )


def report(
    r: dict[str, Any],
    n: int,
    synced: int,
    qbo_total: Decimal,
    hubspot_total: Decimal,
    customers: int,
    items: int,
    qbo_minute: float,
    limits: bool,
) -> None:
    wall, cpu = r["wall"], r["cpu"]
    lat = r["latencies"]
    backfilled = synced - len(lat)
    states = r["states"]
    created = synced + customers + items  # every create is a metered request
    print()
    print(
        f"invoices in QuickBooks      {backfilled} / {n} backfilled + {len(lat)} live  "
        f"(sync states: synced {states[SyncStatus.SYNCED]}, failed {states[SyncStatus.FAILED]})"
    )
    print(f"totals equal to the cent    {qbo_total == hubspot_total + r.get('live_total', 0)}")
    print(f"wall time                   {wall:.2f} s  (= {wall / qbo_minute:.2f} QBO minutes)")
    if limits:
        ceiling = QBO_REQUESTS_PER_MIN / qbo_minute  # metered requests per second
        best = created / ceiling
        print(
            f"created in QBO              {created}  ({synced} invoices + {customers} customers "
            f"+ {items} items; each a metered request)"
        )
        print(
            f"QBO ceiling                 {ceiling:.2f} creates/s = 500 per QBO minute "
            f"-> {best:.0f} s for this run"
        )
        print(
            f"fraction of the ceiling     {best / wall:.1%}  "
            "(the first minute's window starts empty, so a run can exceed 100 %)"
        )
        print(f"429s received               QBO {r['throttled']}, HubSpot {r['hs_throttled']}")
    print(f"throughput                  {backfilled / wall:.2f} invoices/s")
    print(
        f"QBO requests                {r['qbo_requests']}  "
        f"({r['qbo_requests'] / max(synced, 1):.3f} HTTP calls per invoice)"
    )
    print(
        f"HubSpot requests            {r['hs_requests']}  ({r['hs_requests'] / max(synced, 1):.3f} per invoice)"
    )
    print(
        f"ledgerbridge CPU            {cpu:.2f} s  ({1000 * cpu / max(synced, 1):.2f} ms per invoice; "
        f"CPU/wall {cpu / wall:.0%})"
    )
    sandbox = r["sandbox_cpu"]
    print(
        f"sandboxes' CPU              {sandbox:.2f} s  ({1000 * sandbox / max(synced, 1):.2f} ms per "
        "invoice; both sandboxes, in their own process)"
    )
    print(
        f"load average (1 min)        {os.getloadavg()[0]:.2f}  (on {os.cpu_count()} cores; "
        "other work on the machine lengthens the wall time)"
    )
    print(
        f"max RSS of this process     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        f"  (RSS before the backfill {r['rss_before']:.0f} MiB, after {r['rss_after']:.0f} MiB)"
    )
    print(f"peak RSS during the backfill {r['rss_peak']:.1f} MiB")
    if lat:
        print(
            f"live changes                {len(lat)}: p50 {_pct(lat, 0.5):.2f} s, p95 "
            f"{_pct(lat, 0.95):.2f} s, max {max(lat):.2f} s  (finish -> QBO id on the HubSpot "
            f"invoice); {r['live_visible']} carry their QBO id"
        )
    if r["etas"] and limits:
        at, eta = r["etas"][0]
        print(
            f"first budget ETA            {eta:.0f} s left at {at:.0f} s "
            f"(predicted end {at + eta:.0f} s, actual {wall:.0f} s)"
        )
    final = r["final"]
    if final is not None:
        print(
            f"backfill report             synced {final.synced}, failed {final.failed}, "
            f"excluded {final.excluded}, blocked {final.blocked}"
        )


if __name__ == "__main__":
    main()
