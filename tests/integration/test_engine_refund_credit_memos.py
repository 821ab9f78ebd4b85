"""Refunds booked as credit memos (setting refunds.booked_as = "credit_memo"): each increment of a
HubSpot refund becomes a QBO CreditMemo, the money paid back from it (an expense to the customer
against Accounts Receivable) and a zero payment applying the one to the other. Partial refunds
add up, a lost answer books nothing twice, and "synced" compares HubSpot's refunded total with
what the credit memos gave back in QBO."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import RefundSettings, SyncSettings
from ledgerbridge.engine.payments import REFUND_IDS
from ledgerbridge.engine.ports import PAYMENT
from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    settings = SyncSettings(refunds=RefundSettings(booked_as="credit_memo"))
    w = await make_world(sqlite_db_url, f"engine-cm-{uuid.uuid4().hex[:8]}", settings=settings)
    yield w
    await w.close()


async def _paid(world: World, email: str, amount: str = "500.00") -> tuple[str, str]:
    contact = world.hs.contact(email, company=f"Credits {email}")
    product = world.hs.product("Consulting", f"C-{uuid.uuid4().hex[:6]}", amount)
    invoice_id = world.hs.invoice(contact, [(product, "1", amount)])
    payment_id = world.hs.pay(invoice_id, amount)
    await world.sync()
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    return invoice_id, payment_id


def _refund_in_hubspot(world: World, payment_id: str, total: str, status: str) -> None:
    world.hs.sb.update_object(
        "commerce_payments",
        payment_id,
        {
            "hs_refunds_amount": total,
            "hs_latest_status": status,
            "hs_internal_comment": "Refunded on 2026-11-06: Returned goods",
        },
    )


def _link_extra(world: World, payment_id: str) -> dict[str, Any]:
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id
    return {"qbo_id": link.qbo_id, **link.extra}


def _memos(world: World, payment_id: str) -> list[dict[str, Any]]:
    out = []
    for rid in _link_extra(world, payment_id).get(REFUND_IDS) or []:
        assert str(rid).startswith("CreditMemo-")
        memo = world.qbo.get("CreditMemo", str(rid).removeprefix("CreditMemo-"))
        assert memo is not None
        out.append(memo)
    return out


def _refunds_of(world: World, memo: dict[str, Any]) -> list[dict[str, Any]]:
    """The Purchases a zero payment applied this credit memo to."""
    out = []
    for payment in world.qbo.all("Payment"):
        links = [x for line in payment.get("Line", []) for x in line.get("LinkedTxn", [])]
        if {"TxnId": memo["Id"], "TxnType": "CreditMemo"} in links:
            assert Decimal(str(payment["TotalAmt"])) == 0
            for link in links:
                if link["TxnType"] == "Expense":
                    purchase = world.qbo.get("Purchase", link["TxnId"])
                    assert purchase is not None
                    out.append(purchase)
    return out


async def test_partial_refunds_add_up_as_refunded_credit_memos(world: World) -> None:
    invoice_id, payment_id = await _paid(world, "cm1@credits.example")
    qbo_payment = world.qbo.get("Payment", _link_extra(world, payment_id)["qbo_id"])
    assert qbo_payment is not None
    customer = qbo_payment["CustomerRef"]["value"]

    _refund_in_hubspot(world, payment_id, "30.00", "partially_refunded")
    await world.sync()
    await world.sync()  # nothing more to book
    memos = _memos(world, payment_id)
    assert [Decimal(str(m["TotalAmt"])) for m in memos] == [Decimal("30.00")]
    memo = memos[0]
    assert memo["CustomerRef"]["value"] == customer
    assert memo["InvoiceRef"]["value"] == world.qbo_id_of(invoice_id)
    assert Decimal(str(memo["RemainingCredit"])) == 0  # refunded: nothing left open
    assert "Returned goods" in memo["CustomerMemo"]["value"]
    assert f"HubSpot payment {payment_id}" in str(memo["PrivateNote"])
    (purchase,) = _refunds_of(world, memo)
    assert Decimal(str(purchase["TotalAmt"])) == Decimal("30.00")
    assert purchase["EntityRef"] == {**purchase["EntityRef"], "value": customer, "type": "Customer"}
    deposit = qbo_payment.get("DepositToAccountRef") or {}
    if deposit:
        assert purchase["AccountRef"]["value"] == deposit["value"]
    line_account = purchase["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
    account = world.qbo.get("Account", line_account)
    assert account is not None and account["AccountType"] == "Accounts Receivable"

    _refund_in_hubspot(world, payment_id, "100.00", "partially_refunded")
    await world.sync()
    memos = _memos(world, payment_id)
    assert [Decimal(str(m["TotalAmt"])) for m in memos] == [Decimal("30.00"), Decimal("70.00")]
    assert world.qbo.count("CreditMemo") == 2 and world.qbo.count("Purchase") == 2
    assert world.qbo.count("RefundReceipt") == 0
    # Both books hold the same refund, and the customer owes nothing in QBO.
    hs = world.hs.props("commerce_payments", payment_id)
    assert Decimal(hs["hs_refunds_amount"]) == sum(
        (Decimal(str(m["TotalAmt"])) - Decimal(str(m["RemainingCredit"])) for m in memos),
        Decimal(0),
    )
    qbo_customer = world.qbo.get("Customer", customer)
    assert qbo_customer is not None and Decimal(str(qbo_customer["Balance"])) == 0
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    # The zero payment is ledgerbridge's own: it never becomes a HubSpot payment.
    assert len(world.hs.all("commerce_payments")) == 1
    apply_ids = [p["Id"] for p in world.qbo.all("Payment") if p["Id"] != qbo_payment["Id"]]
    for apply_id in apply_ids:
        own = world.payment_state(Side.QUICKBOOKS, apply_id)
        assert own is None or own.status.value in ("synced", "excluded"), own


async def test_lost_answers_book_the_credit_memo_refund_once(world: World) -> None:
    _, payment_id = await _paid(world, "cm2@credits.example", "80.00")
    _refund_in_hubspot(world, payment_id, "80.00", "refunded")
    response = await world.clients[1].put(
        "/_sandbox/faults",
        json=FaultPlan(commit_timeout_rate=1.0, seed=3, only_methods=["POST"]).to_dict(),
    )
    assert response.status_code == 200
    await world.sync()
    await world.clients[1].put("/_sandbox/faults", json=FaultPlan().to_dict())
    await world.sync()

    assert world.qbo.count("CreditMemo") == 1
    assert world.qbo.count("Purchase") == 1
    (memo,) = _memos(world, payment_id)
    assert Decimal(str(memo["TotalAmt"])) == Decimal("80.00")
    assert Decimal(str(memo["RemainingCredit"])) == 0
    assert len(_refunds_of(world, memo)) == 1
    assert world.qbo.count("Payment") == 2  # the payment and the zero payment applying the memo
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
