"""The command line given odd arguments answers with what to type instead, never a traceback;
and an empty LEDGERBRIDGE_ADMIN_PASSWORD means "generate one", as when it is unset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from stack import free_port_triple

CLI = [sys.executable, "-c", "from ledgerbridge.cli import app; app()"]
ENV = {**os.environ, "COLUMNS": "200"}
ENV.pop("LEDGERBRIDGE_ADMIN_PASSWORD", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backfill", "--since", "13/13/2026", "--dry-run"], "use a date as YYYY-MM-DD"),
        (["demo", "--port", "-1"], "--port"),
        (["demo", "--port", "99999"], "--port"),
        (["demo", "--poll-interval", "0"], "use a number of seconds above 0"),
        (["demo", "--scale", "-5"], "--scale"),
    ],
)
def test_bad_argument_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [*CLI, *args, "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert message in output and "Traceback" not in output, output
    assert not (tmp_path / "data").exists()  # nothing was started


def test_empty_admin_password_is_generated_and_printed(tmp_path: Path) -> None:
    port = free_port_triple()
    log = tmp_path / "demo.log"
    proc = subprocess.Popen(
        [*CLI, "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo")],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**ENV, "LEDGERBRIDGE_ADMIN_PASSWORD": ""},
    )
    try:
        deadline = time.monotonic() + 90
        while "password " not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        password = log.read_text().split("password ", 1)[1].split()[0]
        assert len(password) >= 12
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            answer = client.post(
                "/login",
                data={"username": "admin", "password": password, "csrf_token": token},
            )
            assert answer.status_code in (200, 303)
            assert client.get("/dashboard").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
