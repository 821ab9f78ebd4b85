"""`make bench-scale`: the distributed mode under load, as deployed (separate processes).

1. Throughput: C connections (each its own sandbox HubSpot portal and QBO company, QBO limits
   on, time-scaled) x N finished invoices, synced by 1, 2 and 4 `ledgerbridge worker` processes
   under one `ledgerbridge beat`, over the local PostgreSQL and Redis. Prints invoices/s, the
   speed-up over one worker, and the 429s the workers received (their /metrics).
2. Idle: one worker over M connections while new invoices trickle into random companies:
   the worker's CPU (cores) and RSS, and RSS per connection.

The sandboxes run in their own processes (`python -m bench.scale sandboxes`, several companies
per process). Defaults are sized to run in a few minutes on a small shared machine; the full
size of the issue is `--connections 20 --invoices 500 --idle-connections 200`.

Usage: python -m bench.scale [--connections C] [--invoices N] [--workers 1,2,4]
       [--idle-connections M] [--idle-seconds S] [--time-scale T]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from ledgerbridge.cluster import Cluster, ensure_database, wait_port
from ledgerbridge.fleet import Company, connect_fleet, seed_invoices

DB = "postgresql+psycopg://postgres@127.0.0.1:5432/ledgerbridge_bench_scale"
BROKER = "redis://127.0.0.1:6379/12"
PORTS = 9400  # sandboxes from here; worker metrics from 9390


# ---- the sandbox host: several companies in one process ---------------------------------------
def serve_sandboxes(args: argparse.Namespace) -> None:
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
    from ledgerbridge.servers import Served, serve_all

    apps = []
    for n in range(args.count):
        hs = hubspot_app(seed="empty", rate_limits=args.limits, time_scale=args.time_scale)
        qb = quickbooks_app(seed="empty", throttle=args.limits, time_scale=args.time_scale)
        seed_invoices(hs.state.sandbox, args.invoices, f"co{args.base_port + 2 * n}")
        apps.append((hs, qb))
    served = []
    for n, (hs, qb) in enumerate(apps):
        served.append(Served(f"hs{n}", hs, args.base_port + 2 * n))
        served.append(Served(f"qb{n}", qb, args.base_port + 2 * n + 1))

    async def trickle(stop: asyncio.Event) -> None:
        rng = random.Random(11)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.trickle)
            hs, _ = rng.choice(apps)
            seed_invoices(hs.state.sandbox, 1, f"t{rng.randint(0, 10**9)}", contacts=1)

    import contextlib

    asyncio.run(serve_all(served, background=[trickle] if args.trickle else []))


# ---- helpers --------------------------------------------------------------------------------
def _env(poll: float, batch: int = 20) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGERBRIDGE_DATABASE_URL": DB,
        "LEDGERBRIDGE_BROKER_URL": BROKER,
        "LEDGERBRIDGE_DATA_DIR": str(Path(".ledgerbridge-bench").absolute()),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": str(poll),
        "LEDGERBRIDGE_BATCH_SIZE": str(batch),
        "LEDGERBRIDGE_LOG_LEVEL": "WARNING",
    }


def _host(cluster: Cluster, name: str, count: int, base: int, **opts: Any) -> list[Company]:
    args = ["-m", "bench.scale", "sandboxes", f"--count={count}", f"--base-port={base}"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in opts.items() if v is not None]
    import subprocess

    log = (cluster.log_dir / f"{name}.log").open("ab")
    cluster.procs[name] = subprocess.Popen(
        [sys.executable, *args], env=cluster.env, stdout=log, stderr=subprocess.STDOUT
    )
    companies = [
        Company(f"http://127.0.0.1:{base + 2 * n}", f"http://127.0.0.1:{base + 2 * n + 1}")
        for n in range(count)
    ]
    for n in range(count):
        wait_port(base + 2 * n + 1, timeout=600)
    return companies


async def _connect(companies: list[Company], env: dict[str, str]) -> list[int]:
    from ledgerbridge.bootstrap import build_runtime
    from ledgerbridge.settings import Settings

    os.environ.update({k: v for k, v in env.items() if k.startswith("LEDGERBRIDGE_")})
    runtime = await build_runtime(Settings())
    try:
        return await connect_fleet(runtime, companies)
    finally:
        await runtime.aclose()


def _linked(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM record_links "
                    "WHERE object_type = 'invoice' AND qbo_id IS NOT NULL"
                )
            ).scalar_one()
        )


def _scrape(ports: list[int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for port in ports:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            continue
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                key = s.name
                if s.name == "ledgerbridge_api_calls_total":
                    key = f"{s.name}:{s.labels['api']}:{s.labels['status']}"
                out[key] = out.get(key, 0.0) + s.value
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---- 1. throughput ------------------------------------------------------------------------
def throughput(args: argparse.Namespace, workers: int) -> dict[str, float]:
    ensure_database(DB, fresh=True)
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    env = _env(poll=2.0)
    cluster = Cluster(env, Path(".ledgerbridge-bench/logs") / f"w{workers}")
    cluster.log_dir.mkdir(parents=True, exist_ok=True)
    hosts = 2 if args.connections > 1 else 1
    per_host = -(-args.connections // hosts)
    try:
        companies: list[Company] = []
        for h in range(hosts):
            count = min(per_host, args.connections - len(companies))
            companies += _host(
                cluster,
                f"sandboxes-{h}",
                count,
                PORTS + 2 * per_host * h,
                invoices=args.invoices,
                time_scale=args.time_scale,
                limits="1",
            )
        asyncio.run(_connect(companies, env))
        total = args.connections * args.invoices
        engine = create_engine(DB)
        ports = [9390 + n for n in range(workers)]
        for n, port in enumerate(ports):
            cluster.spawn(f"worker-{n}", "worker", f"--name=bench{n}@%h", f"--metrics-port={port}")
        for port in ports:
            wait_port(port)
        time.sleep(2)  # the workers' broker consumers start after their metrics port
        # The clock starts with beat: from the first task to the last invoice in QuickBooks.
        start = time.monotonic()
        cluster.spawn("beat", "beat")
        done = 0
        while time.monotonic() - start < args.timeout:
            done = _linked(engine)
            if done >= total:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - start
        figures = _scrape(ports)
        engine.dispose()
        return {
            "workers": workers,
            "synced": done,
            "total": total,
            "seconds": elapsed,
            "rate": done / elapsed,
            "qbo_calls": sum(
                v
                for k, v in figures.items()
                if k.startswith("ledgerbridge_api_calls_total:QuickBooks")
            ),
            "qbo_429": figures.get("ledgerbridge_api_calls_total:QuickBooks:429", 0.0),
            "hs_429": figures.get("ledgerbridge_api_calls_total:HubSpot:429", 0.0),
        }
    finally:
        cluster.stop()


# ---- 2. idle ------------------------------------------------------------------------------
def idle(args: argparse.Namespace) -> dict[str, float]:
    ensure_database(DB, fresh=True)
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    env = _env(poll=args.idle_poll)
    cluster = Cluster(env, Path(".ledgerbridge-bench/logs") / "idle")
    cluster.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        companies = _host(
            cluster,
            "sandboxes",
            args.idle_connections,
            PORTS,
            invoices=0,
            trickle=args.trickle,
        )
        asyncio.run(_connect(companies, env))
        cluster.spawn("beat", "beat")
        worker = cluster.spawn("worker", "worker", "--name=idle@%h", "--metrics-port=9389")
        # Warm up: every connection served once (its connectors built, its feeds read).
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if _scrape([9389]).get("ledgerbridge_worker_tasks_total", 0) >= args.idle_connections:
                break
            time.sleep(2)
        cpu0, t0 = _cpu_seconds(worker.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        cpu1, t1 = _cpu_seconds(worker.pid), time.monotonic()
        figures = _scrape([9389])
        return {
            "connections": args.idle_connections,
            "cores": (cpu1 - cpu0) / (t1 - t0),
            "rss_mib": _rss_mib(worker.pid),
            "tasks": figures.get("ledgerbridge_worker_tasks_total", 0),
            "synced": figures.get("ledgerbridge_sync_steps_total", 0),
        }
    finally:
        cluster.stop()


def baseline_rss() -> float:
    """A worker serving no connection yet (imports, Celery, one database pool)."""
    ensure_database(DB, fresh=True)
    env = _env(poll=30)
    cluster = Cluster(env, Path(".ledgerbridge-bench/logs") / "baseline")
    try:
        worker = cluster.spawn("worker", "worker", "--name=base@%h", "--metrics-port=9388")
        wait_port(9388)
        time.sleep(3)
        return _rss_mib(worker.pid)
    finally:
        cluster.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "sandboxes":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("--count", type=int)
        p.add_argument("--base-port", type=int)
        p.add_argument("--invoices", type=int, default=0)
        p.add_argument("--time-scale", type=float, default=1.0)
        p.add_argument("--limits", type=int, default=0)
        p.add_argument("--trickle", type=float, default=0.0)
        serve_sandboxes(p.parse_args())
        return
    p = argparse.ArgumentParser(description="distributed-mode benchmark")
    p.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", 20)))
    p.add_argument("--invoices", type=int, default=int(os.environ.get("BENCH_INVOICES", 15)))
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--time-scale", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--idle-connections", type=int, default=200)
    p.add_argument("--idle-seconds", type=float, default=60.0)
    p.add_argument("--idle-poll", type=float, default=30.0)
    p.add_argument("--trickle", type=float, default=2.0, help="seconds between new invoices")
    p.add_argument("--skip-idle", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args()

    if not args.skip_throughput:
        print(
            f"throughput: {args.connections} connections x {args.invoices} invoices, QBO limits on "
            f"(time scale {args.time_scale:g}: a QBO minute lasts {60 / args.time_scale:g} s)"
        )
        first = None
        for k in [int(x) for x in args.workers.split(",")]:
            r = throughput(args, k)
            first = first or r["rate"]
            print(
                f"  {k} worker(s): {r['synced']:.0f}/{r['total']:.0f} invoices in {r['seconds']:.1f} s"
                f" = {r['rate']:.1f}/s ({r['rate'] / first:.2f}x one worker); "
                f"QBO calls {r['qbo_calls']:.0f}, 429s QBO {r['qbo_429']:.0f} HubSpot {r['hs_429']:.0f}",
                flush=True,
            )
    if not args.skip_idle:
        base = baseline_rss()
        r = idle(args)
        per = (r["rss_mib"] - base) / r["connections"] * 1024
        print(
            f"idle: 1 worker over {r['connections']} connections (poll every {args.idle_poll:g} s,"
            f" a new invoice every {args.trickle:g} s): CPU {r['cores']:.3f} cores,"
            f" RSS {r['rss_mib']:.0f} MiB ({base:.0f} MiB with none: {per:.0f} KiB per connection);"
            f" {r['tasks']:.0f} tasks, {r['synced']:.0f} steps",
            flush=True,
        )


if __name__ == "__main__":
    main()
