"""Bugs found by the model-based convergence test (tests/model), each as a plain regression test.

A bug found but not fixed yet gets a test marked xfail(strict=True): it turns red the moment the
bug is fixed, and then the xfail mark comes off and the rule that found it goes back into the
bounded model run (tests/model/machine.py, KNOWN_BUG_RULES). None is left.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import World, assoc, make_world

from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.changes import ChangeEvent
from ledgerbridge.engine.compare import (
    NOTE_OVERPAID,
    NOTE_REFUNDED_CREDIT,
    allowed_invoice_differences,
    compare_invoice,
)
from ledgerbridge.engine.fieldmap import SalesReceiptSettings, SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey
from ledgerbridge.engine.reconcile import Reconciler
from ledgerbridge.engine.reconcile_read import compare_payment_links, hubspot_owned


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(sqlite_db_url, f"model-findings-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()


async def _qbo_delete(world: World, entity: str, entity_id: str) -> None:
    """Delete through QBO's API, as a bookkeeper's app would."""
    current = world.qbo.get(entity, entity_id)
    assert current is not None
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/{entity.lower()}",
        params={"operation": "delete", "minorversion": "75"},
        json={"Id": entity_id, "SyncToken": current["SyncToken"]},
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text


async def test_qbo_payment_deleted_after_it_was_copied_settles_and_refunds_the_copy(
    world: World,
) -> None:
    contact = world.hs.contact("deleted-payment@example.com")
    product = world.hs.product("Consulting", "SKU-DEL", "100.00")
    invoice = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    qbo_id = world.qbo_id_of(invoice)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    payment = world.qbo.payment(qbo["CustomerRef"]["value"], [(qbo_id, "40.00")])
    await world.sync()
    assert Decimal(world.hs.props("invoices", invoice)["hs_balance_due"]) == Decimal("60.00")

    await _qbo_delete(world, "Payment", str(payment["Id"]))
    await world.sync()  # raises "the engine did not settle" while the bug is there

    qbo_after = world.qbo.get("Invoice", qbo_id)
    assert qbo_after is not None and Decimal(str(qbo_after["Balance"])) == Decimal("100.00")
    props = world.hs.props("invoices", invoice)
    assert Decimal(props["hs_balance_due"]) == Decimal("100.00")
    copies = [
        p for p in world.hs.payments_of(invoice) if p.get("hs_processor_type") == "quickbooks"
    ]
    assert [p["hs_latest_status"] for p in copies] == ["refunded"]
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def test_qbo_edit_of_memo_and_po_together_reaches_hubspot(world: World) -> None:
    customer = world.qbo.customer("Memo Co", "memo-po@example.com")
    slot = next(
        s
        for s, name in world.qbo.state.companies[world.qbo.realm].custom_field_defs()
        if name == "PO Number"
    )
    created = world.qbo.invoice(
        customer,
        [("1", "1", "19.95")],
        CustomerMemo={"value": "old memo"},
        CustomField=[
            {"DefinitionId": slot, "Name": "PO Number", "Type": "StringType", "StringValue": "PO-1"}
        ],
    )
    await world.sync()
    current = world.qbo.get("Invoice", str(created["Id"]))
    assert current is not None
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/invoice",
        params={"minorversion": "75"},
        json={
            "Id": current["Id"],
            "SyncToken": current["SyncToken"],
            "sparse": True,
            "CustomerMemo": {"value": "new memo"},
            "CustomField": [
                {
                    "DefinitionId": slot,
                    "Name": "PO Number",
                    "Type": "StringType",
                    "StringValue": "PO-2",
                }
            ],
        },
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    await world.sync()

    link = world.store.get_link(world.connection_id, INVOICE, Side.QUICKBOOKS, str(created["Id"]))
    assert link is not None and link.hubspot_id
    props = world.hs.props("invoices", link.hubspot_id)
    assert (props.get("hs_purchase_order_number"), props.get("hs_comments")) == ("PO-2", "new memo")


async def test_edits_made_with_a_refused_value_reach_qbo_once_it_is_fixed(world: World) -> None:
    contact = world.hs.contact("refused-po@example.com")
    product = world.hs.product("Widget", "SKU-PO", "50.00")
    invoice = world.hs.invoice(
        contact, [(product, "1", "50.00")], po="PO-1", hs_due_date="2026-11-20"
    )
    await world.sync()
    qbo_id = world.qbo_id_of(invoice)

    echo = ChangeEvent(Side.HUBSPOT, INVOICE, invoice)
    world.hs.sb.update_object(
        "invoices", invoice, {"hs_purchase_order_number": "P" * 43, "hs_due_date": "2026-12-24"}
    )
    world.engine.handle_events([echo])
    await world.sync()
    assert world.invoice_state(invoice).status is SyncStatus.FAILED
    world.engine.handle_events([echo])  # HubSpot's webhook for the engine's own status write
    await world.sync()

    world.hs.sb.update_object("invoices", invoice, {"hs_purchase_order_number": "PO-2"})
    world.engine.handle_events([echo])
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    po = next(c.get("StringValue") for c in qbo["CustomField"] if c.get("Name") == "PO Number")
    assert (po, qbo["DueDate"]) == ("PO-2", "2026-12-24")
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def test_a_copy_refunded_in_hubspot_stays_refunded_when_its_qbo_payment_is_deleted(
    world: World,
) -> None:
    """Soak seed 4004 flagged this sequence; the cause was the model refunding with 0 (it read
    the payment without asking for its amount). The real sequence converges, and stays so."""
    customer = world.qbo.customer("Refund Co", "refund-delete@example.com")
    created = world.qbo.invoice(customer, [("1", "2", "19.95")])
    await world.sync()
    qbo_id = str(created["Id"])
    payment = world.qbo.payment(customer, [(qbo_id, "11.97")])
    await world.sync()
    link = world.store.get_link(world.connection_id, INVOICE, Side.QUICKBOOKS, qbo_id)
    assert link is not None and link.hubspot_id
    invoice = link.hubspot_id
    assert Decimal(world.hs.props("invoices", invoice)["hs_balance_due"]) == Decimal("27.93")

    await _qbo_delete(world, "Payment", str(payment["Id"]))
    copy = next(
        r
        for r in world.hs.sb.linked(world.hs.sb.store.get("invoices", invoice), "commerce_payments")
    )
    world.hs.sb.update_object(
        "commerce_payments",
        copy.id,
        {"hs_refunds_amount": "11.97", "hs_latest_status": "refunded"},
    )
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None and Decimal(str(qbo["Balance"])) == Decimal("39.90")
    props = world.hs.props("invoices", invoice)
    assert (Decimal(props["hs_amount_paid"]), Decimal(props["hs_balance_due"])) == (
        Decimal("0.00"),
        Decimal("39.90"),
    )


async def test_a_payment_on_an_invoice_voided_before_it_synced_is_not_blocked(world: World) -> None:
    contact = world.hs.contact("voided-paid@example.com")
    product = world.hs.product("Gadget", "SKU-VOID", "75.00")
    invoice = world.hs.invoice(contact, [(product, "2", "75.00")])
    payment = world.hs.pay(invoice, "75.00")
    # voided while open, before the engine ever saw it
    world.hs.sb.update_object("invoices", invoice, {"hs_invoice_status": "voided"})
    await world.sync()
    assert world.qbo.all("Invoice") == [] and world.qbo.all("Payment") == []
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is None or state.status is not SyncStatus.BLOCKED, state
    assert world.invoice_state(invoice).status is SyncStatus.EXCLUDED
    assert "Voided" in (world.invoice_state(invoice).message or "")


async def test_a_payment_on_a_failed_invoice_waits_named_and_follows_the_fix(world: World) -> None:
    """Model finding (rule hs_pay): a payment blocked on an invoice that failed was stepped
    again every round (and woke the failed invoice each time), so nothing ever settled. Now it
    is blocked once, naming the invoice and its failure, and follows as soon as it is fixed."""
    now = [dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)]
    world.engine.clock = lambda: now[0]
    contact = world.hs.contact("failed-then-paid@example.com")
    product = world.hs.product("Audit", "SKU-FAIL", "100.00")
    invoice = world.hs.invoice(contact, [(product, "1", "100.00")], po="P" * 43)
    payment = world.hs.pay(invoice, "40.00")
    await world.sync()
    failure = world.invoice_state(invoice)
    assert failure.status is SyncStatus.FAILED and failure.message
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.BLOCKED
    assert (
        state.blocked_on == RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice).as_text()
    )
    assert f"HubSpot invoice {invoice}" in (state.message or "")
    assert failure.message in (state.message or "")
    assert state.hint and invoice in state.hint
    assert world.qbo.all("Payment") == []

    # Hours later nothing is stepped again: neither the payment nor (through it) the invoice.
    for _ in range(3):
        now[0] += dt.timedelta(hours=1)
        await world.engine.poll_once()
        report = await world.engine.run_once(500)
        assert report.claimed == 0, [r.key.as_text() for r in report.results]
    assert world.invoice_state(invoice).attempts == failure.attempts

    # The fix: the payment is re-queued by the invoice's sync and reaches QBO, once.
    world.hs.sb.update_object("invoices", invoice, {"hs_purchase_order_number": "PO-7"})
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED
    qbo = world.qbo.get("Invoice", world.qbo_id_of(invoice))
    assert qbo is not None
    payments = world.qbo.all("Payment")
    assert [Decimal(str(p["TotalAmt"])) for p in payments] == [Decimal("40.00")]
    props = world.hs.props("invoices", invoice)
    assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]) == Decimal("60.00")
    assert Decimal(props["hs_amount_paid"]) == Decimal("40.00")


async def test_a_hubspot_overpayment_left_as_credit_is_applied_when_the_invoice_owes_again(
    world: World,
) -> None:
    """Model finding (rule hs_pay, "59.85 vs 39.90"): a bookkeeper records 19.95 in QBO; before
    its copy reaches HubSpot, the customer pays HubSpot's whole balance (59.85). QBO takes only
    what the invoice owes (39.90) and keeps 19.95 as the customer's credit. Then the QBO payment
    is deleted: HubSpot counted 59.85 paid, QBO 39.90, and the invoice stayed `synced`. The
    credit the HubSpot payment left is now applied to the invoice it was meant for."""
    contact = world.hs.contact("overpaid@example.com")
    product = world.hs.product("Service", "SKU-OVER", "19.95")
    invoice = world.hs.invoice(contact, [(product, "3", "19.95")])
    await world.sync()
    qbo_id = world.qbo_id_of(invoice)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    bookkeeper = world.qbo.payment(qbo["CustomerRef"]["value"], [(qbo_id, "19.95")])
    payment = world.hs.pay(invoice, "59.85")  # HubSpot's balance: the QBO payment is not there yet
    await world.sync()
    recorded = world.qbo.all("Payment")
    assert sorted(Decimal(str(p["TotalAmt"])) for p in recorded) == [
        Decimal("19.95"),
        Decimal("59.85"),
    ]
    # Meanwhile the invoice is overpaid: the documented, named difference (docs/sync-matrix.md).
    hubspot = await world.crm.get_invoice(invoice)
    quickbooks = await world.ledger.get_invoice(qbo_id)
    assert hubspot is not None and quickbooks is not None
    assert (hubspot.amount_paid, quickbooks.amount_paid) == (Decimal("79.80"), Decimal("59.85"))
    settings = world.engine.settings
    assert compare_invoice(hubspot, quickbooks, settings=settings) == []
    allowed = allowed_invoice_differences(hubspot, quickbooks, settings=settings)
    assert {d.note for d in allowed} == {NOTE_OVERPAID}

    await _qbo_delete(world, "Payment", str(bookkeeper["Id"]))
    world.engine.handle_events([ChangeEvent(Side.QUICKBOOKS, PAYMENT, str(bookkeeper["Id"]))])
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert Decimal(props["hs_amount_paid"]) == Decimal("59.85")
    assert Decimal(str(qbo["TotalAmt"])) - Decimal(str(qbo["Balance"])) == Decimal("59.85")
    assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]) == Decimal("0.00")
    ours = next(
        p for p in world.qbo.all("Payment") if Decimal(str(p["TotalAmt"])) == Decimal("59.85")
    )
    assert Decimal(str(ours.get("UnappliedAmt") or 0)) == Decimal("0")
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def _paid_before_a_new_line_reached_qbo(world: World, contact: str) -> tuple[str, str]:
    """A synced invoice of 100.00; a second 100.00 line added in HubSpot; 150.00 paid against
    HubSpot's balance (200.00), and that payment recorded in QBO before the new line got there:
    QBO applies the 100.00 its invoice owes and keeps 50.00 as the customer's credit."""
    product = world.hs.product("Retainer", f"SKU-{contact}", "100.00")
    invoice = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    world.hs.sb.create_object(
        "line_items",
        {"quantity": "1", "price": "100.00", "hs_product_id": product},
        [assoc(invoice, 410)],
    )
    payment = world.hs.pay(invoice, "150.00")
    await world.engine.sync_key(RecordKey(world.connection_id, PAYMENT, Side.HUBSPOT, payment))
    return invoice, payment


async def test_a_payment_recorded_before_the_invoice_grew_applies_its_credit_after(
    world: World,
) -> None:
    """Model finding (rule hs_pay, bounded run): a line added in HubSpot raised the balance the
    customer paid against; the payment reached QBO before the invoice update did, so QBO applied
    only what the old invoice owed and kept the rest as credit. Once the update raises QBO's
    total, the credit is applied and both books count the same paid."""
    contact = world.hs.contact("grew@example.com")
    invoice, payment = await _paid_before_a_new_line_reached_qbo(world, contact)
    qbo_id = world.qbo_id_of(invoice)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None and Decimal(str(qbo["Balance"])) == Decimal("0")  # 100 applied

    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"]) == Decimal("200")
    assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]) == Decimal("50.00")
    [recorded] = world.qbo.all("Payment")
    assert Decimal(str(recorded.get("UnappliedAmt") or 0)) == Decimal("0")
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def test_credit_left_on_an_invoice_whose_customer_changed_does_not_leave_it_synced(
    world: World,
) -> None:
    """Model finding (rule hs_pay with hs_change_contact): a HubSpot payment is recorded before
    a line added in HubSpot reaches QBO, so part of it is credit; then the invoice's contact
    changes, and QBO refuses to apply that credit (another customer's invoice). The invoice
    stayed `synced` while amount paid differed; now it is `diverged` on amount paid and
    balance, with both values, and the credit stays the first customer's."""
    first = world.hs.contact("first-owner@example.com")
    second = world.hs.contact("second-owner@example.com")
    invoice, payment = await _paid_before_a_new_line_reached_qbo(world, first)
    world.hs.sb.unassociate("invoices", invoice, "contacts", first)
    world.hs.sb.associate("invoices", invoice, "contacts", second, 177)
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()

    qbo = world.qbo.get("Invoice", world.qbo_id_of(invoice))
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    paid = Decimal(str(qbo["TotalAmt"])) - Decimal(str(qbo["Balance"]))
    assert (Decimal(props["hs_amount_paid"]), paid) == (Decimal("150.00"), Decimal("100.00"))
    state = world.invoice_state(invoice)
    assert state.status is SyncStatus.DIVERGED
    assert {(d.field, d.hubspot, d.quickbooks) for d in state.differences} == {
        ("amount_paid", "150.00", "100.00"),
        ("balance_due", "50.00", "100.00"),
    }
    assert props["ledgerbridge_sync_status"] == "diverged"
    payment_state = world.payment_state(Side.HUBSPOT, payment)
    assert payment_state is not None and payment_state.status is SyncStatus.SYNCED
    # Settled: nothing runs again by itself.
    report = await world.engine.run_once(500)
    assert report.claimed == 0


async def test_refund_in_hubspot_of_an_overpayment_keeps_the_books_comparable(
    world: World,
) -> None:
    """Soak finding (seeds 1001 and 3000): a HubSpot payment of the whole balance, then a
    discount that lowers the invoice before the payment reaches QBO (QBO applies 180 of 200, 20
    is the customer's credit), then half the payment refunded in HubSpot. HubSpot counts 100
    paid, QBO 180: the gap (80) is the refund HubSpot owns (100) less the credit QBO keeps (20).
    The comparison knew each documented difference alone, never both at once, so reconciliation
    called the agreeing books diverged, and the model's oracle accepted any gap up to the
    refund. Now the combined difference is exact and named (NOTE_REFUNDED_CREDIT)."""
    contact = world.hs.contact("refund-credit@example.com")
    product = world.hs.product("Block", "SKU-RC", "100.00")
    invoice = world.hs.invoice(contact, [(product, "2", "100.00")])
    await world.sync()
    payment = world.hs.pay(invoice, "200.00")
    world.hs.sb.create_object(
        "discounts",
        {"hs_label": "d", "hs_type": "PERCENT", "hs_value": "10", "hs_sort_order": "1"},
        [assoc(invoice, 412)],
    )
    await world.engine.sync_key(RecordKey(world.connection_id, INVOICE, Side.HUBSPOT, invoice))
    await world.sync()
    world.hs.sb.update_object(
        "commerce_payments",
        payment,
        {"hs_refunds_amount": "100.00", "hs_latest_status": "partially_refunded"},
    )
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, payment)])
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()

    # Both books, as each holds them.
    qbo_id = world.qbo_id_of(invoice)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"]) == Decimal("180")
    assert (Decimal(props["hs_amount_paid"]), Decimal(props["hs_balance_due"])) == (
        Decimal("100.00"),
        Decimal("80.00"),
    )
    assert Decimal(str(qbo["Balance"])) == Decimal("0")
    [recorded] = world.qbo.all("Payment")
    assert Decimal(str(recorded["TotalAmt"])) == Decimal("200.00")
    assert Decimal(str(recorded.get("UnappliedAmt") or 0)) == Decimal("20.00")
    [receipt] = world.qbo.all("RefundReceipt")
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("100.00")

    # The gap is exactly the refund less the credit, and named.
    hubspot = await world.crm.get_invoice(invoice)
    quickbooks = await world.ledger.get_invoice(qbo_id)
    assert hubspot is not None and quickbooks is not None
    settings = world.engine.settings
    owned = {"hubspot_owned_refunds": Decimal("100"), "hubspot_credit": Decimal("20")}
    assert compare_invoice(hubspot, quickbooks, settings=settings, **owned) == []
    allowed = allowed_invoice_differences(hubspot, quickbooks, settings=settings, **owned)
    assert {(d.field, d.note) for d in allowed} == {
        ("amount_paid", NOTE_REFUNDED_CREDIT),
        ("balance_due", NOTE_REFUNDED_CREDIT),
    }
    # Not a cent more: a gap the refund and the credit do not explain is still a difference.
    off = {"hubspot_owned_refunds": Decimal("100"), "hubspot_credit": Decimal("19.99")}
    assert {d.field for d in compare_invoice(hubspot, quickbooks, settings=settings, **off)} == {
        "amount_paid",
        "balance_due",
    }
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED

    # Reconciliation reads the same from both books: in sync, nothing to repair or mark.
    report = await Reconciler(
        world.connection_id,
        ConnectorBulkReader(world.crm, world.ledger),
        world.store,
        settings,
        drain=world.sync,
    ).run()
    assert (report.diverged, report.repaired) == (0, 0), report.findings
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def test_a_payment_on_a_qbo_invoice_voided_before_it_synced_is_not_blocked(
    world: World,
) -> None:
    """Soak finding (seed 2005): a bookkeeper's invoice paid, the payment voided, then the
    invoice voided, all before the engine saw them. The invoice was skipped without a state,
    so its payment stayed blocked on it, and woke it, every round: nothing settled."""
    customer = world.qbo.customer("Void Co", "void-first@example.com")
    created = world.qbo.invoice(customer, [("1", "2", "19.95")])
    qbo_id = str(created["Id"])
    payment = world.qbo.payment(customer, [(qbo_id, "11.97")])
    for entity, entity_id in (("Payment", str(payment["Id"])), ("Invoice", qbo_id)):
        current = world.qbo.get(entity, entity_id)
        assert current is not None
        response = await world.clients[1].post(
            f"/v3/company/{world.qbo.realm}/{entity.lower()}",
            params={"operation": "void", "minorversion": "75"},
            json={"Id": entity_id, "SyncToken": current["SyncToken"]},
            headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
        )
        assert response.status_code == 200, response.text
    await world.sync()

    invoice_state = world.state(INVOICE, Side.QUICKBOOKS, qbo_id)
    assert invoice_state is not None and invoice_state.status is SyncStatus.EXCLUDED
    assert "Voided" in (invoice_state.message or "")
    state = world.payment_state(Side.QUICKBOOKS, str(payment["Id"]))
    assert state is None or state.status is not SyncStatus.BLOCKED, state
    assert world.hs.all("invoices") == [] and world.hs.all("commerce_payments") == []


async def test_one_hubspot_payment_over_two_invoices_is_not_synced_where_the_books_differ(
    world: World,
) -> None:
    """Model finding (rule hs_split_pay): HubSpot does not say how a payment associated with
    two invoices is split, and counts it on each. QBO records it once, on the first invoice
    (what that invoice does not owe is the customer's credit: the documented "overpaid"). The
    second invoice stayed `synced` while HubSpot counted 130.00 paid on it and QBO nothing; it
    is now `diverged` on amount paid and balance, with both values."""
    contact = world.hs.contact("split@example.com")
    product = world.hs.product("Part", "SKU-SPLIT", "100.00")
    first = world.hs.invoice(contact, [(product, "1", "100.00")])
    second = world.hs.invoice(contact, [(product, "1", "60.00")])
    await world.sync()
    payment = world.hs.sb.create_object(
        "commerce_payments",
        {
            "hs_initial_amount": "130.00",
            "hs_initiated_date": "2026-11-05T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_currency_code": "USD",
            "hs_payment_method_type": "ach",
            "hs_processor_type": "hs_payments",
        },
        [assoc(first, 542), assoc(second, 542), assoc(contact, 387)],
    )
    await world.sync()

    [recorded] = world.qbo.all("Payment")
    assert Decimal(str(recorded["TotalAmt"])) == Decimal("130.00")
    assert Decimal(str(recorded["UnappliedAmt"])) == Decimal("30.00")
    first_qbo = world.qbo.get("Invoice", world.qbo_id_of(first))
    second_qbo = world.qbo.get("Invoice", world.qbo_id_of(second))
    assert first_qbo is not None and second_qbo is not None
    first_hs, second_hs = world.hs.props("invoices", first), world.hs.props("invoices", second)
    # The first: overpaid, the documented difference (HubSpot 130 of 100, QBO 100 and credit).
    assert (Decimal(first_hs["hs_amount_paid"]), Decimal(str(first_qbo["Balance"]))) == (
        Decimal("130.00"),
        Decimal("0"),
    )
    assert world.invoice_state(first).status is SyncStatus.SYNCED
    # The second: HubSpot counts the payment, QBO does not: diverged, naming both values.
    assert (Decimal(second_hs["hs_amount_paid"]), Decimal(str(second_qbo["Balance"]))) == (
        Decimal("130.00"),
        Decimal("60.00"),
    )
    state = world.invoice_state(second)
    assert state.status is SyncStatus.DIVERGED
    assert {(d.field, d.hubspot, d.quickbooks) for d in state.differences} == {
        ("amount_paid", "130.00", "0.00"),
        ("balance_due", "-70.00", "60.00"),
    }
    assert second_hs["ledgerbridge_sync_status"] == "diverged"
    payment_state = world.payment_state(Side.HUBSPOT, str(payment))
    assert payment_state is not None and payment_state.status is SyncStatus.SYNCED
    report = await world.engine.run_once(500)
    assert report.claimed == 0  # settled: nothing runs again by itself


async def test_a_hubspot_payment_deleted_without_its_webhook_is_found_by_its_invoice(
    world: World,
) -> None:
    """Soak finding (seed 3000): a HubSpot payment recorded in QBO, then deleted in HubSpot,
    and the deletion webhook lost. No poll sees a delete (HubSpot's search never returns
    archived records), so QBO still counted the payment while HubSpot did not, under `synced`.
    The invoice's own change (its balance) is polled: its step sees QBO counting more, finds the
    payment gone from the HubSpot invoice, and its step voids the QBO payment."""
    contact = world.hs.contact("lost-delete@example.com")
    product = world.hs.product("Kit", "SKU-LOST", "79.80")
    invoice = world.hs.invoice(contact, [(product, "2", "79.80")])
    await world.sync()
    payment = world.hs.pay(invoice, "79.80")
    await world.sync()
    [recorded] = world.qbo.all("Payment")
    qbo_id = world.qbo_id_of(invoice)

    world.hs.sb.archive_object("commerce_payments", payment)  # no webhook reaches the engine
    await world.sync()

    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]) == Decimal("159.60")
    assert Decimal(props["hs_amount_paid"]) == Decimal("0")
    voided = world.qbo.get("Payment", str(recorded["Id"]))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == Decimal("0")
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED


async def test_a_hubspot_payment_deleted_without_its_webhook_on_an_invoice_voided_in_qbo(
    world: World,
) -> None:
    """Soak finding (seed 25): as above, but the bookkeeper then voids the invoice in QBO
    (QBO zeroes a voided invoice's amounts, so QBO no longer counts more paid on it). The QBO
    payment stayed live for a payment HubSpot no longer has. A void on either side is now also a
    reason for the invoice's step to look for its deleted HubSpot payments."""
    contact = world.hs.contact("lost-delete-void@example.com")
    product = world.hs.product("Kit", "SKU-LOSTV", "79.80")
    invoice = world.hs.invoice(contact, [(product, "2", "79.80")])
    await world.sync()
    payment = world.hs.pay(invoice, "79.80")
    await world.sync()
    [recorded] = world.qbo.all("Payment")
    qbo_id = world.qbo_id_of(invoice)

    world.hs.sb.archive_object("commerce_payments", payment)  # no webhook reaches the engine
    current = world.qbo.get("Invoice", qbo_id)
    assert current is not None
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/invoice",
        params={"operation": "void", "minorversion": "75"},
        json={"Id": qbo_id, "SyncToken": current["SyncToken"]},
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    await world.sync()

    voided = world.qbo.get("Payment", str(recorded["Id"]))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == Decimal("0")
    assert str(voided.get("PrivateNote") or "").startswith("Voided")
    props = world.hs.props("invoices", invoice)
    assert props["hs_invoice_status"] == "voided"
    assert Decimal(props["hs_amount_paid"]) == Decimal("0")
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED


async def test_a_hubspot_payment_deleted_without_its_webhook_on_an_invoice_deleted_in_qbo(
    world: World,
) -> None:
    """Found while chasing soak seed 17013: as above, but the bookkeeper deletes the QBO invoice
    (the invoice then fails, "deleted in QuickBooks", and its payment stays in QBO as the
    customer's credit). The invoice's step returned before looking for deleted HubSpot
    payments, since there was no QBO invoice to compare, so QBO kept a payment of 30.00 that
    HubSpot no longer had. A deleted QBO invoice is now also a reason to look."""
    contact = world.hs.contact("lost-delete-gone@example.com")
    product = world.hs.product("Kit", "SKU-LOSTD", "100.00")
    invoice = world.hs.invoice(contact, [(product, "1", "100.00")])
    await world.sync()
    payment = world.hs.pay(invoice, "30.00")
    await world.sync()
    [recorded] = world.qbo.all("Payment")
    await _qbo_delete(world, "Invoice", world.qbo_id_of(invoice))
    await world.sync()
    assert world.invoice_state(invoice).status is SyncStatus.FAILED
    live = world.qbo.get("Payment", str(recorded["Id"]))
    assert live is not None and Decimal(str(live["TotalAmt"])) == Decimal("30.00")

    world.hs.sb.archive_object("commerce_payments", payment)  # no webhook reaches the engine
    await world.sync()

    voided = world.qbo.get("Payment", str(recorded["Id"]))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == Decimal("0")
    assert str(voided.get("PrivateNote") or "").startswith("Voided")
    assert Decimal(world.hs.props("invoices", invoice)["hs_amount_paid"]) == Decimal("0")
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED


async def test_a_payment_after_a_full_refund_becomes_credit_the_comparison_knows(
    world: World,
) -> None:
    """Soak finding (seed 47): an invoice of 99.75 paid in full in HubSpot, that payment refunded
    in full there (a RefundReceipt in QBO, which does not reopen the QBO invoice), then paid
    again, 24.94, in HubSpot. QBO applies none of the new payment (its invoice is paid), so all
    of it is the customer's credit: HubSpot counts 24.94 paid, QBO 99.75. The invoice stayed
    `synced` while the comparison knew the refund (99.75) but not the credit (24.94), so the
    documented gap did not add up. The gap is now exactly the refund less the credit the second
    payment left, and named (NOTE_REFUNDED_CREDIT)."""
    contact = world.hs.contact("refund-repay@example.com")
    product = world.hs.product("Widget", "SKU-RR", "99.75")
    invoice = world.hs.invoice(contact, [(product, "1", "99.75")])
    await world.sync()
    first = world.hs.pay(invoice, "99.75")
    await world.sync()
    world.hs.sb.update_object(
        "commerce_payments",
        first,
        {"hs_refunds_amount": "99.75", "hs_latest_status": "refunded"},
    )
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, first)])
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()
    second = world.hs.pay(invoice, "24.94")
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, second)])
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, invoice)])
    await world.sync()

    # Both books, as each holds them.
    qbo_id = world.qbo_id_of(invoice)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert (Decimal(props["hs_amount_paid"]), Decimal(props["hs_balance_due"])) == (
        Decimal("24.94"),
        Decimal("74.81"),
    )
    assert Decimal(str(qbo["Balance"])) == Decimal("0")
    [receipt] = world.qbo.all("RefundReceipt")
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("99.75")
    payments = {Decimal(str(p["TotalAmt"])): p for p in world.qbo.all("Payment")}
    assert Decimal(str(payments[Decimal("24.94")].get("UnappliedAmt") or 0)) == Decimal("24.94")

    # The gap (74.81) is exactly the refund HubSpot owns less the credit QBO keeps, and named.
    hubspot = await world.crm.get_invoice(invoice)
    quickbooks = await world.ledger.get_invoice(qbo_id)
    assert hubspot is not None and quickbooks is not None
    settings = world.engine.settings
    reader = ConnectorBulkReader(world.crm, world.ledger)
    link = world.store.get_link(world.connection_id, INVOICE, Side.QUICKBOOKS, qbo_id)
    assert link is not None
    payment_links = world.store.list_links(world.connection_id, PAYMENT)
    owned, credit = await hubspot_owned(reader, link, quickbooks, hubspot, payment_links)
    assert (owned, credit) == (Decimal("99.75"), Decimal("24.94"))
    found = {"hubspot_owned_refunds": owned, "hubspot_credit": credit}
    assert compare_invoice(hubspot, quickbooks, settings=settings, **found) == []
    allowed = allowed_invoice_differences(hubspot, quickbooks, settings=settings, **found)
    assert {(d.field, d.note) for d in allowed} == {
        ("amount_paid", NOTE_REFUNDED_CREDIT),
        ("balance_due", NOTE_REFUNDED_CREDIT),
    }
    # Not a cent more: the refund alone does not explain the gap.
    assert {
        d.field
        for d in compare_invoice(
            hubspot, quickbooks, settings=settings, hubspot_owned_refunds=owned
        )
    } == {"amount_paid", "balance_due"}
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED
    for payment in (first, second):
        state = world.payment_state(Side.HUBSPOT, payment)
        assert state is not None and state.status is SyncStatus.SYNCED

    # Reconciliation reads the same from both books: in sync, nothing to repair or mark.
    report = await Reconciler(
        world.connection_id, reader, world.store, settings, drain=world.sync
    ).run()
    assert (report.diverged, report.repaired) == (0, 0), report.findings
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED


async def test_a_one_off_payment_deleted_without_its_webhook_is_found_by_reconciliation(
    world: World,
) -> None:
    """Soak finding (seeds 48 and 50): a HubSpot payment tied to no invoice (a payment link),
    recorded in QBO as a sales receipt, then deleted in HubSpot with the deletion webhook lost.
    No poll sees a delete (HubSpot's search never returns archived records) and, unlike a
    payment on an invoice, there is no invoice whose step could notice it, so the receipt
    still counts after polling: the model's oracle asked more than the engine documents. The
    documented net is reconciliation: its comparison names the payment removed in HubSpot, and
    the full sweep voids the receipt (docs/sync-matrix.md, Sales receipts)."""
    engine = world.with_settings(
        SyncSettings(sales_receipts=SalesReceiptSettings(settle_seconds=0))
    )
    contact = world.hs.contact("lost-link-delete@example.com")
    payment = str(
        world.hs.sb.create_object(
            "commerce_payments",
            {
                "hs_initial_amount": "50.00",
                "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_currency_code": "USD",
                "hs_payment_method_type": "card",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": "link-0",
            },
            [assoc(contact, 387)],
        )
    )
    engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, payment)])
    await world.sync()
    [receipt] = world.qbo.all("SalesReceipt")
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("50.00")

    world.hs.sb.archive_object("commerce_payments", payment)  # no webhook reaches the engine
    await world.sync()
    still = world.qbo.get("SalesReceipt", str(receipt["Id"]))
    assert still is not None and Decimal(str(still["TotalAmt"])) == Decimal("50.00")

    reader = ConnectorBulkReader(world.crm, world.ledger)
    link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment)
    assert link is not None
    [pair] = await compare_payment_links(reader, [link], engine.settings)
    assert [(d.field, d.hubspot) for d in pair.diffs] == [("removed", "deleted")]
    report = await Reconciler(
        world.connection_id, reader, world.store, engine.settings, drain=world.sync
    ).run()
    assert report.repaired == 1, report.findings
    voided = world.qbo.get("SalesReceipt", str(receipt["Id"]))
    assert voided is not None and Decimal(str(voided["TotalAmt"])) == Decimal("0")
    assert str(voided.get("PrivateNote") or "").startswith("Voided")
    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED


@pytest.mark.parametrize("failed_first", [True, False])
async def test_a_payment_over_two_invoices_waiting_for_one_that_failed(
    world: World, failed_first: bool
) -> None:
    """Soak finding (seed 9016): one HubSpot payment over two invoices, one of which fails to
    sync (a PO QBO refuses). The payment waits for it (blocked, not retried on its own), so QBO
    does not count it anywhere, while HubSpot counts it on the other invoice too, which stayed
    `synced`. That invoice is now `diverged` on amount paid and balance, with both values, until
    the failed invoice is fixed; then the payment is recorded and the invoice compares again."""
    contact = world.hs.contact("split-failed@example.com")
    product = world.hs.product("Part", "SKU-SPF", "100.00")
    good = world.hs.invoice(contact, [(product, "1", "100.00")])
    bad = world.hs.invoice(contact, [(product, "1", "60.00")], po="P" * 43)
    await world.sync()
    assert world.invoice_state(bad).status is SyncStatus.FAILED
    order = (bad, good) if failed_first else (good, bad)
    payment = world.hs.sb.create_object(
        "commerce_payments",
        {
            "hs_initial_amount": "160.00",
            "hs_initiated_date": "2026-11-05T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_currency_code": "USD",
            "hs_payment_method_type": "ach",
            "hs_processor_type": "hs_payments",
        },
        [assoc(order[0], 542), assoc(order[1], 542), assoc(contact, 387)],
    )
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, str(payment))])
    await world.sync()

    assert world.qbo.all("Payment") == []
    state = world.payment_state(Side.HUBSPOT, str(payment))
    assert state is not None and state.status is SyncStatus.BLOCKED
    good_qbo = world.qbo.get("Invoice", world.qbo_id_of(good))
    assert good_qbo is not None and Decimal(str(good_qbo["Balance"])) == Decimal("100.00")
    assert Decimal(world.hs.props("invoices", good)["hs_amount_paid"]) == Decimal("160.00")
    good_state = world.invoice_state(good)
    assert good_state.status is SyncStatus.DIVERGED
    assert {(d.field, d.hubspot, d.quickbooks) for d in good_state.differences} == {
        ("amount_paid", "160.00", "0.00"),
        ("balance_due", "-60.00", "100.00"),
    }
    assert world.hs.props("invoices", good)["ledgerbridge_sync_status"] == "diverged"

    # Fixed: the payment is recorded; the good invoice is the documented "overpaid" when QBO
    # applied the payment to it, else it still differs (HubSpot does not say the split).
    world.hs.sb.update_object("invoices", bad, {"hs_purchase_order_number": "PO-OK"})
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, INVOICE, bad)])
    await world.sync()
    [recorded] = world.qbo.all("Payment")
    assert Decimal(str(recorded["TotalAmt"])) == Decimal("160.00")
    applied = {str(line["LinkedTxn"][0]["TxnId"]) for line in recorded["Line"]}
    good_qbo = world.qbo.get("Invoice", world.qbo_id_of(good))
    assert good_qbo is not None
    if world.qbo_id_of(good) in applied:
        assert Decimal(str(good_qbo["Balance"])) == Decimal("0")
        assert world.invoice_state(good).status is SyncStatus.SYNCED
    else:
        assert world.invoice_state(good).status is SyncStatus.DIVERGED


async def test_a_hubspot_payment_on_an_invoice_whose_customer_changed_in_qbo(
    world: World,
) -> None:
    """Soak finding (seed 7034): a synced invoice whose customer the bookkeeper changed in QBO
    (the change reached HubSpot, so the invoice is synced), then paid in HubSpot. The payment
    was written for the customer the invoice's link remembered from before, which QBO refuses
    ("Invoice belongs to another customer"): the payment failed, and the invoice stayed
    `synced` while HubSpot counted it paid and QBO did not. The payment now goes to the
    invoice's customer as QBO holds it."""
    contact = world.hs.contact("first-owner@example.com")
    product = world.hs.product("Tool", "SKU-OWN", "75.81")
    invoice = world.hs.invoice(contact, [(product, "1", "75.81")])
    await world.sync()
    qbo_id = world.qbo_id_of(invoice)
    other = world.qbo.customer("Other Owner", "other-owner@example.com")
    current = world.qbo.get("Invoice", qbo_id)
    assert current is not None
    response = await world.clients[1].post(
        f"/v3/company/{world.qbo.realm}/invoice",
        params={"minorversion": "75"},
        json={
            "Id": qbo_id,
            "SyncToken": current["SyncToken"],
            "sparse": True,
            "CustomerRef": {"value": other},
        },
        headers={"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    world.engine.handle_events([ChangeEvent(Side.QUICKBOOKS, INVOICE, qbo_id)])
    await world.sync()
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED

    payment = world.hs.pay(invoice, "18.95")
    world.engine.handle_events([ChangeEvent(Side.HUBSPOT, PAYMENT, payment)])
    await world.sync()

    state = world.payment_state(Side.HUBSPOT, payment)
    assert state is not None and state.status is SyncStatus.SYNCED, state
    [recorded] = world.qbo.all("Payment")
    assert str(recorded["CustomerRef"]["value"]) == str(other)
    qbo = world.qbo.get("Invoice", qbo_id)
    assert qbo is not None
    props = world.hs.props("invoices", invoice)
    assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]) == Decimal("56.86")
    assert world.invoice_state(invoice).status is SyncStatus.SYNCED
