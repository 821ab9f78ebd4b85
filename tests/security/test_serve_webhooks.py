"""`ledgerbridge serve` as a user runs it (a real process and port) with a real connection and
no webhook secrets: it says at start-up that webhooks for that connection are refused, and a
webhook signed with the public sandbox secret is refused (403) instead of being trusted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from security_helpers import REAL_PORTAL, REAL_REALM, add_connection

from ledgerbridge.bootstrap import SANDBOX_VERIFIER_TOKEN
from ledgerbridge.connectors.quickbooks import webhooks as qbo
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore

CLI = [sys.executable, "-c", "from ledgerbridge.cli import app; app()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_without_secrets_warns_and_refuses_forged_webhooks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = SqlStore.from_settings(Settings(data_dir=data))
    add_connection(store, "Production", False, REAL_REALM, REAL_PORTAL)
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")} | {
        "COLUMNS": "200",
        "LEDGERBRIDGE_ADMIN_PASSWORD": "serve-test-password",
        "LEDGERBRIDGE_QBO_CLIENT_SECRET": "qbo-app-secret",
    }
    port = _free_port()
    log = tmp_path / "serve.log"
    args = ["serve", "--data-dir", str(data), "--port", str(port), "--no-worker"]
    process = subprocess.Popen(
        [*CLI, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        output = " ".join(log.read_text().split())
        assert (
            "HubSpot webhooks for Production are refused: LEDGERBRIDGE_HUBSPOT_CLIENT_SECRET is "
            "not set (changes arrive by polling only)." in output
        )
        assert "QuickBooks webhooks for Production are refused" in output
        body = json.dumps(
            {
                "eventNotifications": [
                    {
                        "realmId": REAL_REALM,
                        "dataChangeEvent": {"entities": [{"name": "Invoice", "id": "1"}]},
                    }
                ]
            }
        ).encode()
        forged = httpx.post(
            f"{url}/webhooks/quickbooks",
            content=body,
            headers={"intuit-signature": qbo.signature(SANDBOX_VERIFIER_TOKEN, body)},
        )
        assert forged.status_code == 403
        assert forged.json()["error"] == (
            "QuickBooks webhooks are refused: LEDGERBRIDGE_QBO_WEBHOOK_VERIFIER_TOKEN is not set"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    store = SqlStore.from_settings(Settings(data_dir=data))
    try:
        connection = store.get_connection_by_name("Production")
        assert connection is not None
        assert store.count_dirty(connection.id) == 0
    finally:
        store.close()
