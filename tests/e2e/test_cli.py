"""The command line as a user runs it: real processes, real ports, signals.

- `ledgerbridge sandbox` serves both emulators, keeps state across restarts with --state-dir, and
  stops on Ctrl-C (SIGINT).
- `ledgerbridge demo` comes up (healthz 200), syncs the demo data (the euro invoice fails
  visibly), answers `status`, `failures`, `retry`, `sync --once` and `backfill --dry-run` from
  another process, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from stack import free_port_triple

CLI = [sys.executable, "-c", "from ledgerbridge.cli import app; app()"]
ENV = {**os.environ, "COLUMNS": "200", "LEDGERBRIDGE_ADMIN_PASSWORD": "cli-test-password"}


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*CLI, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=ENV)


def _cli(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _wait_http(
    url: str, timeout: float = 60, headers: dict[str, str] | None = None
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, headers=headers, timeout=5)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s")


def _stop(proc: subprocess.Popen[bytes], sig: int) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the process did not stop within 30 s") from None


def test_sandbox_command_serves_persists_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port_triple()
    hs, qb = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    args = [
        "sandbox",
        "--hubspot-port",
        str(port),
        "--quickbooks-port",
        str(port + 1),
        "--seed",
        "demo",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    log = tmp_path / "sandbox.log"
    proc = _start(args, log)
    try:
        auth = {"Authorization": "Bearer pat-sandbox"}
        contacts = _wait_http(f"{hs}/crm/v3/objects/contacts?limit=100", headers=auth).json()[
            "results"
        ]
        assert len(contacts) >= 20
        created = httpx.post(
            f"{hs}/crm/v3/objects/contacts",
            headers=auth,
            json={"properties": {"email": "persist@state.example"}},
        ).json()["id"]
        discovery = _wait_http(f"{qb}/.well-known/openid_configuration").json()
        assert discovery["token_endpoint"].startswith(qb)
    finally:
        assert _stop(proc, signal.SIGINT) == 0, log.read_text()
    realm = re.search(r"realm id: (\d+)", log.read_text())
    assert realm, log.read_text()

    proc = _start(args, tmp_path / "sandbox2.log")
    try:
        again = _wait_http(
            f"{hs}/crm/v3/objects/contacts/{created}?properties=email", headers=auth
        ).json()
        assert again["properties"]["email"] == "persist@state.example"
        invoices = httpx.post(
            f"{qb}/v3/company/{realm.group(1)}/query",
            content="select count(*) from Invoice",
            headers={
                "Authorization": "Bearer qbo-sandbox-token",
                "Accept": "application/json",
                "Content-Type": "application/text",
            },
        ).json()
        assert invoices["QueryResponse"]["totalCount"] >= 8
    finally:
        assert _stop(proc, signal.SIGINT) == 0


@pytest.mark.slow
def test_demo_command_and_the_operator_commands(tmp_path: Path) -> None:
    port = free_port_triple()
    data = str(tmp_path / "demo")
    log = tmp_path / "demo.log"
    proc = _start(["demo", "--port", str(port), "--data-dir", data, "--poll-interval", "2"], log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90)
        assert "admin" in log.read_text() and "cli-test-password" not in log.read_text()
        login = httpx.get(f"http://127.0.0.1:{port}/login")
        assert login.status_code == 200 and "password" in login.text.lower()

        # The demo's first sync settles: everything synced but the euro invoice.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = _cli("status", "--data-dir", data)
            row = next((line for line in status.splitlines() if "demo" in line), "")
            cells = [c.strip() for c in row.split("│") if c.strip()]
            # connection, health, pending, synced, failed, excluded, blocked, queued
            if (
                cells[1:]
                and cells[1] == "ok"
                and cells[4] == "1"
                and int(cells[3]) > 50
                and cells[2] == "0"
            ):
                break
            time.sleep(2)
        else:
            raise AssertionError(status)

        failures = _cli("failures", "--data-dir", data)
        assert "USD" in failures and "multicurrency" in failures.lower()
        row_id = re.search(r"│\s*(\d+)\s*│", failures)
        assert row_id, failures
        assert "1 records queued" in _cli("retry", "--all", "--data-dir", data)
        # The worker tries it again, and it fails again with the same fix: then retry by id.
        deadline = time.monotonic() + 60
        while "multicurrency" not in _cli("failures", "--data-dir", data).lower():
            assert time.monotonic() < deadline, "the retried invoice did not fail again"
            time.sleep(1)
        assert "queued invoice" in _cli("retry", row_id.group(1), "--data-dir", data)

        once = _cli("sync", "--once", "--data-dir", data)
        assert "demo:" in once and "failed" in once
        preview = _cli("backfill", "--dry-run", "--data-dir", data)
        assert "dry run: nothing was written" in preview and "Backfill preview" in preview
        assert "under QuickBooks' rate limits" in preview
    finally:
        code = _stop(proc, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    assert "ledgerbridge stopped" in log.read_text()
