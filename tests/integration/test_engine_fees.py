"""Processing and platform fees of HubSpot payments become one QBO expense (Purchase) each:
paid from the chosen bank account to the fees expense account, the processor as payee, dated
with the payment, linked, and never created twice (replays and lost answers included)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import SYNCED, World, make_world

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import FeeSettings, SyncSettings
from ledgerbridge.engine.ports import PAYMENT, RecordKey
from ledgerbridge.sandbox.faults import FaultPlan

FEES_ON = SyncSettings(fees=FeeSettings(enabled=True))


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"engine-fees-{uuid.uuid4().hex[:8]}", settings=FEES_ON)
    yield w
    await w.close()


async def _paid_invoice_with_fees(world: World, email: str) -> tuple[str, str]:
    contact = world.hs.contact(email, company=f"Fees {email}")
    product = world.hs.product("Consulting", f"C-{uuid.uuid4().hex[:6]}", "250.00")
    invoice_id = world.hs.invoice(contact, [(product, "2", "250.00")])
    payment_id = world.hs.pay(invoice_id, "500.00")
    world.hs.sb.update_object(
        "commerce_payments", payment_id, {"hs_fees_amount": "14.80", "hs_platform_fee": "2.50"}
    )
    return invoice_id, payment_id


async def _faults(world: World, plan: FaultPlan) -> None:
    response = await world.clients[1].put("/_sandbox/faults", json=plan.to_dict())
    assert response.status_code == 200


def _expense_of(world: World, payment_id: str) -> dict[str, object]:
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.extra.get("fee_expense_id")
    purchase = world.qbo.get("Purchase", str(link.extra["fee_expense_id"]))
    assert purchase is not None
    return purchase


async def test_fees_become_one_expense_on_the_fees_account(world: World) -> None:
    invoice_id, payment_id = await _paid_invoice_with_fees(world, "fees1@fees.example")

    await world.sync()
    await world.sync()  # a second round changes nothing

    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED
    assert world.qbo.count("Payment") == 1
    purchases = world.qbo.all("Purchase")
    assert len(purchases) == 1
    purchase = _expense_of(world, payment_id)
    assert purchase["Id"] == purchases[0]["Id"]
    assert Decimal(str(purchase["TotalAmt"])) == Decimal("17.30")
    assert purchase["TxnDate"] == "2026-11-05"  # the payment's date
    assert purchase["PaymentType"] == "Cash"
    paid_from = world.qbo.get("Account", purchase["AccountRef"]["value"])  # type: ignore[index]
    assert paid_from is not None and paid_from["Name"] == "Checking"
    amounts = []
    for line in purchase["Line"]:  # type: ignore[attr-defined]
        account = world.qbo.get(
            "Account", line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
        )
        assert account is not None
        assert account["Name"] == "Payment Processing Fees"
        assert account["Classification"] == "Expense"
        amounts.append(Decimal(str(line["Amount"])))
    assert sorted(amounts) == [Decimal("2.50"), Decimal("14.80")]
    vendor = world.qbo.get("Vendor", purchase["EntityRef"]["value"])  # type: ignore[index]
    assert vendor is not None and vendor["DisplayName"] == "HubSpot Payments"
    # The payment itself still settles the invoice in full: fees are an expense, not a discount.
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == Decimal("0")
    hs_props = world.hs.props("invoices", invoice_id)
    assert Decimal(hs_props["hs_balance_due"]) == Decimal(str(qbo_invoice["Balance"]))


async def test_lost_answers_create_exactly_one_expense(world: World) -> None:
    await _faults(world, FaultPlan(commit_timeout_rate=1.0, seed=11, only_methods=["POST"]))
    _, payment_id = await _paid_invoice_with_fees(world, "fees2@fees.example")

    await world.sync()
    await _faults(world, FaultPlan())
    await world.sync()

    assert world.qbo.count("Payment") == 1
    assert world.qbo.count("Purchase") == 1
    assert Decimal(str(_expense_of(world, payment_id)["TotalAmt"])) == Decimal("17.30")


async def test_fees_off_books_no_expense(sqlite_db_url: str) -> None:
    w = await make_world(sqlite_db_url, f"engine-fees-{uuid.uuid4().hex[:8]}")
    try:
        _, payment_id = await _paid_invoice_with_fees(w, "fees3@fees.example")
        await w.sync()
        state = w.payment_state(Side.HUBSPOT, payment_id)
        assert state is not None and state.status is SYNCED
        assert w.qbo.count("Payment") == 1
        assert w.qbo.count("Purchase") == 0
    finally:
        await w.close()


async def test_fees_turned_on_later_are_booked_for_synced_payments(sqlite_db_url: str) -> None:
    w = await make_world(sqlite_db_url, f"engine-fees-{uuid.uuid4().hex[:8]}")
    try:
        _, payment_id = await _paid_invoice_with_fees(w, "fees4@fees.example")
        await w.sync()
        assert w.qbo.count("Purchase") == 0
        engine = w.with_settings(FEES_ON)
        await engine.sync_key(RecordKey(w.connection_id, PAYMENT, Side.HUBSPOT, payment_id))
        assert w.qbo.count("Purchase") == 1
        assert w.qbo.count("Payment") == 1
        assert Decimal(str(_expense_of(w, payment_id)["TotalAmt"])) == Decimal("17.30")
    finally:
        await w.close()


async def test_missing_fee_accounts_and_name_clashes(sqlite_db_url: str) -> None:
    settings = SyncSettings(
        fees=FeeSettings(enabled=True, expense_account="Stripe fees", vendor_name="Stripe")
    )
    w = await make_world(sqlite_db_url, f"engine-fees-{uuid.uuid4().hex[:8]}", settings=settings)
    try:
        w.qbo.customer("Stripe", "billing@stripe.example")  # a customer already uses the name
        _, payment_id = await _paid_invoice_with_fees(w, "fees5@fees.example")
        await w.sync()
        purchase = _expense_of(w, payment_id)
        vendor = w.qbo.get("Vendor", purchase["EntityRef"]["value"])  # type: ignore[index]
        assert vendor is not None and vendor["DisplayName"] == "Stripe (processor)"
        line = purchase["Line"][0]  # type: ignore[index]
        account = w.qbo.get("Account", line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"])
        assert account is not None
        assert (account["Name"], account["Classification"]) == ("Stripe fees", "Expense")
    finally:
        await w.close()


async def test_paid_from_account_that_is_not_a_bank_fails_with_a_fix(sqlite_db_url: str) -> None:
    settings = SyncSettings(fees=FeeSettings(enabled=True, paid_from_account="Services"))
    w = await make_world(sqlite_db_url, f"engine-fees-{uuid.uuid4().hex[:8]}", settings=settings)
    try:
        _, payment_id = await _paid_invoice_with_fees(w, "fees6@fees.example")
        await w.sync()
        state = w.payment_state(Side.HUBSPOT, payment_id)
        assert state is not None and state.category == "config"
        assert "is not a bank or credit card" in (state.message or "")
        assert "Processing fees" in (state.hint or "")
        assert w.qbo.count("Purchase") == 0
    finally:
        await w.close()


async def test_payments_in_parallel_share_one_new_vendor(world: World) -> None:
    paid = [await _paid_invoice_with_fees(world, f"par{n}@fees.example") for n in range(4)]

    await world.sync()

    vendors = [
        v for v in world.qbo.all("Vendor") if v["DisplayName"].startswith("HubSpot Payments")
    ]
    assert [v["DisplayName"] for v in vendors] == ["HubSpot Payments"]
    for _, payment_id in paid:
        state = world.payment_state(Side.HUBSPOT, payment_id)
        assert state is not None and state.status is SYNCED, state
        assert _expense_of(world, payment_id)["EntityRef"]["value"] == vendors[0]["Id"]  # type: ignore[index]
    assert world.qbo.count("Purchase") == 4
