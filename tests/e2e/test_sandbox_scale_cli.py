"""`ledgerbridge sandbox --seed demo --scale N` serves the generated company on both sides."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from stack import free_port_triple
from test_cli import _start, _stop, _wait_http
from test_sandbox_crash import QB_HEADERS, _qbo_realm

from ledgerbridge.sandbox import demo_data, scale_data


def test_sandbox_scale_option(tmp_path: Path) -> None:
    port = free_port_triple()
    hs, qb = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    args = ["sandbox", "--hubspot-port", str(port), "--quickbooks-port", str(port + 1)]
    args += ["--seed", "demo", "--scale", "300", "--scale-seed", "3"]
    log = tmp_path / "sandbox.log"
    proc = _start(args, log)
    try:
        auth = {"Authorization": "Bearer pat-sandbox"}
        _wait_http(f"{hs}/crm/v3/objects/invoices", headers=auth)
        found = httpx.post(
            f"{hs}/crm/v3/objects/invoices/search", headers=auth, json={"limit": 1}
        ).json()
        generated = [i for i in scale_data.company(300, 3).invoices() if i.origin == "hubspot"]
        demo = [i for i in demo_data.invoices() if i.origin == "hubspot"]
        assert found["total"] == len(demo) + len(generated)
        realm = _qbo_realm(log)
        count = httpx.post(
            f"{qb}/v3/company/{realm}/query",
            content="select count(*) from Customer",
            headers={**QB_HEADERS, "Content-Type": "application/text"},
        ).json()["QueryResponse"]["totalCount"]
        assert count == len(demo_data.people()) + 30
    finally:
        assert _stop(proc, signal.SIGINT) == 0, log.read_text()
