"""The whole sync story, end to end over real sockets: `ledgerbridge demo`'s stack (both sandboxes,
webhooks, the worker, the console's front app) with an empty portal and company, driven through
the APIs' REST endpoints as HubSpot and QuickBooks users' tools would.

Polling is set to once a minute, so the quick convergence asserted here comes from the signed
webhooks both sandboxes deliver (the demo promises under 10 seconds).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from stack import DemoStack, HubSpotRest, QboRest, new_uid, wait_for

from ledgerbridge.engine.fieldmap import CustomFieldMapping, ProductNotFoundPolicy
from ledgerbridge.engine.filters import FilterOp, FilterRule

SYNC_PROPS = [
    "ledgerbridge_sync_status",
    "ledgerbridge_sync_error",
    "qbo_invoice_id",
    "qbo_doc_number",
    "hs_amount_billed",
    "hs_balance_due",
    "hs_amount_paid",
    "hs_invoice_status",
    "hs_currency",
]
LATENCY_BUDGET = 10.0


def _settle(
    hs: HubSpotRest, invoice_id: str, status: str = "synced", timeout: float = LATENCY_BUDGET
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        props = hs.get("invoices", invoice_id, SYNC_PROPS)["properties"]
        return props if props.get("ledgerbridge_sync_status") == status else None

    return wait_for(check, timeout, what=f"HubSpot invoice {invoice_id} to be {status}")


def _set(demo_stack: DemoStack, **changes: Any) -> None:
    conn = demo_stack.connection
    demo_stack.runtime.update_sync_settings(conn.id, conn.sync_settings.model_copy(update=changes))


def test_console_front_is_healthy(demo_stack: DemoStack) -> None:
    import httpx

    assert httpx.get(f"{demo_stack.console_url}/healthz").json()["ready"] is True


def test_finished_hubspot_invoice_reaches_quickbooks_within_seconds(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    contact = hs.contact(
        f"ana.{uid}@harbor.example", "Ana", "Silva", company=f"Harbor Coffee {uid}"
    )
    beans = hs.product(f"Beans {uid}", f"BEAN-{uid}", "12.35")
    mill = hs.product(f"Mill {uid}", f"MILL-{uid}", "249.99")
    started = time.monotonic()
    invoice = hs.invoice(
        contact,
        [(beans, "3", "12.35"), (mill, "1", "249.99")],
        discount_percent="10",
        hs_purchase_order_number=f"PO-{uid}",
        hs_due_date="2026-12-31",
    )
    props = _settle(hs, invoice)
    elapsed = time.monotonic() - started
    assert elapsed < LATENCY_BUDGET

    qbo_invoice = qbo.get("Invoice", props["qbo_invoice_id"])
    # (3 x 12.35 + 249.99) = 287.04; 10% off = 28.70; total 258.34, on both sides, to the cent.
    assert Decimal(props["hs_amount_billed"]) == Decimal("258.34")
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal("258.34")
    assert qbo_invoice["DocNumber"] == props["qbo_doc_number"]
    customer = qbo.get("Customer", qbo_invoice["CustomerRef"]["value"])
    assert customer["PrimaryEmailAddr"]["Address"] == f"ana.{uid}@harbor.example"
    po_fields = [
        f for f in qbo_invoice.get("CustomField", []) if f.get("StringValue") == f"PO-{uid}"
    ]
    assert po_fields, qbo_invoice.get("CustomField")
    skus = {
        qbo.get("Item", line["SalesItemLineDetail"]["ItemRef"]["value"]).get("Sku")
        for line in qbo_invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    }
    assert skus == {f"BEAN-{uid}", f"MILL-{uid}"}
    assert qbo_invoice["DueDate"] == "2026-12-31"


def test_quickbooks_invoice_and_payments_flow_to_hubspot(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    customer = qbo.create(
        "Customer",
        {
            "DisplayName": f"Fjord Robotics {uid}",
            "PrimaryEmailAddr": {"Address": f"ops.{uid}@fjord.example"},
        },
    )
    income = next(a for a in qbo.query("select * from Account") if a.get("AccountType") == "Income")
    item = qbo.create(
        "Item",
        {
            "Name": f"Robot arm {uid}",
            "Type": "Service",
            "Sku": f"ARM-{uid}",
            "UnitPrice": 100,
            "IncomeAccountRef": {"value": income["Id"]},
        },
    )
    started = time.monotonic()
    invoice = qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 300.0,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 3,
                        "UnitPrice": 100,
                    },
                }
            ],
        },
    )

    def in_hubspot() -> dict[str, Any] | None:
        found = hs.search(
            "invoices",
            [{"propertyName": "qbo_invoice_id", "operator": "EQ", "value": invoice["Id"]}],
            SYNC_PROPS,
        )
        # HubSpot has no multi-object transaction: the invoice exists a moment before its lines.
        done = [
            r
            for r in found
            if Decimal(r["properties"].get("hs_amount_billed") or "0") == Decimal("300")
        ]
        return done[0] if done else None

    record = wait_for(in_hubspot, LATENCY_BUDGET, what="the QBO invoice in HubSpot")
    assert time.monotonic() - started < LATENCY_BUDGET
    assert Decimal(record["properties"]["hs_amount_billed"]) == Decimal("300.00")
    full = hs.get("invoices", record["id"], SYNC_PROPS, associations=["contacts", "deals"])
    assert not full.get("associations", {}).get("deals")  # never associated with a deal
    contacts = full["associations"]["contacts"]["results"]
    assert (
        hs.get("contacts", contacts[0]["id"], ["email"])["properties"]["email"]
        == f"ops.{uid}@fjord.example"
    )

    # A partial payment in QBO: HubSpot shows the payment and the right balance, still open.
    qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 120.5,
            "Line": [
                {"Amount": 120.5, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )

    def balance(expected: str) -> dict[str, Any] | None:
        props = hs.get("invoices", record["id"], SYNC_PROPS)["properties"]
        return props if Decimal(props.get("hs_balance_due") or "-1") == Decimal(expected) else None

    props = wait_for(
        lambda: balance("179.50"), LATENCY_BUDGET, what="the partial payment in HubSpot"
    )
    assert props["hs_invoice_status"] == "open"
    # The rest: paid.
    qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 179.5,
            "Line": [
                {"Amount": 179.5, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    props = wait_for(
        lambda: balance("0.00") or balance("0"), LATENCY_BUDGET, what="the invoice paid in HubSpot"
    )
    assert props["hs_invoice_status"] == "paid"
    payments = hs.get("invoices", record["id"], [], associations=["commerce_payments"])
    assert len(payments["associations"]["commerce_payments"]["results"]) == 2


def test_one_payment_across_two_invoices_is_split(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    contact = hs.contact(f"li.{uid}@ion.example", "Li", "Wei", company=f"Ion Labs {uid}")
    product = hs.product(f"Audit {uid}", f"AUD-{uid}", "400.00")
    first = hs.invoice(contact, [(product, "1", "400.00")])
    second = hs.invoice(contact, [(product, "2", "400.00")])
    q1 = _settle(hs, first)["qbo_invoice_id"]
    q2 = _settle(hs, second)["qbo_invoice_id"]
    customer_id = qbo.get("Invoice", q1)["CustomerRef"]["value"]
    qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer_id},
            "TotalAmt": 1000,
            "Line": [
                {"Amount": 400, "LinkedTxn": [{"TxnId": q1, "TxnType": "Invoice"}]},
                {"Amount": 600, "LinkedTxn": [{"TxnId": q2, "TxnType": "Invoice"}]},
            ],
        },
    )

    def paid(invoice_id: str, balance: str, status: str) -> bool:
        props = hs.get("invoices", invoice_id, SYNC_PROPS)["properties"]
        return (
            Decimal(props["hs_balance_due"]) == Decimal(balance)
            and props["hs_invoice_status"] == status
        )

    wait_for(lambda: paid(first, "0", "paid"), LATENCY_BUDGET, what="first invoice paid")
    wait_for(
        lambda: paid(second, "200.00", "open"), LATENCY_BUDGET, what="second invoice partly paid"
    )


def test_euro_invoice_into_usd_company_fails_visibly_and_creates_nothing(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    contact = hs.contact(f"eva.{uid}@berlin.example", "Eva", "Klein", company=f"Klein GmbH {uid}")
    product = hs.product(f"Workshop {uid}", f"WS-{uid}", "900.00")
    invoices_before = qbo.count("Invoice")
    customers_before = qbo.count("Customer")
    invoice = hs.invoice(contact, [(product, "1", "900.00")], currency="EUR")
    props = _settle(hs, invoice, status="failed")
    assert "USD" in props["ledgerbridge_sync_error"]
    assert not props.get("qbo_invoice_id")
    assert qbo.count("Invoice") == invoices_before
    assert qbo.count("Customer") == customers_before  # nothing half-written either
    failing = demo_stack.runtime.store.list_failures(limit=200).rows
    row = next(r for r in failing if r.state.key.source_id == invoice)
    assert row.state.category == "validation" and "multicurrency" in (row.state.hint or "").lower()


def test_filters_exclude_with_the_rule_that_excluded(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    _set(demo_stack, filters=[FilterRule(field="amount", op=FilterOp.GTE, value="50")])
    try:
        contact = hs.contact(f"tom.{uid}@small.example", "Tom", "Small")
        product = hs.product(f"Sticker {uid}", f"STK-{uid}", "2.00")
        invoices_before = qbo.count("Invoice")
        invoice = hs.invoice(contact, [(product, "5", "2.00")])
        _settle(hs, invoice, status="excluded")
        state = next(
            r.state
            for r in demo_stack.runtime.store.find_states(search=invoice, limit=50).rows
            if r.state.key.source_id == invoice
        )
        assert "Amount" in (state.message or "") and "50" in (state.message or "")
        assert qbo.count("Invoice") == invoices_before
    finally:
        _set(demo_stack, filters=[])


def test_custom_mapping_to_a_quickbooks_custom_field(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    r = hs.http.post(
        "/crm/v3/properties/invoices",
        json={
            "name": "project_code",
            "label": "Project code",
            "type": "string",
            "fieldType": "text",
            "groupName": "invoiceinformation",
        },
    )
    assert r.status_code in (201, 409), r.text
    conn = demo_stack.connection
    mappings = [
        *conn.sync_settings.custom_mappings,
        CustomFieldMapping(hubspot_property="project_code", qbo_field="Project"),
    ]
    _set(demo_stack, custom_mappings=mappings)
    try:
        contact = hs.contact(f"pm.{uid}@summit.example", "Pat", "Moss", company=f"Summit {uid}")
        product = hs.product(f"Tent {uid}", f"TNT-{uid}", "310.00")
        invoice = hs.invoice(
            contact,
            [(product, "2", "310.00")],
            project_code=f"PRJ-{uid}",
            hs_purchase_order_number=f"PO-{uid}",
        )
        props = _settle(hs, invoice)
        fields = {
            f.get("Name"): f.get("StringValue")
            for f in qbo.get("Invoice", props["qbo_invoice_id"])["CustomField"]
        }
        assert fields.get("Project") == f"PRJ-{uid}"
        assert fields.get("PO Number") == f"PO-{uid}"
    finally:
        _set(demo_stack, custom_mappings=mappings[:-1])


@pytest.mark.parametrize("policy", list(ProductNotFoundPolicy))
def test_product_not_found_policies(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest, policy: ProductNotFoundPolicy
) -> None:
    uid = new_uid()
    default_item = demo_stack.connection.sync_settings.default_item_name
    if policy is ProductNotFoundPolicy.USE_DEFAULT_ITEM and not qbo.query(
        f"select * from Item where Name = '{default_item}'"
    ):
        income = next(
            a for a in qbo.query("select * from Account") if a.get("AccountType") == "Income"
        )
        qbo.create(
            "Item",
            {"Name": default_item, "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}},
        )
    _set(demo_stack, product_not_found=policy)
    try:
        contact = hs.contact(f"np.{uid}@meridian.example", "Noa", "Park", company=f"Meridian {uid}")
        product = hs.product(f"Brand new thing {uid}", f"NEW-{uid}", "55.00")
        items_before = qbo.count("Item")
        invoices_before = qbo.count("Invoice")
        invoice = hs.invoice(contact, [(product, "2", "55.00")])
        if policy is ProductNotFoundPolicy.FAIL:
            props = _settle(hs, invoice, status="failed")
            assert (
                f"NEW-{uid}" in props["ledgerbridge_sync_error"]
                or f"Brand new thing {uid}" in props["ledgerbridge_sync_error"]
            )
            assert qbo.count("Invoice") == invoices_before and qbo.count("Item") == items_before
            return
        props = _settle(hs, invoice)
        line = next(
            ln
            for ln in qbo.get("Invoice", props["qbo_invoice_id"])["Line"]
            if ln.get("DetailType") == "SalesItemLineDetail"
        )
        item = qbo.get("Item", line["SalesItemLineDetail"]["ItemRef"]["value"])
        if policy is ProductNotFoundPolicy.CREATE_ITEM:
            assert item.get("Sku") == f"NEW-{uid}" and qbo.count("Item") == items_before + 1
        else:
            assert item["Name"] == default_item
            assert Decimal(str(line["Amount"])) == Decimal("110.00")
    finally:
        _set(demo_stack, product_not_found=ProductNotFoundPolicy.CREATE_ITEM)


def test_customer_display_name_collisions_do_not_fail(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    name = f"Granite Legal {uid}"
    # QBO already uses the name for a vendor and for another customer (different email).
    qbo.create("Vendor", {"DisplayName": name})
    qbo.create(
        "Customer",
        {"DisplayName": f"{name} (2)", "PrimaryEmailAddr": {"Address": f"x.{uid}@other.example"}},
    )
    contact = hs.contact(f"gl.{uid}@granite.example", "Gil", "Lee", company=name)
    product = hs.product(f"Filing {uid}", f"FIL-{uid}", "80.00")
    invoice = hs.invoice(contact, [(product, "1", "80.00")])
    props = _settle(hs, invoice)
    customer = qbo.get(
        "Customer", qbo.get("Invoice", props["qbo_invoice_id"])["CustomerRef"]["value"]
    )
    assert customer["PrimaryEmailAddr"]["Address"] == f"gl.{uid}@granite.example"
    assert customer["DisplayName"] not in (name, f"{name} (2)")
    # A second invoice for the same contact reuses that customer: no duplicate.
    again = hs.invoice(contact, [(product, "2", "80.00")])
    props2 = _settle(hs, again)
    assert qbo.get("Invoice", props2["qbo_invoice_id"])["CustomerRef"]["value"] == customer["Id"]
    matches = [
        c
        for c in qbo.query("select * from Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == f"gl.{uid}@granite.example"
    ]
    assert len(matches) == 1
