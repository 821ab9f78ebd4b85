"""The distributed topology as local processes: sandboxes for several companies, the web tier,
N workers and beat, over the local PostgreSQL and Redis (`make cluster-demo`, `make bench-scale`).

    python -m ledgerbridge.cluster --companies 3 --workers 2

It is the compose.yaml topology without Docker: each piece is the same `ledgerbridge` command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledgerbridge.fleet import Company

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/ledgerbridge_cluster"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"


def ensure_database(url: str, *, fresh: bool = False) -> None:
    """Create the PostgreSQL database named in `url` when missing (dropped first if `fresh`)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = target.database
            if fresh:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing answers on port {port}")


@dataclass
class Cluster:
    """Child processes, stopped together (SIGTERM, then SIGKILL) on exit."""

    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, arguments built here
            [sys.executable, "-m", "ledgerbridge.cli_main", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()


def start_sandboxes(
    cluster: Cluster,
    count: int,
    base_port: int,
    *,
    seed: str = "demo",
    rate_limits: bool = False,
    time_scale: float = 1.0,
) -> list[Company]:
    """One `ledgerbridge sandbox` process per company (its own HubSpot portal and QBO company)."""
    companies = []
    for n in range(count):
        hs_port, qb_port = base_port + 2 * n, base_port + 2 * n + 1
        args = [
            "sandbox",
            f"--hubspot-port={hs_port}",
            f"--quickbooks-port={qb_port}",
            f"--seed={seed}",
            f"--time-scale={time_scale}",
        ]
        if rate_limits:
            args.append("--rate-limits")
        cluster.spawn(f"sandbox-{n + 1:03d}", *args)
        companies.append(Company(f"http://127.0.0.1:{hs_port}", f"http://127.0.0.1:{qb_port}"))
    for company in companies:
        wait_port(int(company.hubspot_url.rsplit(":", 1)[1]))
        wait_port(int(company.qbo_url.rsplit(":", 1)[1]))
    return companies


async def connect_all(companies: list[Company], prefix: str = "client") -> list[int]:
    from ledgerbridge.bootstrap import build_runtime
    from ledgerbridge.fleet import connect_fleet
    from ledgerbridge.settings import Settings

    runtime = await build_runtime(Settings())
    try:
        existing = {info.name: info.id for info in runtime.store.list_connections()}
        if len(existing) >= len(companies):
            return list(existing.values())[: len(companies)]
        return await connect_fleet(runtime, companies, prefix=prefix)
    finally:
        await runtime.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8300, help="console; sandboxes from port+10")
    parser.add_argument(
        "--database-url", default=os.environ.get("LEDGERBRIDGE_DATABASE_URL", DEFAULT_DB)
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("LEDGERBRIDGE_BROKER_URL", DEFAULT_BROKER)
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".ledgerbridge-cluster"))
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl-C)")
    args = parser.parse_args(argv)

    ensure_database(args.database_url, fresh=True)
    env = {
        **os.environ,
        "LEDGERBRIDGE_DATABASE_URL": args.database_url,
        "LEDGERBRIDGE_BROKER_URL": args.broker_url,
        # One rate budget per realm and portal shared by every worker (connectors/budget_redis.py).
        "LEDGERBRIDGE_BUDGET_REDIS_URL": os.environ.get(
            "LEDGERBRIDGE_BUDGET_REDIS_URL", args.broker_url
        ),
        "LEDGERBRIDGE_DATA_DIR": str(args.data_dir.absolute()),
        "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": os.environ.get(
            "LEDGERBRIDGE_POLL_INTERVAL_SECONDS", "5"
        ),
        "LEDGERBRIDGE_ADMIN_PASSWORD": os.environ.get(
            "LEDGERBRIDGE_ADMIN_PASSWORD", "cluster-demo"
        ),
        "LEDGERBRIDGE_LOG_FORMAT": "json",
    }
    os.environ.update(env)
    cluster = Cluster(env, args.data_dir / "logs")
    try:
        companies = start_sandboxes(cluster, args.companies, args.port + 10)
        ids = asyncio.run(connect_all(companies))
        cluster.spawn("web", "serve", "--no-worker", f"--port={args.port}")
        for n in range(args.workers):
            cluster.spawn(
                f"worker-{n + 1}",
                "worker",
                f"--name=worker-{n + 1}@%h",
                f"--metrics-port={args.port + 1 + n}",
            )
        cluster.spawn("beat", "beat")
        wait_port(args.port)
        print(
            f"console     http://127.0.0.1:{args.port}  (admin / {env['LEDGERBRIDGE_ADMIN_PASSWORD']})"
        )
        print(f"overview    http://127.0.0.1:{args.port}/overview")
        print(
            f"metrics     http://127.0.0.1:{args.port}/metrics (web), "
            f"ports {args.port + 1}..{args.port + args.workers} (workers)"
        )
        print(f"connections {ids}, {args.workers} workers, beat; logs in {cluster.log_dir}")
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            dead = [n for n, p in cluster.procs.items() if p.poll() is not None]
            if dead:
                raise SystemExit(f"stopped unexpectedly: {', '.join(dead)} (see the logs)")
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
