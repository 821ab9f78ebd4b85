"""Database round trips per synced invoice: transactions begun and SQL statements sent by the
store while the engine polls and syncs N finished HubSpot invoices into an empty QBO company, in
rounds of `--batch` keys as a worker task runs them (bench-scale's workers use 20). The
sandboxes run in process, so the figures are the store's own. Counts, not timings.

Usage: python -m bench.transactions [N] [--batch B] [--pg URL] [--kinds]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.fleet import seed_invoices
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.store import SqlStore, TokenCipher, make_engine, migrate
from ledgerbridge.store.roundtrips import RoundTrips, count_round_trips


async def measure(url: str, invoices: int, batch: int) -> tuple[RoundTrips, int]:
    """(round trips while syncing, invoices synced)."""
    hs_app = hubspot_app(seed="empty")
    qb_app = quickbooks_app(seed="empty")
    realm = qb_app.state.sandbox.default_realm_id
    hs_http = in_process_client(hs_app, base_url="http://hubspot.test")
    qb_http = in_process_client(qb_app, base_url="http://qbo.test")
    crm = HubSpotConnector(
        hs_http,
        StaticTokenProvider("pat-sandbox"),
        base_url="http://hubspot.test",
        retry=RetryPolicy(),
    )
    ledger = QuickBooksConnector(
        qb_http,
        StaticTokenProvider("qbo-sandbox-token"),
        realm,
        base_url="http://qbo.test",
        retry=RetryPolicy(),
    )
    store = SqlStore(url, TokenCipher.generate())
    try:
        info = store.create_connection(f"bench-{uuid.uuid4().hex[:6]}", qbo_realm_id=realm)
        await crm.ensure_sync_properties()
        engine = SyncEngine(info.id, crm, ledger, store)
        seed_invoices(hs_app.state.sandbox, invoices, "tx")
        with count_round_trips(store.engine) as trips:
            for _ in range(10 * (invoices // batch + 2)):
                await engine.poll_once()
                claimed = 0
                while True:
                    report = await engine.run_once(batch)
                    claimed += report.claimed
                    if report.claimed < batch:
                        break
                if claimed == 0:
                    break
        synced = sum(
            1 for i in qb_app.state.sandbox.companies[realm].all("Invoice") if i.get("PrivateNote")
        )
        return trips, synced
    finally:
        await hs_http.aclose()
        await qb_http.aclose()
        store.close()


def _pg_schema(base: str) -> tuple[str, str]:
    schema = f"bench_tx_{uuid.uuid4().hex[:8]}"
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop(base: str, schema: str) -> None:
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def report(name: str, trips: RoundTrips, synced: int, kinds: bool) -> None:
    tx, st = trips.per(synced)
    print(
        f"{name:<11} {synced:>5} invoices  {tx:6.1f} transactions/invoice"
        f"  {st:6.1f} statements/invoice  {trips.checkouts / max(1, synced):6.1f} checkouts/invoice"
    )
    if kinds:
        for kind, n in trips.kinds.most_common(25):
            print(f"    {n / max(1, synced):7.2f}  {kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("invoices", nargs="?", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--kinds", action="store_true", help="statements by kind and table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'tx.db'}"
        migrate(url)
        trips, synced = asyncio.run(measure(url, args.invoices, args.batch))
        report("SQLite", trips, synced, args.kinds)
    if not args.no_pg:
        url, schema = _pg_schema(args.pg)
        try:
            migrate(url)
            trips, synced = asyncio.run(measure(url, args.invoices, args.batch))
            report("PostgreSQL", trips, synced, args.kinds)
        finally:
            _drop(args.pg, schema)


if __name__ == "__main__":
    main()
