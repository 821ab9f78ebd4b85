"""Bugs the model-based convergence test (tests/model) found with the bookkeeper's own money
operations (refund receipts and credit memos made in QBO by hand), each as a plain regression
test, as in test_model_findings.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, LEDGER_CREDIT, LEDGER_REFUND, RecordKey
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"model-money-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


def _refund_receipt(world: World, customer: str, amount: str, **extra: Any) -> str:
    checking = next(a for a in world.qbo.all("Account") if a["Name"] == "Checking")
    row = world.qbo.create(
        "RefundReceipt",
        {
            "CustomerRef": {"value": customer},
            "DepositToAccountRef": {"value": checking["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": amount,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": world.qbo.item_named("Services")},
                        "Qty": 1,
                        "UnitPrice": amount,
                    },
                }
            ],
            **extra,
        },
    )
    return str(row["Id"])


async def test_a_refund_receipt_stepped_before_its_payment_reached_hubspot_waits_for_it(
    world: World,
) -> None:
    """Soak seed 41: the bookkeeper records a payment and refunds part of it; the change feed
    marks both, and the receipt's step runs before the payment's copy exists in HubSpot. The
    receipt used to fail for good ("matches no payment HubSpot knows", refund_unmatched): its
    version was marked already, so nothing ran it again once the copy existed, and HubSpot
    never showed the refund. It now waits for that payment and is tied once the copy is made."""
    customer = world.qbo.customer("Fjord Traders", "fjord@traders.example")
    invoice = world.qbo.invoice(customer, [(world.qbo.item_named("Services"), "1", "100.00")])
    await world.sync()
    payment = world.qbo.payment(customer, [(str(invoice["Id"]), "100.00")])
    receipt = _refund_receipt(
        world, customer, "40.00", LinkedTxn=[{"TxnId": str(payment["Id"]), "TxnType": "Payment"}]
    )
    await world.engine.poll_once()  # the feed marks the payment and the receipt
    key = RecordKey(world.connection_id, LEDGER_REFUND, Side.QUICKBOOKS, receipt)
    await world.engine.sync_key(key)  # the receipt's step first
    await world.sync()

    state = world.state(LEDGER_REFUND, Side.QUICKBOOKS, receipt)
    assert state is not None and state.status is SYNCED, state
    hubspot_invoice = world.store.get_link(
        world.connection_id, INVOICE, Side.QUICKBOOKS, str(invoice["Id"])
    )
    assert hubspot_invoice is not None and hubspot_invoice.hubspot_id
    [copy] = world.hs.payments_of(hubspot_invoice.hubspot_id)
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("40.00")
    assert copy["hs_latest_status"] == "partially_refunded"


async def test_a_credit_memo_whose_copy_hubspot_deleted_is_not_blocked_for_good(
    world: World,
) -> None:
    """A credit memo applied to a synced invoice reaches HubSpot as a payment (the applying
    QBO payment's share); the HubSpot user deletes that copy (HubSpot owns deletes of copies:
    it is never re-created). The memo's next step used to wait for ever for the payment "to
    reach HubSpot", although the payment had synced long before; it is synced now, the
    deleted copy named in its summary."""
    customer = world.qbo.customer("Birch Works", "birch@works.example")
    invoice = world.qbo.invoice(customer, [(world.qbo.item_named("Services"), "1", "100.00")])
    memo = world.qbo.create(
        "CreditMemo",
        {
            "CustomerRef": {"value": customer},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "40.00",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": world.qbo.item_named("Services")},
                        "Qty": 1,
                        "UnitPrice": "40.00",
                    },
                }
            ],
        },
    )
    memo_id = str(memo["Id"])
    world.qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer},
            "TotalAmt": "0",
            "Line": [
                {"Amount": "40.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": "40.00", "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]},
            ],
        },
    )
    await world.sync()
    state = world.state(LEDGER_CREDIT, Side.QUICKBOOKS, memo_id)
    assert state is not None and state.status is SYNCED, state
    link = world.store.get_link(world.connection_id, INVOICE, Side.QUICKBOOKS, str(invoice["Id"]))
    assert link is not None and link.hubspot_id
    [copy] = world.hs.payments_of(link.hubspot_id)
    response = await world.clients[0].delete(
        f"/crm/v3/objects/commerce_payments/{copy['hs_object_id']}",
        headers={"Authorization": "Bearer pat-sandbox"},
    )
    assert response.status_code == 204, response.text
    row = world.qbo.get("CreditMemo", memo_id)
    assert row is not None
    world.qbo.state.update_entity(  # the bookkeeper edits the memo: its step runs again
        world.qbo.realm,
        "CreditMemo",
        {"Id": memo_id, "SyncToken": row["SyncToken"], "sparse": True, "PrivateNote": "agreed"},
    )
    await world.sync()

    state = world.state(LEDGER_CREDIT, Side.QUICKBOOKS, memo_id)
    assert state is not None and state.status is SYNCED, state
    assert world.hs.payments_of(link.hubspot_id) == []  # HubSpot's delete stands


async def test_a_customer_whose_create_answer_was_lost_follows_a_company_rename(
    world: World,
) -> None:
    """Soak seed 65: the engine creates a contact's customer in QBO, QBO commits it but the
    answer is lost (a commit timeout), and the create is recovered by finding the customer it
    made. That customer was linked as if matched (no base for its fields), so a later company
    rename in HubSpot never reached QBO ("a link made by matching": two different names are
    left as they are) while the customer showed synced. A customer recovered from the
    engine's own create holds the contact's values, as one whose answer came back."""
    await world.sync()  # the first poll starts the contact feed at "now"
    contact = world.hs.contact("alder@alder.example", first="Al", last="Der", company=None)
    world.hs.sb.update_object("contacts", contact, {"company": "Alder Co"})
    product = world.hs.product("Survey", "ALD-1", "250.00")
    invoice = world.hs.invoice(contact, [(product, "1", "250.00")])
    # QBO commits every create, then the connection drops before the answer.
    plan = FaultPlan(commit_timeout_rate=1.0, seed=5, only_methods=["POST"])
    assert (await world.clients[1].put("/_sandbox/faults", json=plan.to_dict())).status_code == 200
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.engine.run_once(50)
    faults_off = await world.clients[1].put("/_sandbox/faults", json=FaultPlan().to_dict())
    assert faults_off.status_code == 200
    link = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact)
    assert link is not None and link.qbo_id
    # Renamed in HubSpot before the customer's own step ever ran.
    world.hs.sb.update_object("contacts", contact, {"company": "Alder & Sons"})
    await world.sync()
    assert world.qbo.count("Customer") == 1  # created once

    row = world.qbo.get("Customer", link.qbo_id)
    assert row is not None
    assert (row.get("CompanyName"), row.get("DisplayName")) == ("Alder & Sons", "Alder & Sons")
    state = world.state(CUSTOMER, Side.HUBSPOT, contact)
    assert state is not None and state.status is SYNCED, state
