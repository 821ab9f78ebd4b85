"""Chaos, process level: the worker is a real `ledgerbridge sync` process, killed with SIGKILL in
the middle of its work (twice) and started again, while both sandboxes (over real sockets) answer
10% 5xx, 5% 429 and 10% commit-then-timeout faults. 200 HubSpot invoices, payments recorded on
both sides. Everything converges: no duplicate invoice, customer or payment anywhere, and every
total and balance equal to the cent on both sides.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.bootstrap import build_runtime, load_sync_settings, save_sync_settings
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore
from servers import run_asgi_server

N_INVOICES = 200
N_CONTACTS = 25
CHAOS = {"error_rate": 0.10, "rate_limit_rate": 0.05, "commit_timeout_rate": 0.10, "retry_after": 0}
CONVERGE_TIMEOUT = 420.0


def assoc(to_id: str, type_id: int) -> list[dict[str, Any]]:
    return [
        {
            "to": {"id": str(to_id)},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


class Worker:
    """`ledgerbridge sync` as its own OS process."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": "1",
            "LEDGERBRIDGE_LEASE_SECONDS": "3",
            "LEDGERBRIDGE_BATCH_SIZE": "25",
        }
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ledgerbridge.cli import app; app()",
                "sync",
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, f"the worker died by itself: see {self.log}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = started = time.monotonic()
    deadline += timeout
    while time.monotonic() < deadline:
        if predicate():
            print(f"{what}: {time.monotonic() - started:.1f}s")
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_killed_worker_under_faults_converges_without_duplicates(tmp_path: Path) -> None:
    hs = hubspot_app(seed="empty")
    qb = quickbooks_app(seed="empty")
    hsb = hs.state.sandbox
    qsb = qb.state.sandbox
    realm = qsb.default_realm_id
    rng = random.Random(2026)
    data_dir = tmp_path / "data"

    with run_asgi_server(hs) as hs_url, run_asgi_server(qb) as qb_url:
        # Connect through both sandboxes' OAuth, exactly as `ledgerbridge demo` does.
        async def connect() -> int:
            runtime = await build_runtime(Settings(data_dir=data_dir))
            try:
                info = await connect_sandboxes(
                    runtime, SandboxEndpoints(hs_url, qb_url, "http://127.0.0.1:9")
                )
                sync = load_sync_settings(runtime.store, info.id).model_copy(
                    update={
                        "backoff_base_seconds": 0.2,
                        "backoff_cap_seconds": 2.0,
                        "max_attempts": 10_000,
                    }
                )
                save_sync_settings(runtime.store, info.id, sync)
                return info.id
            finally:
                await runtime.aclose()

        connection_id = asyncio.run(connect())

        # The data: 25 contacts, 6 products, 200 finished invoices; a third paid in HubSpot.
        products = [
            (
                hsb.create_object(
                    "products", {"name": f"Product {n}", "hs_sku": f"SKU-{n}", "price": p}
                ),
                p,
            )
            for n, p in enumerate(["19.95", "75.00", "89.99", "249.50", "1200.00", "0.33"])
        ]
        contacts = [
            hsb.create_object(
                "contacts",
                {
                    "email": f"buyer{n}@firm{n}.example",
                    "firstname": f"B{n}",
                    "lastname": "Buyer",
                    "company": f"Firm {n % 9}",
                },
            )
            for n in range(N_CONTACTS)
        ]
        invoices: list[str] = []
        hs_payments = 0
        for n in range(N_INVOICES):
            invoice = hsb.create_object(
                "invoices", {"hs_currency": "USD"}, assoc(contacts[n % N_CONTACTS], 177)
            )
            for product, price in rng.sample(products, rng.randint(1, 3)):
                hsb.create_object(
                    "line_items",
                    {"hs_product_id": product, "quantity": str(rng.randint(1, 7)), "price": price},
                    assoc(invoice, 410),
                )
            hsb.update_object("invoices", invoice, {"hs_invoice_status": "open"})
            invoices.append(invoice)
            if n % 3 == 0:
                billed = Decimal(hsb.store.get("invoices", invoice).properties["hs_amount_billed"])
                amount = billed if n % 2 else (billed / 3).quantize(Decimal("0.01"))
                hsb.create_object(
                    "commerce_payments",
                    {
                        "hs_initial_amount": str(amount),
                        "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                        "hs_latest_status": "succeeded",
                        "hs_currency_code": "USD",
                        "hs_payment_method_type": "ach",
                        "hs_processor_type": "hs_payments",
                        "hs_reference_number": f"ST-{n}",
                    },
                    assoc(invoice, 542),
                )
                hs_payments += 1

        for url in (hs_url, qb_url):
            assert (
                httpx.put(
                    f"{url}/_sandbox/faults", json={**CHAOS, "seed": rng.randint(0, 10**6)}
                ).status_code
                == 200
            )

        store = SqlStore(f"sqlite:///{data_dir / 'ledgerbridge.db'}")

        def linked() -> int:
            return sum(
                1
                for i in invoices
                if (lk := store.get_link(connection_id, INVOICE, Side.HUBSPOT, i)) and lk.qbo_id
            )

        worker = Worker(data_dir, tmp_path / "worker.log")
        try:
            worker.start()
            _wait(lambda: linked() >= 60, CONVERGE_TIMEOUT, "the first 60 invoices in QuickBooks")
            worker.kill()  # mid-run: claimed keys, begun write intents, half-written payments
            worker.start()
            _wait(lambda: linked() == N_INVOICES, CONVERGE_TIMEOUT, "every invoice in QuickBooks")

            # Bookkeepers record 50 payments in QuickBooks (some partial); the worker is killed again.
            qbo_payments = 0
            # Invoices HubSpot holds no payment for (a payment on both sides for the same
            # balance is an overpayment, which QuickBooks rightly refuses).
            for i in [inv for n, inv in enumerate(invoices) if n % 3][::2][:50]:
                qbo_id = store.get_link(connection_id, INVOICE, Side.HUBSPOT, i).qbo_id
                row = qsb.get_entity(realm, "Invoice", qbo_id)
                balance = Decimal(str(row["Balance"]))
                if balance <= 0:
                    continue
                amount = balance if rng.random() < 0.5 else (balance / 2).quantize(Decimal("0.01"))
                qsb.create_entity(
                    realm,
                    "Payment",
                    {
                        "CustomerRef": row["CustomerRef"],
                        "TotalAmt": str(amount),
                        "Line": [
                            {
                                "Amount": str(amount),
                                "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}],
                            }
                        ],
                    },
                )
                qbo_payments += 1
            time.sleep(2)
            worker.kill()
            worker.start()

            expected_hs_payments = hs_payments + qbo_payments

            def converged() -> bool:
                hs_count = len(hsb.store.live("commerce_payments"))
                if hs_count != expected_hs_payments:
                    return False
                for i in invoices:
                    props = hsb.store.get("invoices", i).properties
                    qbo_id = props.get("qbo_invoice_id")
                    if not qbo_id or props.get("ledgerbridge_sync_status") != "synced":
                        return False
                    row = qsb.get_entity(realm, "Invoice", qbo_id)
                    if Decimal(str(row["Balance"])) != Decimal(props["hs_balance_due"]):
                        return False
                return True

            _wait(converged, CONVERGE_TIMEOUT, "both sides to agree on every balance")
        finally:
            worker.stop()
            for url in (hs_url, qb_url):
                httpx.put(f"{url}/_sandbox/faults", json={})

        # No duplicates anywhere.
        company = qsb.companies[realm]
        qbo_invoices = list(company.all("Invoice"))
        assert len(qbo_invoices) == N_INVOICES
        assert len({inv["Id"] for inv in qbo_invoices}) == N_INVOICES
        emails = Counter(
            (c.get("PrimaryEmailAddr") or {}).get("Address") for c in company.all("Customer")
        )
        assert len(emails) == N_CONTACTS and max(emails.values()) == 1, emails
        assert len(list(company.all("Payment"))) == hs_payments + qbo_payments
        assert len(hsb.store.live("commerce_payments")) == hs_payments + qbo_payments
        assert len(hsb.store.live("invoices")) == N_INVOICES
        # Every total and balance equal to the cent.
        for i in invoices:
            props = hsb.store.get("invoices", i).properties
            row = qsb.get_entity(realm, "Invoice", props["qbo_invoice_id"])
            assert Decimal(str(row["TotalAmt"])) == Decimal(props["hs_amount_billed"]), i
            assert Decimal(str(row["Balance"])) == Decimal(props["hs_balance_due"]), i
        store.close()
