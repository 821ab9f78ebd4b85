"""The QBO sandbox in-process (httpx.ASGITransport): seeds, persistence, admin API, wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ledgerbridge.sandbox import demo_data
from ledgerbridge.sandbox.quickbooks import create_app
from ledgerbridge.sandbox.quickbooks.seed import DEFAULT_ITEMS
from ledgerbridge.sandbox.quickbooks.webhooks import sign
from ledgerbridge.sandbox.quickbooks.wire import dumps, loads

AUTH = {"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"}


@pytest.fixture
async def demo() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    app = create_app(seed="demo")
    realm = app.state.sandbox.default_realm_id
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://qbo", headers=AUTH
    ) as client:
        yield app, client, f"/v3/company/{realm}"


async def _query(client: httpx.AsyncClient, base: str, text: str) -> dict:
    response = await client.post(
        f"{base}/query", content=text, headers={"Content-Type": "application/text"}
    )
    assert response.status_code == 200, response.text
    return loads(response.text)["QueryResponse"]


async def test_demo_seed_matches_the_shared_data_set(
    demo: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    _, client, base = demo
    customers = (await _query(client, base, "select * from Customer maxresults 1000"))["Customer"]
    by_email = {c["PrimaryEmailAddr"]["Address"]: c for c in customers}
    for person in demo_data.people():
        assert by_email[person.email]["DisplayName"] == person.company
    items = (await _query(client, base, "select *, Sku from Item maxresults 1000"))["Item"]
    seeded_items = [i for i in items if i["Name"] not in DEFAULT_ITEMS]
    assert sorted(i["Name"] for i in items if i["Name"] in DEFAULT_ITEMS) == sorted(DEFAULT_ITEMS)
    assert {i["Sku"]: Decimal(str(i["UnitPrice"])) for i in seeded_items} == {
        p["sku"]: Decimal(p["price"]) for p in demo_data.PRODUCTS
    }
    qbo_origin = [i for i in demo_data.invoices() if i.origin == "quickbooks"]
    invoices = (await _query(client, base, "select * from Invoice maxresults 1000"))["Invoice"]
    assert len(invoices) == len(qbo_origin)  # HubSpot-origin invoices are left to the sync
    for seeded, invoice in zip(
        qbo_origin, sorted(invoices, key=lambda i: int(i["Id"])), strict=True
    ):
        total, balance = Decimal(str(invoice["TotalAmt"])), Decimal(str(invoice["Balance"]))
        assert invoice["CustomerRef"]["name"] == demo_data.people()[seeded.person_index].company
        if seeded.status == "paid":
            assert balance == 0 and invoice["LinkedTxn"]
        elif seeded.status == "partially_paid":
            assert 0 < balance < total
        else:
            assert balance == total
        po = {f["Name"]: f.get("StringValue") for f in invoice["CustomField"]}["PO Number"]
        assert po == seeded.po_number
    payments = (await _query(client, base, "select count(*) from Payment"))["totalCount"]
    assert payments == sum(len(i.payments) for i in qbo_origin)


async def test_state_persists_across_restarts(tmp_path: Path) -> None:
    app = create_app(state_dir=tmp_path)
    state = app.state.sandbox
    realm = state.default_realm_id
    customer = state.create_entity(realm, "Customer", {"DisplayName": "Persisted"})
    code = state.oauth.issue_code(
        "sandbox-client-id", "http://localhost/cb", "com.intuit.quickbooks.accounting", realm
    )
    tokens = state.oauth.exchange(
        "sandbox-client-id", {"grant_type": "authorization_code", "code": code}
    )
    state.save()
    again = create_app(state_dir=tmp_path).state.sandbox
    assert again.default_realm_id == realm
    assert again.get_entity(realm, "Customer", customer["Id"])["DisplayName"] == "Persisted"
    assert again.oauth.check_access(tokens["access_token"])[0] == realm
    created = again.create_entity(realm, "Customer", {"DisplayName": "Next"})
    assert int(created["Id"]) == int(customer["Id"]) + 1  # id counters survive too


async def test_autosave_writes_changes_while_the_app_runs(tmp_path: Path) -> None:
    state = create_app(state_dir=tmp_path).state.sandbox
    state.autosave_interval = 0.01
    stop = asyncio.Event()
    task = asyncio.create_task(state.autosave(stop))
    await asyncio.sleep(0)
    state.create_entity(state.default_realm_id, "Customer", {"DisplayName": "Buffered"})
    assert "Buffered" not in state.snapshot_path.read_text()  # saved by the loop, not inline
    stop.set()
    await task
    assert "Buffered" in state.snapshot_path.read_text()


async def test_admin_api(demo: tuple[FastAPI, httpx.AsyncClient, str]) -> None:
    app, client, base = demo
    added = (await client.post("/_sandbox/companies", json={"seed": "empty"})).json()["realmId"]
    summary = (await client.get("/_sandbox/state")).json()
    assert added in summary["realms"] and summary["realms"][added]["Account"] > 5
    assert (await client.get(f"/v3/company/{added}/preferences")).status_code == 200
    prefs = await client.put(
        "/_sandbox/preferences", json={"realmId": added, "MultiCurrencyEnabled": True}
    )
    assert prefs.json()["Preferences"]["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    throttle = (
        await client.put("/_sandbox/throttle", json={"enabled": True, "per_minute": 3})
    ).json()
    assert throttle["enabled"] is True and throttle["per_minute"] == 3
    statuses = [(await client.get(f"{base}/preferences")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    await client.put("/_sandbox/throttle", json={"enabled": False})
    fresh = (await client.post("/_sandbox/reset", json={"seed": "empty"})).json()["realmId"]
    assert list((await client.get("/_sandbox/state")).json()["realms"]) == [fresh]
    assert app.state.sandbox.default_realm_id == fresh
    faults = (
        await client.put("/_sandbox/faults", json={"error_rate": 0.0, "latency_ms": 1})
    ).json()
    assert faults["plan"]["latency_ms"] == 1


async def test_webhooks_in_process_with_a_transport(
    demo: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    app, client, base = demo
    received: list[tuple[bytes, str]] = []
    receiver = FastAPI()

    @receiver.post("/hooks")
    async def hooks(request: Request) -> Response:
        received.append((await request.body(), request.headers["intuit-signature"]))
        return Response(status_code=200)

    state = app.state.sandbox
    state.webhooks.transport = httpx.ASGITransport(app=receiver)
    await client.put(
        "/_sandbox/webhooks",
        json={"url": "http://receiver/hooks", "format": "cloudevents", "verifier_token": "vt"},
    )
    await client.post(f"{base}/customer", json={"DisplayName": "Webhook Person"})
    assert await state.flush_webhooks() == 1
    body, signature = received[0]
    assert signature == sign(body, "vt")
    assert json.loads(body)[0]["type"] == "qbo.customer.created.v1"


def test_wire_money_format() -> None:
    assert dumps(
        {
            "TotalAmt": Decimal("100.00"),
            "Qty": Decimal("4.5"),
            "Zero": Decimal("0.00"),
            "n": 3,
            "s": "Amy's",
            "ok": True,
            "none": None,
        }
    ) == ('{"TotalAmt":100.00,"Qty":4.5,"Zero":0,"n":3,"s":"Amy\'s","ok":true,"none":null}')
    assert loads('{"a": 0.1}')["a"] == Decimal("0.1")
