"""`make bench-reconcile`: reconcile N linked invoices and report API calls and time.

Both sandboxes run in-process (no rate limits while the N invoices are created and synced by
the engine). Then one full reconciliation sweep runs and counts the requests it sends to each
side; from those counts the time the sweep needs under the real limits follows: QuickBooks
allows 500 requests a minute per realm, HubSpot (private app, Professional) 190 per 10 seconds.
The wall time measured here is without any limits (what ledgerbridge itself costs).

Every other invoice also has a QBO payment copied to HubSpot, so the sweep compares N invoices
and N/2 payments; figures are per 1,000 linked invoices (with their 500 payments).

Usage: python -m bench.reconcile [N]   (env BENCH_RECONCILE_N sets the default, 200)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT
from ledgerbridge.engine.reconcile import Reconciler
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.store import SqlStore, TokenCipher, migrate

QBO_PER_MINUTE = 500
HUBSPOT_PER_10S = 190


def _assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def seed_hubspot(sb: Any, n: int) -> None:
    contacts = [
        str(sb.create_object("contacts", {"email": f"buyer{c}@example.com", "firstname": "B"}))
        for c in range(max(1, n // 10))
    ]
    for i in range(n):
        invoice = str(
            sb.create_object(
                "invoices",
                {"hs_currency": "USD", "hs_purchase_order_number": f"PO-{i}"},
                [_assoc(contacts[i % len(contacts)], 177)],
            )
        )
        for pos, (qty, price) in enumerate((("2", "150.00"), ("1", "89.99"))):
            sb.create_object(
                "line_items",
                {
                    "name": f"Service {pos}",
                    "quantity": qty,
                    "price": price,
                    "hs_position_on_quote": str(pos),
                    "hs_line_item_currency_code": "USD",
                },
                [_assoc(invoice, 410)],
            )
        sb.update_object("invoices", invoice, {"hs_invoice_status": "open"})


async def run(n: int) -> None:
    hs_app, qb_app = hubspot_app(seed="empty"), quickbooks_app(seed="empty")
    realm = qb_app.state.sandbox.default_realm_id
    hs_http = in_process_client(hs_app, base_url="http://hubspot.test")
    qb_http = in_process_client(qb_app, base_url="http://qbo.test")
    crm = HubSpotConnector(
        hs_http, StaticTokenProvider("pat-sandbox"), base_url="http://hubspot.test"
    )
    ledger = QuickBooksConnector(
        qb_http, StaticTokenProvider("qbo-sandbox-token"), realm, base_url="http://qbo.test"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        store = SqlStore(url, TokenCipher.generate())
        cid = store.create_connection("bench", qbo_realm_id=realm).id
        await crm.ensure_sync_properties()
        engine = SyncEngine(cid, crm, ledger, store, SyncSettings())
        print(f"creating and syncing {n} HubSpot invoices ...", flush=True)
        seed_hubspot(hs_app.state.sandbox, n)
        for _ in range(50):
            await engine.poll_once()
            if (await engine.run_once(500)).claimed == 0:
                break
        linked = [lk for lk in store.list_links(cid, INVOICE) if lk.qbo_id and lk.hubspot_id]
        print(f"{len(linked)} invoices linked", flush=True)
        # Every other invoice gets a QBO payment, copied to HubSpot by the engine.
        qbo_state = qb_app.state.sandbox
        for link in linked[::2]:
            invoice = qbo_state.get_entity(realm, "Invoice", link.qbo_id)
            qbo_state.create_entity(
                realm,
                "Payment",
                {
                    "CustomerRef": invoice["CustomerRef"],
                    "TotalAmt": "100.00",
                    "Line": [
                        {
                            "Amount": "100.00",
                            "LinkedTxn": [{"TxnId": link.qbo_id, "TxnType": "Invoice"}],
                        }
                    ],
                },
            )
        for _ in range(50):
            await engine.poll_once()
            if (await engine.run_once(500)).claimed == 0:
                break
        print(f"{len(store.list_links(cid, PAYMENT))} payments linked", flush=True)

        reader = ConnectorBulkReader(crm, ledger)
        hs0, qb0 = crm.requests_sent, ledger.requests_sent
        started = time.perf_counter()
        report = await Reconciler(cid, reader, store, SyncSettings()).run(repair=False)
        wall = time.perf_counter() - started
        hs_calls, qb_calls = crm.requests_sent - hs0, ledger.requests_sent - qb0
        per_k = 1000 / max(1, len(linked))
        qbo_minutes = qb_calls / QBO_PER_MINUTE
        hs_minutes = hs_calls / (HUBSPOT_PER_10S * 6)
        print(
            f"full sweep: {report.checked} records checked ({len(linked)} invoices), {report.in_sync} in sync, "
            f"{report.diverged} diverged, {report.orphans} orphans, {report.duplicates} dups"
        )
        print(f"requests: HubSpot {hs_calls}, QuickBooks {qb_calls}, total {hs_calls + qb_calls}")
        print(
            f"per 1,000 linked invoices: HubSpot {hs_calls * per_k:.0f}, "
            f"QuickBooks {qb_calls * per_k:.0f} requests"
        )
        print(
            f"time under the real limits, per 1,000 linked invoices (request budget alone): "
            f"QuickBooks {qbo_minutes * per_k * 60:.1f} s at {QBO_PER_MINUTE}/min, "
            f"HubSpot {hs_minutes * per_k * 60:.1f} s at {HUBSPOT_PER_10S}/10 s"
        )
        print(
            f"wall time here (in-process, no limits): {wall:.2f} s ({wall * per_k:.1f} s per 1,000)"
        )
        # The hourly run: ten invoices edited in HubSpot since the sweep (their events lost).
        sb = hs_app.state.sandbox
        for link in linked[:10]:
            sb.update_object("invoices", link.hubspot_id, {"hs_comments": "edited"})
        hs0, qb0 = crm.requests_sent, ledger.requests_sent
        started = time.perf_counter()
        inc = await Reconciler(cid, reader, store, SyncSettings()).run(
            since=report.started_at, repair=False
        )
        wall = time.perf_counter() - started
        print(
            f"incremental run, 10 invoices edited: {inc.checked} checked, {inc.diverged} "
            f"differing; requests: HubSpot {crm.requests_sent - hs0}, "
            f"QuickBooks {ledger.requests_sent - qb0}; {wall:.2f} s"
        )
        store.close()
    await hs_http.aclose()
    await qb_http.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "n", nargs="?", type=int, default=int(os.environ.get("BENCH_RECONCILE_N", 200))
    )
    args = parser.parse_args()
    asyncio.run(run(args.n))


if __name__ == "__main__":
    main()
