"""The Celery adapter runs the same engine: a task sent through a real Redis broker syncs a
finished HubSpot invoice into QuickBooks (sandboxes over real sockets, SQLite store)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from ledgerbridge.workers import celery_app
from servers import run_asgi_server

BROKER = "redis://127.0.0.1:6379/15"


def _assoc(to_id: str, type_id: int) -> list[dict[str, object]]:
    return [
        {
            "to": {"id": to_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


@pytest.fixture
def broker() -> str:
    try:
        redis.Redis.from_url(BROKER).ping()
    except redis.exceptions.ConnectionError as exc:  # CI starts Redis; say so plainly here
        pytest.fail(f"Redis is not running at {BROKER}: {exc}")
    return BROKER


def test_celery_task_runs_a_sync_round(
    tmp_path: Path, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs, qb = hubspot_app(seed="empty"), quickbooks_app(seed="empty")
    sb = hs.state.sandbox
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LEDGERBRIDGE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LEDGERBRIDGE_BROKER_URL", broker)
    with run_asgi_server(hs) as hs_url, run_asgi_server(qb) as qb_url:

        async def connect() -> int:
            runtime = await build_runtime(Settings())
            try:
                return (
                    await connect_sandboxes(
                        runtime, SandboxEndpoints(hs_url, qb_url, "http://127.0.0.1:9")
                    )
                ).id
            finally:
                await runtime.aclose()

        connection_id = asyncio.run(connect())
        contact = sb.create_object(
            "contacts", {"email": "celery@worker.example", "firstname": "Cel"}
        )
        product = sb.create_object(
            "products", {"name": "Stalk", "hs_sku": "CEL-1", "price": "4.20"}
        )
        invoice = sb.create_object("invoices", {"hs_currency": "USD"}, _assoc(contact, 177))
        sb.create_object(
            "line_items",
            {"hs_product_id": product, "quantity": "5", "price": "4.20"},
            _assoc(invoice, 410),
        )
        sb.update_object("invoices", invoice, {"hs_invoice_status": "open"})

        app = celery_app.make_celery(Settings())
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            app.send_task("ledgerbridge.sync_round", args=[connection_id])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                props = sb.store.get("invoices", invoice).properties
                if props.get("ledgerbridge_sync_status") == "synced":
                    break
                time.sleep(0.2)
        props = sb.store.get("invoices", invoice).properties
        assert props.get("ledgerbridge_sync_status") == "synced"
        qbo_invoice = qb.state.sandbox.get_entity(
            qb.state.sandbox.default_realm_id, "Invoice", props["qbo_invoice_id"]
        )
        assert str(qbo_invoice["TotalAmt"]) in ("21.0", "21.00", "21")
