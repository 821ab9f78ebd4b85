"""Sales receipts and the paid-invoice workflow, with both sandboxes served over real sockets.

- A HubSpot payment tied to no invoice (a one-off payment link) becomes one QBO SalesReceipt
  once it has settled: its contact's customer, one line on the "Sales" item, its date, method
  and reference; a refund becomes a RefundReceipt from that receipt, a delete voids it.
- A HubSpot workflow that creates an invoice already paid lands in QBO exactly once, as an
  invoice plus its payment, whatever order the invoice, the payment and their webhooks arrive
  in. Every "synced" is checked by reading both books.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from engine_world import SYNCED, World, assoc, make_world

from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import SalesReceiptSettings, SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, SALES_RECEIPT
from ledgerbridge.engine.reconcile import Reconciler

SETTLE = dt.timedelta(seconds=300)  # SalesReceiptSettings.settle_seconds by default
WAIT = SETTLE + dt.timedelta(seconds=5)  # past the settle time of a payment made just now


@dataclass(frozen=True)
class Webhook:
    """One parsed HubSpot webhook notification (what the ingress hands the engine)."""

    object_type: str
    object_id: str
    account_id: str | None = None
    operation: str | None = None


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def later(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def world(
    sqlite_db_url: str, sockets: contextlib.ExitStack, clock: Clock
) -> AsyncIterator[World]:
    w = await make_world(
        sqlite_db_url, f"engine-receipts-{uuid.uuid4().hex[:8]}", sockets=sockets, clock=clock
    )
    yield w
    await w.close()


def webhook(world: World, *events: tuple[str, str]) -> None:
    world.engine.handle_webhook(Side.HUBSPOT, [Webhook(t, i) for t, i in events], None)


async def run(world: World) -> None:
    """Run what is due, without polling: only the webhooks delivered so far are known."""
    for _ in range(8):
        report = await world.engine.run_once(500)
        if report.claimed == 0:
            return
    raise AssertionError("the engine did not settle")


def one_off_payment(world: World, contact_id: str, amount: str, reference: str) -> str:
    """A payment from a payment link: tied to the contact, to no invoice."""
    return str(
        world.hs.sb.create_object(
            "commerce_payments",
            {
                "hs_initial_amount": amount,
                "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_currency_code": "USD",
                "hs_payment_method_type": "card",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": reference,
            },
            [assoc(contact_id, 387)],
        )
    )


def receipt_of(world: World, payment_id: str) -> dict[str, Any]:
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id and link.qbo_kind == SALES_RECEIPT, link
    receipt = world.qbo.get("SalesReceipt", link.qbo_id)
    assert receipt is not None
    return receipt


def assert_receipt_matches(world: World, payment_id: str, email: str) -> dict[str, Any]:
    receipt = receipt_of(world, payment_id)
    hs = world.hs.props("commerce_payments", payment_id)
    assert Decimal(str(receipt["TotalAmt"])) == Decimal(hs["hs_initial_amount"])
    assert receipt["TxnDate"] == hs["hs_initiated_date"][:10]
    assert receipt["PaymentRefNum"] == hs["hs_reference_number"]
    customer = world.qbo.get("Customer", str(receipt["CustomerRef"]["value"]))
    assert customer is not None and customer["PrimaryEmailAddr"]["Address"] == email
    [line] = [x for x in receipt["Line"] if x.get("DetailType") == "SalesItemLineDetail"]
    item = world.qbo.get("Item", str(line["SalesItemLineDetail"]["ItemRef"]["value"]))
    assert item is not None and item["Name"] == "Sales"
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    return receipt


# ---- one-off payments ----------------------------------------------------------------------
async def test_a_payment_tied_to_no_invoice_becomes_one_sales_receipt(
    world: World, clock: Clock
) -> None:
    email = "link1@receipts.example"
    contact = world.hs.contact(email, company="Payment Link Co")
    payment_id = one_off_payment(world, contact, "80.00", "pl_1")
    webhook(world, (PAYMENT, payment_id))
    await run(world)

    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SyncStatus.PENDING, state
    assert "sales receipt" in (state.message or "")
    assert world.qbo.count("SalesReceipt") == 0

    clock.later(WAIT)
    await world.sync()
    receipt = assert_receipt_matches(world, payment_id, email)
    assert world.qbo.count("SalesReceipt") == 1
    assert world.qbo.count("Payment") == 0

    webhook(world, (PAYMENT, payment_id), (PAYMENT, payment_id))  # duplicated
    await world.sync()
    assert world.qbo.count("SalesReceipt") == 1
    assert receipt_of(world, payment_id)["Id"] == receipt["Id"]


async def test_a_receipt_created_whose_answer_was_lost_is_not_created_twice(
    world: World, clock: Clock
) -> None:
    email = "link2@receipts.example"
    contact = world.hs.contact(email)
    payment_id = one_off_payment(world, contact, "45.50", "pl_2")
    clock.later(WAIT)
    response = await world.clients[1].put(
        "/_sandbox/faults",
        json={"commit_timeout_rate": 1.0, "seed": 3, "only_methods": ["POST"]},
    )
    assert response.status_code == 200, response.text
    webhook(world, (PAYMENT, payment_id))
    await run(world)
    assert (await world.clients[1].put("/_sandbox/faults", json={})).status_code == 200
    clock.later(dt.timedelta(hours=1))
    await world.sync()

    assert world.qbo.count("SalesReceipt") == 1
    assert_receipt_matches(world, payment_id, email)


async def test_refund_and_delete_of_a_receipt_payment_reach_the_receipt(
    world: World, clock: Clock
) -> None:
    email = "link3@receipts.example"
    contact = world.hs.contact(email)
    payment_id = one_off_payment(world, contact, "100.00", "pl_3")
    clock.later(WAIT)
    await world.sync()
    receipt = assert_receipt_matches(world, payment_id, email)

    world.hs.sb.update_object(
        "commerce_payments",
        payment_id,
        {"hs_refunds_amount": "30.00", "hs_latest_status": "partially_refunded"},
    )
    clock.later(WAIT)
    await world.sync()
    [refund] = world.qbo.all("RefundReceipt")
    assert Decimal(str(refund["TotalAmt"])) == Decimal("30.00")
    assert refund["CustomerRef"]["value"] == receipt["CustomerRef"]["value"]
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state

    world.hs.sb.archive_object("commerce_payments", payment_id)
    webhook(world, (PAYMENT, payment_id))
    await world.sync()
    voided = world.qbo.get("SalesReceipt", str(receipt["Id"]))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == 0
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state


# ---- the paid-invoice workflow ------------------------------------------------------------
def workflow_invoice(world: World, email: str, amount: str) -> str:
    contact = world.hs.contact(email, company=f"Workflow {email}")
    product = world.hs.product("Consulting", f"W-{uuid.uuid4().hex[:6]}", amount)
    return world.hs.invoice(contact, [(product, "1", amount)])


def assert_invoice_and_payment_once(world: World, invoice_id: str, payment_id: str) -> None:
    """QBO holds the invoice once, paid by one Payment, and no sales receipt; both books agree."""
    assert world.qbo.count("Invoice") == 1
    assert world.qbo.count("Payment") == 1
    assert world.qbo.count("SalesReceipt") == 0
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(hs_invoice["hs_amount_billed"])
    assert Decimal(str(qbo_invoice["Balance"])) == Decimal(hs_invoice["hs_balance_due"]) == 0
    [payment] = world.qbo.all("Payment")
    hs_payment = world.hs.props("commerce_payments", payment_id)
    assert Decimal(str(payment["TotalAmt"])) == Decimal(hs_payment["hs_initial_amount"])
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id == str(payment["Id"]) and link.qbo_kind == ""
    assert world.invoice_state(invoice_id).status is SYNCED
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state


async def test_workflow_invoice_first_then_payment(world: World) -> None:
    invoice_id = workflow_invoice(world, "wf1@receipts.example", "250.00")
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    payment_id = world.hs.pay(invoice_id, "250.00")
    webhook(world, (PAYMENT, payment_id))
    await run(world)
    await world.sync()
    assert_invoice_and_payment_once(world, invoice_id, payment_id)


async def test_workflow_payment_webhook_before_the_invoice(world: World) -> None:
    invoice_id = workflow_invoice(world, "wf2@receipts.example", "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    webhook(world, (PAYMENT, payment_id))  # the invoice's webhook is late
    await run(world)
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    await world.sync()
    assert_invoice_and_payment_once(world, invoice_id, payment_id)


async def test_workflow_invoice_and_payment_in_one_poll(world: World) -> None:
    invoice_id = workflow_invoice(world, "wf3@receipts.example", "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    await world.sync()
    assert_invoice_and_payment_once(world, invoice_id, payment_id)


async def test_workflow_duplicated_webhooks(world: World) -> None:
    invoice_id = workflow_invoice(world, "wf4@receipts.example", "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    events = [(PAYMENT, payment_id), (INVOICE, invoice_id)] * 3
    webhook(world, *events)
    await run(world)
    webhook(world, *events)
    await run(world)
    await world.sync()
    assert_invoice_and_payment_once(world, invoice_id, payment_id)


async def test_workflow_payment_before_it_is_tied_to_the_invoice(
    world: World, clock: Clock
) -> None:
    """The payment exists (tied to the contact only) before the workflow ties it to the invoice:
    it waits, and becomes the invoice's Payment, never a sales receipt as well."""
    email = "wf5@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    contact = world.hs.contact("other@receipts.example")  # whose it is does not matter here
    payment_id = one_off_payment(world, contact, "250.00", "wf_5")
    webhook(world, (PAYMENT, payment_id))
    await run(world)
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SyncStatus.PENDING, state
    assert world.qbo.count("SalesReceipt") == 0

    await world.crm.api.associate("commerce_payments", payment_id, "invoices", invoice_id)
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    clock.later(WAIT)  # the payment's own wait ends: it is looked at again
    await world.sync()
    assert_invoice_and_payment_once(world, invoice_id, payment_id)
    clock.later(WAIT)
    webhook(world, (PAYMENT, payment_id))
    await world.sync()
    assert world.qbo.count("SalesReceipt") == 0
    assert world.qbo.count("Payment") == 1


# ---- reconciliation ----------------------------------------------------------------------
def reconciler(world: World) -> Reconciler:
    async def run_engine() -> None:
        await world.sync()

    async def write_status(hs_id: str, status: SyncStatus, message: str | None) -> None:
        await world.crm.set_sync_state(hs_id, status, message)

    return Reconciler(
        world.connection_id,
        ConnectorBulkReader(world.crm, world.ledger),
        world.store,
        SyncSettings(),
        drain=run_engine,
        write_status=write_status,
    )


async def test_reconciliation_compares_a_receipt_with_its_payment_not_a_payment_of_that_id(
    world: World, clock: Clock
) -> None:
    # An invoice paid in QBO gives QBO a Payment; the one-off payment then gives a SalesReceipt.
    invoice_id = workflow_invoice(world, "rc1@receipts.example", "250.00")
    paid_id = world.hs.pay(invoice_id, "250.00")
    await world.sync()
    contact = world.hs.contact("rc2@receipts.example")
    payment_id = one_off_payment(world, contact, "75.00", "pl_rc")
    clock.later(WAIT)
    await world.sync()
    receipt = assert_receipt_matches(world, payment_id, "rc2@receipts.example")
    assert_invoice_and_payment_once_with_receipt(world, invoice_id, paid_id)
    [qbo_payment] = world.qbo.all("Payment")
    assert str(qbo_payment["Id"]) == str(receipt["Id"])  # QBO numbers each entity apart

    report = await reconciler(world).run()
    assert (report.diverged, report.repaired) == (0, 0), report.findings
    assert report.checked == 3  # the invoice, its payment, the receipt

    # The receipt's amount changed in QBO with no event: reconciliation finds it on the receipt.
    def change(record: dict) -> None:  # type: ignore[type-arg]
        record["TotalAmt"] = "70.00"

    world.qbo.state.update_raw(world.qbo.realm, "SalesReceipt", str(receipt["Id"]), change)
    report = await reconciler(world).run(repair=False)
    assert report.diverged == 1, report.findings
    [finding] = report.findings
    assert (finding.hubspot_id, finding.qbo_id, finding.field) == (
        payment_id,
        str(receipt["Id"]),
        "amount",
    )
    assert (finding.hubspot, finding.quickbooks) == ("75.00", "70.00")


def assert_invoice_and_payment_once_with_receipt(
    world: World, invoice_id: str, payment_id: str
) -> None:
    [payment] = world.qbo.all("Payment")
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_id == str(payment["Id"]) and link.qbo_kind == ""
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    assert qbo_invoice is not None and Decimal(str(qbo_invoice["Balance"])) == 0


# ---- the paid-invoice workflow as one sales receipt (setting) ----------------------------
@pytest.fixture
async def receipt_world(
    sqlite_db_url: str, sockets: contextlib.ExitStack, clock: Clock
) -> AsyncIterator[World]:
    settings = SyncSettings(sales_receipts=SalesReceiptSettings(paid_invoice="sales_receipt"))
    w = await make_world(
        sqlite_db_url,
        f"engine-receipts-{uuid.uuid4().hex[:8]}",
        settings=settings,
        sockets=sockets,
        clock=clock,
    )
    yield w
    await w.close()


def assert_one_receipt_for_the_invoice(
    world: World, invoice_id: str, payment_id: str, email: str
) -> None:
    """QBO holds one SalesReceipt for the paid invoice, and no Invoice and no Payment."""
    assert world.qbo.count("Invoice") == 0
    assert world.qbo.count("Payment") == 0
    [receipt] = world.qbo.all("SalesReceipt")
    link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_kind == SALES_RECEIPT and link.qbo_id == receipt["Id"]
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert Decimal(str(receipt["TotalAmt"])) == Decimal(hs_invoice["hs_amount_billed"])
    assert Decimal(hs_invoice["hs_balance_due"]) == 0
    customer = world.qbo.get("Customer", str(receipt["CustomerRef"]["value"]))
    assert customer is not None and customer["PrimaryEmailAddr"]["Address"] == email
    assert hs_invoice["ledgerbridge_sync_status"] == "synced"
    assert not hs_invoice.get("qbo_invoice_id")  # a receipt's id is not an invoice's
    assert world.invoice_state(invoice_id).status is SYNCED
    state = world.payment_state(Side.HUBSPOT, payment_id)
    assert state is not None and state.status is SYNCED, state
    assert str(receipt["Id"]) in (state.message or "")


async def test_receipt_setting_invoice_webhook_first(receipt_world: World, clock: Clock) -> None:
    world = receipt_world
    email = "sr1@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    assert world.invoice_state(invoice_id).status is SyncStatus.PENDING  # may still be paid
    assert world.qbo.count("Invoice") == 0
    payment_id = world.hs.pay(invoice_id, "250.00")
    webhook(world, (PAYMENT, payment_id))
    await run(world)
    await world.sync()
    clock.later(WAIT)
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)


async def test_receipt_setting_payment_webhook_first(receipt_world: World) -> None:
    world = receipt_world
    email = "sr2@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    webhook(world, (PAYMENT, payment_id))
    await run(world)
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)


async def test_receipt_setting_both_in_one_poll(receipt_world: World) -> None:
    world = receipt_world
    email = "sr3@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)


async def test_receipt_setting_duplicated_webhooks(receipt_world: World, clock: Clock) -> None:
    world = receipt_world
    email = "sr4@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    events = [(INVOICE, invoice_id), (PAYMENT, payment_id)] * 3
    webhook(world, *events)
    await run(world)
    webhook(world, *events)
    await run(world)
    clock.later(WAIT)
    webhook(world, *events)
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)


async def test_receipt_setting_payment_before_it_is_tied_to_the_invoice(
    receipt_world: World, clock: Clock
) -> None:
    world = receipt_world
    email = "sr5@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    contact = world.hs.contact("other5@receipts.example")
    payment_id = one_off_payment(world, contact, "250.00", "sr_5")
    webhook(world, (PAYMENT, payment_id), (INVOICE, invoice_id))
    await run(world)
    assert world.qbo.count("SalesReceipt") == 0
    await world.crm.api.associate("commerce_payments", payment_id, "invoices", invoice_id)
    webhook(world, (INVOICE, invoice_id))
    await run(world)
    clock.later(WAIT)
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)


async def test_receipt_setting_an_invoice_left_unpaid_becomes_an_invoice(
    receipt_world: World, clock: Clock
) -> None:
    world = receipt_world
    invoice_id = workflow_invoice(world, "sr6@receipts.example", "250.00")
    modified = world.hs.props("invoices", invoice_id)["hs_lastmodifieddate"]
    await world.sync()
    assert world.invoice_state(invoice_id).status is SyncStatus.PENDING
    # Waiting writes nothing to HubSpot: the settle time counts from the last change.
    assert world.hs.props("invoices", invoice_id)["hs_lastmodifieddate"] == modified
    clock.later(WAIT)
    await world.sync()
    assert world.qbo.count("Invoice") == 1 and world.qbo.count("SalesReceipt") == 0
    qbo_invoice = world.qbo.get("Invoice", world.qbo_id_of(invoice_id))
    hs_invoice = world.hs.props("invoices", invoice_id)
    assert qbo_invoice is not None
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(hs_invoice["hs_amount_billed"])
    assert world.invoice_state(invoice_id).status is SYNCED


async def test_reconciliation_leaves_an_invoice_recorded_as_a_receipt_alone(
    receipt_world: World, clock: Clock
) -> None:
    """The receipt's id equals a QBO invoice's id: reconciliation must not compare the two."""
    world = receipt_world
    email = "sr7@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)
    other = workflow_invoice(world, "sr8@receipts.example", "99.00")
    clock.later(WAIT)
    await world.sync()
    [qbo_invoice] = world.qbo.all("Invoice")
    [receipt] = world.qbo.all("SalesReceipt")
    assert qbo_invoice["Id"] == receipt["Id"]  # QBO numbers each entity apart
    assert world.qbo_id_of(other) == qbo_invoice["Id"]

    report = await reconciler(world).run()
    assert (report.diverged, report.repaired, report.orphans) == (0, 0, 0), report.findings
    assert world.qbo.count("Invoice") == 1 and world.qbo.count("SalesReceipt") == 1


async def test_receipt_setting_lost_answer_makes_one_receipt(receipt_world: World) -> None:
    world = receipt_world
    email = "sr9@receipts.example"
    invoice_id = workflow_invoice(world, email, "250.00")
    payment_id = world.hs.pay(invoice_id, "250.00")
    faults = {"commit_timeout_rate": 1.0, "seed": 5, "only_methods": ["POST"]}
    assert (await world.clients[1].put("/_sandbox/faults", json=faults)).status_code == 200
    webhook(world, (INVOICE, invoice_id), (PAYMENT, payment_id))
    await run(world)
    assert (await world.clients[1].put("/_sandbox/faults", json={})).status_code == 200
    webhook(world, (INVOICE, invoice_id), (PAYMENT, payment_id))
    await world.sync()
    assert_one_receipt_for_the_invoice(world, invoice_id, payment_id, email)
