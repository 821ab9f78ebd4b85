"""`ledgerbridge sandbox --state-dir` killed with SIGKILL in the middle of a stream of writes comes
back consistent: what it kept of the writes is exactly a prefix of them (nothing half-applied,
nothing out of order), and new records never reuse a kept id."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from stack import free_port_triple
from test_cli import _start, _stop, _wait_http

HS_AUTH = {"Authorization": "Bearer pat-sandbox"}
QB_HEADERS = {
    "Authorization": "Bearer qbo-sandbox-token",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


def _writer(
    hs: str, qb: str, realm: str, done: threading.Event, acked: list[tuple[str, str, str]]
) -> None:
    """Creates a contact then a customer, in turn, until told to stop (or the server dies);
    records each acknowledged write in order."""
    with httpx.Client(timeout=5) as client:
        n = 0
        while not done.is_set():
            n += 1
            try:
                made = client.post(
                    f"{hs}/crm/v3/objects/contacts",
                    headers=HS_AUTH,
                    json={"properties": {"email": f"w{n}@crash.example", "firstname": f"W{n}"}},
                )
                if made.status_code == 201:
                    acked.append(("hubspot", made.json()["id"], f"w{n}@crash.example"))
                made = client.post(
                    f"{qb}/v3/company/{realm}/customer",
                    headers=QB_HEADERS,
                    json={"DisplayName": f"Crash {n}"},
                )
                if made.status_code == 200:
                    acked.append(("quickbooks", made.json()["Customer"]["Id"], f"Crash {n}"))
            except httpx.TransportError:
                return


def _hubspot_emails(hs: str) -> list[str]:
    out, after = [], None
    while True:
        params = {"limit": "100", "properties": "email", **({"after": after} if after else {})}
        page = httpx.get(f"{hs}/crm/v3/objects/contacts", headers=HS_AUTH, params=params).json()
        out += [r["properties"]["email"] for r in page["results"]]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return out


def _qbo_names(qb: str, realm: str) -> list[str]:
    out, start = [], 1
    while True:
        page = httpx.post(
            f"{qb}/v3/company/{realm}/query",
            content=f"select * from Customer startposition {start} maxresults 1000",
            headers={**QB_HEADERS, "Content-Type": "application/text"},
        ).json()["QueryResponse"]
        rows = page.get("Customer", [])
        out += [r["DisplayName"] for r in rows]
        if len(rows) < 1000:
            return out
        start += 1000


def test_sigkill_mid_writes_restarts_to_a_prefix_of_them(tmp_path: Path) -> None:
    port = free_port_triple()
    hs, qb = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    args = ["sandbox", "--hubspot-port", str(port), "--quickbooks-port", str(port + 1)]
    args += ["--seed", "empty", "--state-dir", str(tmp_path / "state")]
    log = tmp_path / "sandbox.log"
    proc = _start(args, log)
    acked: list[tuple[str, str, str]] = []
    done = threading.Event()
    try:
        _wait_http(f"{hs}/crm/v3/objects/contacts", headers=HS_AUTH)
        _wait_http(f"{qb}/.well-known/openid_configuration")
        realm = _qbo_realm(log)
        writer = threading.Thread(target=_writer, args=(hs, qb, realm, done, acked))
        writer.start()
        time.sleep(3)  # several autosaves (every 0.5-1 s) happen while writes stream in
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        done.set()
        if proc.poll() is None:
            proc.kill()
    writer.join(10)
    assert len(acked) > 50, log.read_text()

    proc = _start(args, tmp_path / "sandbox2.log")
    try:
        _wait_http(f"{hs}/crm/v3/objects/contacts", headers=HS_AUTH)
        _wait_http(f"{qb}/.well-known/openid_configuration")
        kept_hs = _hubspot_emails(hs)
        for side, kept in (("hubspot", kept_hs), ("quickbooks", _qbo_names(qb, realm))):
            expected = [label for s, _, label in acked if s == side]
            # a prefix of the acknowledged writes (QuickBooks lists by name, so compare as sets)
            assert sorted(kept) == sorted(expected[: len(kept)]), side
            assert kept, side  # saves happened before the kill
        made = httpx.post(
            f"{hs}/crm/v3/objects/contacts",
            headers=HS_AUTH,
            json={"properties": {"email": "after@crash.example"}},
        ).json()["id"]
        assert made not in {i for s, i, label in acked if s == "hubspot" and label in kept_hs}
        customer = httpx.post(
            f"{qb}/v3/company/{realm}/customer", headers=QB_HEADERS, json={"DisplayName": "After"}
        ).json()["Customer"]["Id"]
        kept_qbo = _qbo_names(qb, realm)
        assert "After" in kept_qbo
        assert customer not in {
            i for s, i, label in acked if s == "quickbooks" and label in kept_qbo
        }
    finally:
        assert _stop(proc, signal.SIGINT) == 0


def _qbo_realm(log: Path) -> str:
    import re

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"realm id: (\d+)", log.read_text())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(log.read_text())
