"""The HubSpot sandbox as an importable app: in-process use through httpx.ASGITransport, the demo
seed, persistence across restarts, reset, and the Python-level state API."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ledgerbridge.sandbox import demo_data
from ledgerbridge.sandbox.hubspot import create_app
from servers import run_asgi_server

AUTH = {"Authorization": "Bearer pat-sandbox"}


async def test_in_process_through_asgi_transport() -> None:
    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hubspot.test", headers=AUTH
    ) as client:
        made = await client.post(
            "/crm/v3/objects/contacts", json={"properties": {"email": "a@x.example"}}
        )
        assert made.status_code == 201
        cid = made.json()["id"]
        page = await client.get(
            "/crm/v3/objects/contacts",
            params=[("properties", "email"), ("properties", "firstname")],
        )
        assert page.json()["results"][0]["properties"]["email"] == "a@x.example"
        assert (
            await client.get(
                f"/crm/v3/objects/contacts/{cid}", headers={"Authorization": "Bearer x"}
            )
        ).status_code == 401
        missing = await client.get("/crm/v3/objects/contacts/999999")
        assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
        bad_type = await client.get("/crm/v3/objects/widgets")
        assert bad_type.status_code == 400 and "infer object type" in bad_type.json()["message"]
        bad_json = await client.post(
            "/crm/v3/objects/contacts",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert bad_json.status_code == 400 and bad_json.json()["category"] == "VALIDATION_ERROR"


def test_state_api_for_tests_and_seeding() -> None:
    sb = create_app().state.sandbox
    contact = sb.create_object("contact", {"email": "a@x.example"})
    company = sb.create_object("0-2", {"name": "Acme"})
    added = sb.associate("contacts", contact, "companies", company, 1)
    assert {t.type_id for t in added} == {279, 1}
    assert sb.get_object("contacts", contact).properties["email"] == "a@x.example"
    assert sb.get_object("contacts", "a@x.example", id_property="email").id == contact
    assert [r.id for r in sb.linked(sb.get_object("companies", company), "contacts")] == [contact]
    sb.unassociate("contacts", contact, "companies", company)
    assert sb.linked(sb.get_object("companies", company), "contacts") == []
    with pytest.raises(ValueError):
        create_app(seed="bogus")


def test_demo_seed_is_consistent_with_the_shared_data_set() -> None:
    sb = create_app(seed="demo").state.sandbox
    people = demo_data.people()
    contacts = sb.store.live("contacts")
    assert len(contacts) == len(people) >= 20 and len(sb.store.live("companies")) == len(people)
    assert {c.properties["email"] for c in contacts} == {p.email for p in people}
    for c in contacts:
        (company,) = sb.linked(c, "companies")
        assert 1 in sb.graph.targets("contacts", c.id, "companies")[company.id]  # primary company
    products = {p.properties["hs_sku"]: p for p in sb.store.live("products")}
    assert set(products) == {p["sku"] for p in demo_data.PRODUCTS}
    expected = [i for i in demo_data.invoices() if i.origin == "hubspot"]
    invoices = sb.store.live("invoices")
    assert len(invoices) == len(expected) >= 50
    statuses = Counter(
        i.properties["hs_invoice_status"] + "/" + i.properties["hs_payment_status"]
        for i in invoices
    )
    want = Counter(
        {
            "draft": "draft/unpaid",
            "open": "open/unpaid",
            "paid": "paid/paid",
            "partially_paid": "open/partially_paid",
            "voided": "voided/unpaid",
        }[i.status]
        for i in expected
    )
    assert statuses == want
    for inv, spec in zip(sorted(invoices, key=lambda r: int(r.id)), expected, strict=True):
        lines = sb.linked(inv, "line_items")
        assert sorted(li.properties["hs_sku"] for li in lines) == sorted(
            li.sku for li in spec.lines
        )
        assert all(
            li.properties["hs_product_id"] == products[li.properties["hs_sku"]].id for li in lines
        )
        assert inv.properties.get("hs_purchase_order_number") == spec.po_number
        assert len(sb.linked(inv, "contacts")) == 1
        gross = sum((li.quantity * li.unit_price for li in spec.lines), Decimal(0))
        assert Decimal(inv.properties["hs_subtotal"]) == gross
        assert bool(sb.linked(inv, "discounts")) == bool(spec.discount_percent)
        if spec.status == "paid":
            assert inv.properties["hs_balance_due"] == "0.00"
        if spec.status == "partially_paid":
            assert Decimal(inv.properties["hs_amount_paid"]) == spec.payments[0]
    # QuickBooks-origin invoices stay in QBO.
    assert len(sb.store.live("commerce_payments")) == sum(len(i.payments) for i in expected)


def test_persistence_across_restarts(tmp_path: Path) -> None:
    app = create_app(state_dir=tmp_path)
    with run_asgi_server(app) as base_url:
        made = httpx.post(
            f"{base_url}/crm/v3/objects/contacts",
            headers=AUTH,
            json={"properties": {"email": "keep@x.example"}},
        )
        assert made.status_code == 201
        httpx.post(
            f"{base_url}/crm/v3/properties/contacts",
            headers=AUTH,
            json={
                "name": "qbo_customer_id",
                "label": "QBO id",
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation",
                "hasUniqueValue": True,
            },
        ).raise_for_status()
        httpx.post(
            f"{base_url}/crm/v4/associations/contacts/companies/labels",
            headers=AUTH,
            json={"label": "Billing", "name": "billing"},
        ).raise_for_status()
    assert (tmp_path / "hubspot.json").exists()  # written on shutdown at the latest

    again = create_app(
        state_dir=tmp_path, seed="demo"
    ).state.sandbox  # the snapshot wins over the seed
    assert [c.properties["email"] for c in again.store.live("contacts")] == ["keep@x.example"]
    assert again.props.get("contacts", "qbo_customer_id")["hasUniqueValue"] is True
    assert any(t.label == "Billing" for t in again.graph.types_between("contacts", "companies"))
    new_id = again.create_object("contacts", {"email": "second@x.example"})
    assert int(new_id) > int(made.json()["id"])  # ids keep counting after a restart


def test_in_memory_without_state_dir_and_reset(tmp_path: Path) -> None:
    app = create_app(seed="demo")
    sb = app.state.sandbox
    assert sb.store.live("invoices")
    with run_asgi_server(app) as base_url:
        assert (
            httpx.post(f"{base_url}/_sandbox/reset", json={"seed": "empty"}).json()["seed"]
            == "empty"
        )
        assert sb.store.live("invoices") == []
        assert httpx.post(f"{base_url}/_sandbox/reset", json={"seed": "nope"}).status_code == 400
        health = httpx.get(f"{base_url}/_sandbox/health").json()
        assert health["status"] == "ok"
    assert list(tmp_path.iterdir()) == []
