"""Standard QBO invoice fields as mapping targets: TrackingNum, ShipDate, ShipMethodRef,
ShipAddr and SalesTermRef, written from HubSpot properties and read back both ways."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from engine_world import FAILED, HS_TOKEN, SYNCED, World, make_world

from ledgerbridge.engine.fieldmap import CustomFieldMapping, SyncSettings

MAPPED = {
    "tracking_no": "TrackingNum",
    "ship_date": "ShipDate",
    "ship_via": "ShipMethodRef",
    "ship_to": "ShipAddr",
    "payment_terms": "SalesTermRef",
}


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    settings = SyncSettings(
        custom_mappings=[
            *SyncSettings().custom_mappings,
            *(CustomFieldMapping(hubspot_property=p, qbo_field=f) for p, f in MAPPED.items()),
        ]
    )
    w = await make_world(sqlite_db_url, f"engine-std-{uuid.uuid4().hex[:8]}", settings=settings)
    for name in MAPPED:
        response = await w.clients[0].post(
            "/crm/v3/properties/invoices",
            json={
                "name": name,
                "label": name,
                "type": "string",
                "fieldType": "text",
                "groupName": "invoiceinformation",
            },
            headers={"Authorization": f"Bearer {HS_TOKEN}"},
        )
        assert response.status_code == 201, response.text
    yield w
    await w.close()


def _invoice(world: World, **props: str) -> str:
    contact = world.hs.contact(f"ship-{uuid.uuid4().hex[:6]}@std.example", company="Std Co")
    product = world.hs.product("Crate", f"CR-{uuid.uuid4().hex[:6]}", "40.00")
    return world.hs.invoice(contact, [(product, "3", "40.00")], **props)


async def test_standard_fields_reach_qbo_and_come_back(world: World) -> None:
    invoice_id = _invoice(
        world,
        tracking_no="1Z999AA10123456784",
        ship_date="2026-11-20",
        ship_via="UPS Ground",
        ship_to="Dock 4\n12 Harbor Road\nPortland, OR 97201",
        payment_terms="Net 15",
    )

    await world.sync()

    state = world.invoice_state(invoice_id)
    assert state.status is SYNCED, (state.message, state.hint)
    qbo = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo is not None
    assert qbo["TrackingNum"] == "1Z999AA10123456784"
    assert qbo["ShipDate"] == "2026-11-20"
    assert qbo["ShipMethodRef"]["value"] == "UPS Ground"
    assert [qbo["ShipAddr"].get(f"Line{n}") for n in (1, 2, 3)] == [
        "Dock 4",
        "12 Harbor Road",
        "Portland, OR 97201",
    ]
    term = world.qbo.get("Term", qbo["SalesTermRef"]["value"])
    assert term is not None and term["Name"] == "Net 15"

    # A bookkeeper changes the tracking number and the term in QBO: HubSpot follows.
    world.qbo.state.update_entity(
        world.qbo.realm,
        "Invoice",
        {
            "Id": qbo["Id"],
            "SyncToken": qbo["SyncToken"],
            "sparse": True,
            "TrackingNum": "1Z999AA10999999999",
            "SalesTermRef": {
                "value": next(t["Id"] for t in world.qbo.all("Term") if t["Name"] == "Net 30")
            },
        },
    )
    await world.sync()
    props = world.hs.props("invoices", invoice_id)
    assert props["tracking_no"] == "1Z999AA10999999999"
    assert props["payment_terms"] == "Net 30"
    assert props["ship_via"] == "UPS Ground"  # unchanged fields stay as they are
    assert world.invoice_state(invoice_id).status is SYNCED


@pytest.mark.parametrize(
    ("props", "code", "words"),
    [
        ({"payment_terms": "Net 45"}, "unknown_term", "no payment term named 'Net 45'"),
        ({"tracking_no": "T" * 32}, "tracking_num_length", "longer than QuickBooks allows"),
        ({"ship_date": "next Tuesday"}, "ship_date", "is not a date"),
    ],
)
async def test_values_qbo_would_refuse_fail_alone_with_a_fix(
    world: World, props: dict[str, str], code: str, words: str
) -> None:
    bad = _invoice(world, **props)
    good = _invoice(world, tracking_no="OK-1")

    await world.sync()

    state = world.invoice_state(bad)
    assert state.status is FAILED
    assert words in (state.message or "")
    assert state.hint
    assert world.invoice_state(good).status is SYNCED
    assert len(world.qbo.all("Invoice")) == 1  # the bad one created nothing
