"""`make bench-scale`: the distributed mode under load, as deployed (separate processes).

1. Throughput: C connections (each its own sandbox HubSpot portal and QBO company, with its
   own portal id and realm id, QBO and HubSpot limits on, time-scaled) x N finished invoices,
   synced by 1, 2 and 4 `ledgerbridge worker` processes under one `ledgerbridge beat`, over the
   local PostgreSQL and Redis. The workers pace every realm and portal with the same
   time-scaled limits, through budgets shared in Redis (LEDGERBRIDGE_BUDGET_REDIS_URL), as
   compose.yaml deploys them. Prints invoices/s, the speed-up over one worker, the API calls,
   the 429s (total and the worst realm's: a realm over its limit gets 429s from its sandbox),
   the time requests waited for their budget, the CPU each group of processes used (workers,
   sandboxes, PostgreSQL, Redis, beat) and how busy the whole machine was (every user's work).
2. Idle: one worker over M connections, the web tier (`serve --no-worker`) receiving HubSpot's
   webhooks for new invoices trickling into random companies: the worker's CPU (cores) and
   RSS, and RSS per connection against a worker serving none.

The sandboxes run in their own processes (`python -m bench.scale sandboxes`, several companies
per process). Defaults are the issue's size: 20 connections x 500 invoices, 200 idle
connections (about 40 minutes on a shared 2-core machine; `--invoices 50 --skip-idle` for a
quick look).

Usage: python -m bench.scale [--connections C] [--invoices N] [--workers 1,2,4] [--concurrency K] [--poll S]
       [--cpus-per-worker X]
       [--idle-connections M] [--idle-seconds S] [--time-scale T] [--profile S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
BUDGETS = "redis://127.0.0.1:6379/11"  # the realms' budgets, shared by every worker
REALM_BASE = 9130357000000000
PORTAL_BASE = 70000000
WEB_PORT = 9380  # the web tier (`serve --no-worker`) in the idle run
PORTS = 9400  # sandboxes from here; worker metrics from 9390


# ---- the sandbox host: several companies in one process ---------------------------------------
def serve_sandboxes(args: argparse.Namespace) -> None:
    from ledgerbridge.bootstrap import SANDBOX_CLIENT_SECRET
    from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
    from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
    from ledgerbridge.sandbox.quickbooks import state as qbo_state
    from ledgerbridge.servers import Served, serve_all

    apps = []
    for n in range(args.count):
        number = args.first + n  # this company's number across every sandbox host
        # Its own QBO realm id (the sandbox numbers realms from REALM_BASE)...
        qbo_state.REALM_BASE = REALM_BASE + 1000 * number
        hs = hubspot_app(seed="empty", rate_limits=args.limits, time_scale=args.time_scale)
        qb = quickbooks_app(seed="empty", throttle=args.limits, time_scale=args.time_scale)
        # ...and its own HubSpot portal id: every company is its own account, with its own
        # limits in the sandbox and its own rate budget in the workers (keyed by realm/portal).
        hsb = hs.state.sandbox
        hsb.portal_id = hsb.tokens.hub_id = hsb.webhooks.portal_id = PORTAL_BASE + number
        seed_invoices(hsb, args.invoices, f"co{number}")
        if args.webhook_url:  # HubSpot tells the web tier what changed (it sends a task)
            hsb.set_webhook(args.webhook_url, SANDBOX_CLIENT_SECRET)
        apps.append((hs, qb))
    qbo_state.REALM_BASE = REALM_BASE
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
def _env(poll: float, batch: int = 20, time_scale: float = 1.0) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGERBRIDGE_DATABASE_URL": DB,
        "LEDGERBRIDGE_BROKER_URL": BROKER,
        # Workers pace each realm and portal as the sandboxes limit them (time-scaled), and
        # share those budgets through Redis: two workers never exceed one realm's limits.
        "LEDGERBRIDGE_BUDGET_REDIS_URL": BUDGETS,
        "LEDGERBRIDGE_RATE_TIME_SCALE": str(time_scale),
        "LEDGERBRIDGE_DATA_DIR": str(Path(".ledgerbridge-bench").absolute()),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": str(poll),
        "LEDGERBRIDGE_BATCH_SIZE": str(batch),
        "LEDGERBRIDGE_LOG_LEVEL": "WARNING",
    }


def _fresh_redis() -> None:
    import redis

    for url in (BROKER, BUDGETS):
        redis.Redis.from_url(url).flushdb()


def _host(
    cluster: Cluster, name: str, count: int, base: int, first: int, **opts: Any
) -> list[Company]:
    args = ["-m", "bench.scale", "sandboxes", f"--count={count}", f"--base-port={base}"]
    args += [f"--first={first}"]
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
        wait_port(base + 2 * n + 1, timeout=900)
    return companies


def _hosts(cluster: Cluster, connections: int, hosts: int, **opts: Any) -> list[Company]:
    """`connections` companies spread over `hosts` sandbox processes."""
    hosts = max(1, min(hosts, connections))
    per_host = -(-connections // hosts)
    companies: list[Company] = []
    for h in range(hosts):
        count = min(per_host, connections - len(companies))
        if count <= 0:
            break
        base = PORTS + 2 * per_host * h
        companies += _host(cluster, f"sandboxes-{h}", count, base, len(companies), **opts)
    return companies


async def _connect(companies: list[Company], env: dict[str, str]) -> list[int]:
    from ledgerbridge.bootstrap import build_runtime
    from ledgerbridge.settings import Settings

    os.environ.update({k: v for k, v in env.items() if k.startswith("LEDGERBRIDGE_")})
    # Connecting takes a few calls per company: paced in this process, not through Redis (the
    # budgets' Redis clients would outlive this event loop, and the next run has another).
    runtime = await build_runtime(Settings(budget_redis_url=None))
    try:
        return await connect_fleet(runtime, companies)
    finally:
        await runtime.aclose()


def _accounts(engine: Any) -> tuple[int, int]:
    """Distinct QBO realms and HubSpot portals among the connections (each its own budget)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(DISTINCT qbo_realm_id), count(DISTINCT hubspot_portal_id) "
                "FROM connections"
            )
        ).one()
    return int(row[0]), int(row[1])


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
    """Sum of the workers' metrics; API calls keyed by api, status and account."""
    out: dict[str, float] = {}
    for port in ports:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            continue
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                keys = [s.name]
                if s.name in (
                    "ledgerbridge_api_calls_total",
                    "ledgerbridge_budget_wait_seconds_total",
                ):
                    keys = [f"{s.name}:{s.labels['api']}:{s.labels.get('status', '')}"]
                    keys.append(f"{keys[0]}:{s.labels.get('account', '')}")
                for key in keys:
                    out[key] = out.get(key, 0.0) + s.value
    return out


def _xacts() -> int:
    """Transactions the bench database has committed or rolled back (pg_stat_database; every
    client's, a pool's liveness pings included, since they are round trips too)."""
    engine = create_engine(DB.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(
                conn.execute(
                    text(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                        "WHERE datname = :n"
                    ),
                    {"n": DB.rsplit("/", 1)[1]},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _named_cpu(*names: str) -> float:
    """CPU seconds of every process whose command name starts with one of `names` (e.g. the
    PostgreSQL backends, whoever their client is)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith(names):
            total += _cpu_seconds(int(entry.name))
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat), every user's."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / tick, sum(values[:8]) / tick


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CpuMeter:
    """CPU seconds per group of processes between start() and stop(), and the machine's."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def _sample(self) -> dict[str, float]:
        groups: dict[str, float] = {"workers": 0.0, "sandboxes": 0.0, "beat": 0.0}
        for name, proc in self.cluster.procs.items():
            group = "workers" if name.startswith("worker") else name.split("-")[0]
            groups[group] = groups.get(group, 0.0) + _cpu_seconds(proc.pid)
        groups["postgres"] = _named_cpu("postgres")
        groups["redis"] = _named_cpu("redis-server")
        groups["machine"], groups["machine_total"] = _machine_busy()
        groups["bench"] = _cpu_seconds(os.getpid())
        return groups

    def start(self) -> None:
        self.t0, self.before = time.monotonic(), self._sample()

    def stop(self) -> dict[str, float]:
        elapsed, after = time.monotonic() - self.t0, self._sample()
        cores = {k: (after[k] - self.before.get(k, 0.0)) / elapsed for k in after}
        cores["machine_cores"] = (after["machine_total"] - self.before["machine_total"]) / elapsed
        return cores


# ---- a CPU limit per worker, as a container's `cpus:` gives one ------------------------------
class CpuLimits:
    """Each worker process in a cgroup of its own with a CPU quota (`cores` of CPU time per
    second), as `docker compose` gives a worker container with `cpus: 0.5`. A 2-core machine
    then measures how the workers scale against each other without the machine's core count
    being the limit first: N workers x `cores`, plus the sandboxes, PostgreSQL and Redis, must
    fit in the machine. cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us); needs root."""

    PERIOD_US = 100_000

    def __init__(self, cores: float) -> None:
        self.cores = cores
        self.made: list[Path] = []
        v2 = Path("/sys/fs/cgroup")
        if (v2 / "cgroup.controllers").exists():
            self.root, self.v2 = v2, True
            # Already on, or not ours to change: the group's own writes below tell.
            with contextlib.suppress(OSError):
                (v2 / "cgroup.subtree_control").write_text("+cpu")
        else:
            self.root, self.v2 = v2 / "cpu", False

    def apply(self, name: str, pid: int) -> None:
        group = self.root / f"ledgerbridge-bench-{name}"
        quota = int(self.cores * self.PERIOD_US)
        try:
            group.mkdir(exist_ok=True)
            if self.v2:
                (group / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            (group / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            raise SystemExit(
                f"--cpus-per-worker needs a writable cgroup CPU controller ({group}): {exc}."
                " Run as root on a machine with cgroups, or leave the option out."
            ) from exc
        self.made.append(group)

    def release(self) -> None:
        for group in self.made:  # the workers have exited: their groups are empty
            # A process still in it: the next run's mkdir(exist_ok) reuses the group.
            with contextlib.suppress(OSError):
                group.rmdir()
        self.made.clear()


# ---- 1. throughput ------------------------------------------------------------------------
def throughput(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    ensure_database(DB, fresh=True)
    _fresh_redis()
    env = _env(poll=args.poll, time_scale=args.time_scale)
    cluster = Cluster(env, Path(".ledgerbridge-bench/logs") / f"w{workers}")
    cluster.log_dir.mkdir(parents=True, exist_ok=True)
    limits = CpuLimits(args.cpus_per_worker) if args.cpus_per_worker else None
    try:
        companies = _hosts(
            cluster,
            args.connections,
            args.sandbox_hosts,
            invoices=args.invoices,
            time_scale=args.time_scale,
            limits="1",
        )
        asyncio.run(_connect(companies, env))
        total = args.connections * args.invoices
        engine = create_engine(DB)
        realms, portals = _accounts(engine)
        ports = [9390 + n for n in range(workers)]
        for n, port in enumerate(ports):
            proc = cluster.spawn(
                f"worker-{n}",
                "worker",
                f"--name=bench{n}@%h",
                f"--metrics-port={port}",
                *([f"--concurrency={args.concurrency}"] if args.concurrency else []),
            )
            if limits:
                limits.apply(f"worker-{n}", proc.pid)
        for port in ports:
            wait_port(port)
        time.sleep(2)  # the workers' broker consumers start after their metrics port
        if args.profile and workers == 1:
            _profile(cluster, args)
        # The clock starts with beat: from the first task to the last invoice in QuickBooks.
        meter = CpuMeter(cluster)
        xacts0 = _xacts()
        meter.start()
        start = time.monotonic()
        cluster.spawn("beat", "beat")
        done = 0
        checks = 0
        while time.monotonic() - start < args.timeout:
            done = _linked(engine)
            checks += 1
            if done >= total:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - start
        cores = meter.stop()
        # The database's own count, after the workers' statistics reached it (flushed at least
        # once a second); less this bench's own checks (one query each).
        time.sleep(1.5)
        xacts = _xacts() - xacts0 - checks
        load = os.getloadavg()
        figures = _scrape(ports)
        engine.dispose()
        qbo_429_by_realm = {
            k.rsplit(":", 1)[1]: v
            for k, v in figures.items()
            if k.startswith("ledgerbridge_api_calls_total:QuickBooks:429:")
        }
        return {
            "workers": workers,
            "synced": done,
            "total": total,
            "seconds": elapsed,
            "rate": done / elapsed,
            "realms": realms,
            "portals": portals,
            "qbo_calls": sum(
                v
                for k, v in figures.items()
                if k.startswith("ledgerbridge_api_calls_total:QuickBooks:") and k.count(":") == 2
            ),
            "hs_calls": sum(
                v
                for k, v in figures.items()
                if k.startswith("ledgerbridge_api_calls_total:HubSpot:") and k.count(":") == 2
            ),
            "qbo_429": figures.get("ledgerbridge_api_calls_total:QuickBooks:429", 0.0),
            "qbo_429_worst_realm": max(qbo_429_by_realm.values(), default=0.0),
            "hs_429": figures.get("ledgerbridge_api_calls_total:HubSpot:429", 0.0),
            "budget_wait_qbo": figures.get(
                "ledgerbridge_budget_wait_seconds_total:QuickBooks:", 0.0
            ),
            "budget_wait_hs": figures.get("ledgerbridge_budget_wait_seconds_total:HubSpot:", 0.0),
            "cores": cores,
            "load": load,
            "xacts_per_invoice": xacts / max(1, done),
            "worker_cpu_per_invoice": cores["workers"] * elapsed / max(1, done),
        }
    finally:
        cluster.stop()
        if limits:
            limits.release()


def _profile(cluster: Cluster, args: argparse.Namespace) -> None:
    """py-spy on the one worker for the first seconds of the run (written next to the logs)."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("  (py-spy not installed: no profile)", flush=True)
        return
    worker = cluster.procs["worker-0"]
    out = cluster.log_dir / "worker-0.profile.txt"
    cluster.procs["py-spy"] = subprocess.Popen(
        [
            spy,
            "record",
            f"--pid={worker.pid}",
            f"--duration={int(args.profile)}",
            "--format=raw",
            "--idle",
            f"--output={out}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"  profiling worker-0 for {args.profile:g} s into {out}", flush=True)


# ---- 2. idle ------------------------------------------------------------------------------
def idle(args: argparse.Namespace) -> dict[str, float]:
    """One worker over many connections, the web tier receiving HubSpot's webhooks for the new
    invoices that trickle in (each webhook sends its connection a task), beat polling every
    connection on the production interval."""
    ensure_database(DB, fresh=True)
    _fresh_redis()
    env = {**_env(poll=args.idle_poll), "LEDGERBRIDGE_PORT": str(WEB_PORT)}
    cluster = Cluster(env, Path(".ledgerbridge-bench/logs") / "idle")
    cluster.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        companies = _host(
            cluster,
            "sandboxes",
            args.idle_connections,
            PORTS,
            0,
            invoices=0,
            trickle=args.trickle,
            webhook_url=f"http://127.0.0.1:{WEB_PORT}/webhooks/hubspot",
        )
        asyncio.run(_connect(companies, env))
        cluster.spawn("web", "serve", "--no-worker")
        wait_port(WEB_PORT)
        cluster.spawn("beat", "beat")
        worker = cluster.spawn("worker", "worker", "--name=idle@%h", "--metrics-port=9389")
        # Warm up: every connection served once (its connectors built, its feeds read).
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if _scrape([9389]).get("ledgerbridge_worker_tasks_total", 0) >= args.idle_connections:
                break
            time.sleep(2)
        engine = create_engine(DB)
        linked0 = _linked(engine)
        before = _scrape([9389]).get("ledgerbridge_worker_tasks_total", 0)
        meter = CpuMeter(cluster)
        meter.start()
        time.sleep(args.idle_seconds)
        cores = meter.stop()
        figures = _scrape([9389])
        linked = _linked(engine) - linked0
        engine.dispose()
        return {
            "connections": args.idle_connections,
            "cores": cores["workers"],
            "web_cores": cores.get("web", 0.0),
            "sandbox_cores": cores["sandboxes"],
            "machine": cores["machine"],
            "load": os.getloadavg()[0],
            "rss_mib": _rss_mib(worker.pid),
            "tasks": figures.get("ledgerbridge_worker_tasks_total", 0) - before,
            "synced": linked,
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
        p.add_argument("--first", type=int, default=0)
        p.add_argument("--invoices", type=int, default=0)
        p.add_argument("--time-scale", type=float, default=1.0)
        p.add_argument("--limits", type=int, default=0)
        p.add_argument("--trickle", type=float, default=0.0)
        p.add_argument("--webhook-url", default="")
        serve_sandboxes(p.parse_args())
        return
    p = argparse.ArgumentParser(description="distributed-mode benchmark")
    p.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", 20)))
    p.add_argument("--invoices", type=int, default=int(os.environ.get("BENCH_INVOICES", 500)))
    p.add_argument("--workers", default="1,2,4")
    p.add_argument(
        "--concurrency", type=int, default=0, help="connections in flight per worker (0: default)"
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float,
        default=0.0,
        help="CPU quota per worker process in cores, as compose's `cpus:` (0: no limit)",
    )
    p.add_argument("--time-scale", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--poll", type=float, default=10.0, help="poll interval while measuring")
    p.add_argument("--sandbox-hosts", type=int, default=2, help="processes serving the sandboxes")
    p.add_argument("--profile", type=float, default=0.0, help="py-spy the 1-worker run (s)")
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
            + (
                f"; each worker limited to {args.cpus_per_worker:g} cores (cgroup quota)"
                if args.cpus_per_worker
                else ""
            )
        )
        first = None
        for k in [int(x) for x in args.workers.split(",")]:
            r = throughput(args, k)
            first = first or r["rate"]
            c = r["cores"]
            print(
                f"  {k} worker(s): {r['synced']:.0f}/{r['total']:.0f} invoices in"
                f" {r['seconds']:.1f} s = {r['rate']:.1f}/s ({r['rate'] / first:.2f}x one worker)"
                f" over {r['realms']} realms / {r['portals']} portals\n"
                f"      API calls QBO {r['qbo_calls']:.0f} ({r['qbo_calls'] / r['seconds']:.0f}/s),"
                f" HubSpot {r['hs_calls']:.0f}; 429s QBO {r['qbo_429']:.0f} (worst realm"
                f" {r['qbo_429_worst_realm']:.0f}), HubSpot {r['hs_429']:.0f};"
                f" waits for the budget QBO {r['budget_wait_qbo']:.1f} s,"
                f" HubSpot {r['budget_wait_hs']:.1f} s (summed over requests)\n"
                f"      CPU (cores): workers {c['workers']:.2f}, sandboxes {c['sandboxes']:.2f},"
                f" postgres {c['postgres']:.2f}, redis {c['redis']:.2f}, beat {c['beat']:.2f},"
                f" bench {c['bench']:.2f}; machine busy {c['machine']:.2f} of"
                f" {c['machine_cores']:.0f}; load average {r['load'][0]:.2f}\n"
                f"      per invoice: {r['xacts_per_invoice']:.1f} PostgreSQL transactions"
                f" (pg_stat_database), {1000 * r['worker_cpu_per_invoice']:.1f} ms of worker CPU",
                flush=True,
            )
    if not args.skip_idle:
        base = baseline_rss()
        r = idle(args)
        per = (r["rss_mib"] - base) / r["connections"] * 1024
        print(
            f"idle: 1 worker over {r['connections']} connections (beat polls each every"
            f" {args.idle_poll:g} s; a new HubSpot invoice every {args.trickle:g} s, its webhook to"
            f" the web tier, which sends a task), measured {args.idle_seconds:g} s:\n"
            f"  worker CPU {r['cores']:.3f} cores (web tier {r['web_cores']:.3f}, sandboxes"
            f" {r['sandbox_cores']:.3f}); RSS {r['rss_mib']:.0f} MiB, {base:.0f} MiB serving no"
            f" connection: {per:.0f} KiB per connection; {r['tasks']:.0f} tasks,"
            f" {r['synced']:.0f} invoices synced; machine busy {r['machine']:.2f} cores,"
            f" load average {r['load']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
