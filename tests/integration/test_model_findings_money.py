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
from ledgerbridge.engine.ports import LEDGER_REFUND, RecordKey


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
        world.connection_id, "invoice", Side.QUICKBOOKS, str(invoice["Id"])
    )
    assert hubspot_invoice is not None and hubspot_invoice.hubspot_id
    [copy] = world.hs.payments_of(hubspot_invoice.hubspot_id)
    assert Decimal(copy["hs_refunds_amount"]) == Decimal("40.00")
    assert copy["hs_latest_status"] == "partially_refunded"
