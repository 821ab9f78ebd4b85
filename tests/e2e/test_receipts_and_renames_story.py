"""Sales receipts, the paid-invoice workflow, refunds made in QuickBooks and company renames,
end to end over real sockets: `ledgerbridge demo`'s stack (both sandboxes sending signed webhooks
to the ingress, the worker, the console), with an empty portal and company, driven through the
APIs' REST endpoints and, for what the console shows, headless Chromium. Polling is once a
minute, so what converges here comes from the webhooks (and the worker's own retry times).

- A one-off HubSpot payment (a payment link: tied to a contact, to no invoice) becomes exactly
  one QBO SalesReceipt once it has settled (a 2-second wait here), and its refund a
  RefundReceipt; the payments report lists it as that receipt.
- A workflow's invoice and its payment, created together: one QBO Invoice and one Payment
  (the default), or one SalesReceipt and neither (`paid_invoice = "sales_receipt"`, shown on
  the invoice panel); a payment tied to its invoice only after it was made is never a receipt.
- A refund receipt made by hand in QBO refunds the HubSpot payment (amount, status, note), and
  the invoice panel shows it.
- A HubSpot company rename reaches the QBO customer's CompanyName and DisplayName.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from stack import DemoStack, HubSpotRest, QboRest, assoc, new_uid, wait_for

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import SalesReceiptSettings
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, PAYMENT, SALES_RECEIPT, RecordKey

BUDGET = 20.0
SETTLE_SECONDS = 2  # the wait before a payment tied to no invoice is booked as a receipt


@pytest.fixture(scope="module", autouse=True)
def short_settle(demo_stack: DemoStack) -> None:
    conn = demo_stack.connection
    demo_stack.runtime.update_sync_settings(
        conn.id,
        conn.sync_settings.model_copy(
            update={"sales_receipts": SalesReceiptSettings(settle_seconds=SETTLE_SECONDS)}
        ),
    )


def _link(demo_stack: DemoStack, kind: str, hubspot_id: str) -> Any:
    found = demo_stack.runtime.store.get_link(
        demo_stack.connection.id, kind, Side.HUBSPOT, hubspot_id
    )
    return found if found is not None and found.qbo_id else None


def _payment_synced(demo_stack: DemoStack, payment_id: str) -> None:
    key = RecordKey(demo_stack.connection.id, PAYMENT, Side.HUBSPOT, payment_id)

    def synced() -> Any:
        state = demo_stack.runtime.store.get_state(key)
        return state if state is not None and state.status is SyncStatus.SYNCED else None

    wait_for(synced, BUDGET, what=f"HubSpot payment {payment_id} to read synced")


def _customer_rows(qbo: QboRest, entity: str, customer_id: str) -> list[dict[str, Any]]:
    return [
        row
        for row in qbo.query(f"select * from {entity}")
        if str(row.get("CustomerRef", {}).get("value")) == customer_id
    ]


def _payment_props(hs: HubSpotRest, payment_id: str) -> dict[str, Any]:
    return hs.get(
        "commerce_payments",
        payment_id,
        [
            "hs_initial_amount",
            "hs_initiated_date",
            "hs_reference_number",
            "hs_refunds_amount",
            "hs_latest_status",
            "hs_internal_comment",
        ],
    )["properties"]


def _login(browser: Any, demo_stack: DemoStack) -> Any:
    context = browser.new_context(
        base_url=demo_stack.console_url, viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto("/invoices")
    tab.fill("#username", "admin")
    tab.fill("#password", "correct-horse")
    tab.click("button[type=submit]")
    tab.wait_for_url("**/invoices")
    return tab


def test_one_off_payment_becomes_one_sales_receipt_and_its_refund_a_refund_receipt(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest, browser: Any
) -> None:
    from playwright.sync_api import expect

    uid = new_uid()
    email = f"link.{uid}@receipts.example"
    contact = hs.contact(email, "Lin", "Link", company=f"Link Co {uid}")
    payment_id = hs.create(
        "commerce_payments",
        {
            "hs_initial_amount": "80.25",
            "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_currency_code": "USD",
            "hs_payment_method_type": "card",
            "hs_processor_type": "hs_payments",
            "hs_reference_number": f"pl_{uid}",
        },
        [assoc(contact, 387)],
    )

    link = wait_for(
        lambda: _link(demo_stack, PAYMENT, payment_id),
        BUDGET + SETTLE_SECONDS,
        what="the sales receipt in QuickBooks",
    )
    assert link.qbo_kind == SALES_RECEIPT
    _payment_synced(demo_stack, payment_id)
    receipt = qbo.get("SalesReceipt", link.qbo_id)
    props = _payment_props(hs, payment_id)
    assert (
        Decimal(str(receipt["TotalAmt"])) == Decimal(props["hs_initial_amount"]) == Decimal("80.25")
    )
    assert receipt["TxnDate"] == props["hs_initiated_date"][:10]
    assert receipt["PaymentRefNum"] == props["hs_reference_number"]
    customer = qbo.get("Customer", str(receipt["CustomerRef"]["value"]))
    assert customer["PrimaryEmailAddr"]["Address"] == email
    [line] = [x for x in receipt["Line"] if x.get("DetailType") == "SalesItemLineDetail"]
    item = qbo.get("Item", str(line["SalesItemLineDetail"]["ItemRef"]["value"]))
    assert item["Name"] == "Sales"
    # Exactly one receipt, and neither an invoice nor a payment, for this customer.
    assert len(_customer_rows(qbo, "SalesReceipt", customer["Id"])) == 1
    assert _customer_rows(qbo, "Payment", customer["Id"]) == []
    assert _customer_rows(qbo, "Invoice", customer["Id"]) == []

    hs.update(
        "commerce_payments",
        payment_id,
        {"hs_refunds_amount": "30.00", "hs_latest_status": "partially_refunded"},
    )

    def refunded() -> list[dict[str, Any]] | None:
        rows = _customer_rows(qbo, "RefundReceipt", customer["Id"])
        return rows or None

    [refund] = wait_for(refunded, BUDGET + SETTLE_SECONDS, what="the refund receipt")
    props = _payment_props(hs, payment_id)
    assert (
        Decimal(str(refund["TotalAmt"])) == Decimal(props["hs_refunds_amount"]) == Decimal("30.00")
    )
    assert props["hs_latest_status"] == "partially_refunded"
    _payment_synced(demo_stack, payment_id)
    assert _link(demo_stack, PAYMENT, payment_id).extra.get("refund_ids") == [str(refund["Id"])]
    # The receipt itself is left as it was; still one of it.
    again = qbo.get("SalesReceipt", link.qbo_id)
    assert Decimal(str(again["TotalAmt"])) == Decimal("80.25")
    assert len(_customer_rows(qbo, "SalesReceipt", customer["Id"])) == 1

    # The console's payments report lists it as that sales receipt, with its refund.
    today = dt.date.today().isoformat()
    tab = _login(browser, demo_stack)
    try:
        tab.goto(f"/reports/payments?from={today}&to={today}")
        row = tab.locator(f"#report-payments tr[data-payment-id='{payment_id}']")
        expect(row.locator("[data-qbo-record]")).to_have_text(f"Sales receipt {link.qbo_id}")
        expect(row).to_contain_text("$80.25")
        expect(row).to_contain_text("$30.00")
        expect(row.locator("[data-payment-status]")).to_have_text("Partially refunded")
    finally:
        tab.context.close()


def test_workflow_invoice_and_payment_created_together_land_once(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    email = f"flow.{uid}@receipts.example"
    contact = hs.contact(email, "Wim", "Flow", company=f"Workflow {uid}")
    product = hs.product(f"Consulting {uid}", f"W-{uid}", "250.00")
    # What a workflow does: the invoice, finished, and its payment right after.
    invoice_id = hs.invoice(contact, [(product, "1", "250.00")])
    payment_id = hs.create(
        "commerce_payments",
        {
            "hs_initial_amount": "250.00",
            "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_processor_type": "hs_payments",
            "hs_currency_code": "USD",
        },
        [assoc(invoice_id, 542)],
    )

    def both_synced() -> dict[str, Any] | None:
        props = hs.get(
            "invoices",
            invoice_id,
            ["ledgerbridge_sync_status", "qbo_invoice_id", "hs_amount_billed", "hs_balance_due"],
        )["properties"]
        if props.get("ledgerbridge_sync_status") != "synced":
            return None
        if _link(demo_stack, PAYMENT, payment_id) is None:
            return None
        return props

    props = wait_for(both_synced, BUDGET, what="the invoice and its payment in QuickBooks")
    _payment_synced(demo_stack, payment_id)
    # Past the settle wait: anything that would book the payment a second time has had its turn.
    time.sleep(SETTLE_SECONDS + 1)
    qbo_invoice = qbo.get("Invoice", props["qbo_invoice_id"])
    customer_id = str(qbo_invoice["CustomerRef"]["value"])
    assert qbo.get("Customer", customer_id)["PrimaryEmailAddr"]["Address"] == email

    def settled() -> list[dict[str, Any]] | None:
        payments = _customer_rows(qbo, "Payment", customer_id)
        fresh = qbo.get("Invoice", props["qbo_invoice_id"])
        return payments if Decimal(str(fresh["Balance"])) == 0 else None

    payments = wait_for(settled, BUDGET, what="the QuickBooks invoice to be paid")
    assert [row["Id"] for row in _customer_rows(qbo, "Invoice", customer_id)] == [
        props["qbo_invoice_id"]
    ]
    assert _customer_rows(qbo, "SalesReceipt", customer_id) == []
    [payment] = payments
    link = _link(demo_stack, PAYMENT, payment_id)
    assert link.qbo_id == str(payment["Id"]) and link.qbo_kind == ""
    hs_payment = _payment_props(hs, payment_id)
    assert Decimal(str(payment["TotalAmt"])) == Decimal(hs_payment["hs_initial_amount"])
    assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == props["qbo_invoice_id"]
    hs_invoice = hs.get("invoices", invoice_id, ["hs_amount_billed", "hs_balance_due"])
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(
        hs_invoice["properties"]["hs_amount_billed"]
    )
    assert Decimal(hs_invoice["properties"]["hs_balance_due"]) == 0


def test_company_rename_reaches_the_quickbooks_customer(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    uid = new_uid()
    company = hs.create("companies", {"name": f"Birch Works {uid}"})
    contact = hs.create(
        "contacts",
        {
            "email": f"bea.{uid}@birch.example",
            "firstname": "Bea",
            "lastname": "Birch",
            "company": f"Birch Works {uid}",
        },
        [assoc(company, 279)],
    )
    product = hs.product(f"Audit day {uid}", f"RN-{uid}", "400.00")
    invoice_id = hs.invoice(contact, [(product, "1", "400.00")])
    wait_for(
        lambda: (
            hs.get("invoices", invoice_id, ["ledgerbridge_sync_status"])["properties"].get(
                "ledgerbridge_sync_status"
            )
            == "synced"
        ),
        BUDGET,
        what="the invoice in QuickBooks",
    )
    link = _link(demo_stack, CUSTOMER, contact)
    assert link is not None
    before = qbo.get("Customer", link.qbo_id)
    assert (before.get("CompanyName"), before["DisplayName"]) == (
        f"Birch Works {uid}",
        f"Birch Works {uid}",
    )

    hs.update("companies", company, {"name": f"Birch & Sons {uid}"})

    def renamed() -> dict[str, Any] | None:
        row = qbo.get("Customer", link.qbo_id)
        return row if row.get("CompanyName") == f"Birch & Sons {uid}" else None

    row = wait_for(renamed, BUDGET, what="the QuickBooks customer's new name")
    hs_name = hs.get("companies", company, ["name"])["properties"]["name"]
    assert row["CompanyName"] == row["DisplayName"] == hs_name == f"Birch & Sons {uid}"
    # The contact's own fields are kept.
    assert (row["GivenName"], row["FamilyName"]) == ("Bea", "Birch")
    assert row["PrimaryEmailAddr"]["Address"] == f"bea.{uid}@birch.example"


def test_refund_receipt_made_in_quickbooks_refunds_the_hubspot_payment(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest, browser: Any
) -> None:
    from playwright.sync_api import expect

    uid = new_uid()
    contact = hs.contact(f"rr.{uid}@fjord.example", "Rui", "Refund", company=f"Fjord {uid}")
    product = hs.product(f"Consulting {uid}", f"RR-{uid}", "500.00")
    invoice_id = hs.invoice(contact, [(product, "1", "500.00")])
    payment_id = hs.create(
        "commerce_payments",
        {
            "hs_initial_amount": "500.00",
            "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_processor_type": "hs_payments",
            "hs_currency_code": "USD",
            "hs_reference_number": f"REF-{uid}",
        },
        [assoc(invoice_id, 542)],
    )
    link = wait_for(
        lambda: _link(demo_stack, PAYMENT, payment_id), BUDGET, what="the payment in QuickBooks"
    )
    qbo_payment = qbo.get("Payment", link.qbo_id)
    invoice_link = wait_for(
        lambda: _link(demo_stack, INVOICE, invoice_id), BUDGET, what="the invoice's link"
    )
    qbo_invoice = qbo.get("Invoice", invoice_link.qbo_id)
    [sold] = [x for x in qbo_invoice["Line"] if x.get("DetailType") == "SalesItemLineDetail"]
    bank = next(a for a in qbo.query("select * from Account") if a.get("AccountType") == "Bank")

    # The bookkeeper refunds part of it by hand in QuickBooks, quoting the payment's reference.
    receipt = qbo.create(
        "RefundReceipt",
        {
            "CustomerRef": {"value": qbo_payment["CustomerRef"]["value"]},
            "DepositToAccountRef": {"value": bank["Id"]},
            "TxnDate": dt.date.today().isoformat(),
            "PaymentRefNum": f"REF-{uid}",
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "120.00",
                    "SalesItemLineDetail": {
                        "ItemRef": sold["SalesItemLineDetail"]["ItemRef"],
                        "Qty": 1,
                        "UnitPrice": "120.00",
                    },
                }
            ],
        },
    )

    def refunded() -> dict[str, Any] | None:
        props = _payment_props(hs, payment_id)
        return props if props.get("hs_refunds_amount") else None

    props = wait_for(refunded, BUDGET, what="HubSpot's refunded amount")
    assert (
        Decimal(props["hs_refunds_amount"])
        == Decimal(str(receipt["TotalAmt"]))
        == Decimal("120.00")
    )
    assert props["hs_latest_status"] == "partially_refunded"
    assert (
        f"Refund receipt {receipt['Id']} in QuickBooks: 120.00 USD" in props["hs_internal_comment"]
    )
    link = _link(demo_stack, PAYMENT, payment_id)
    assert link.extra.get("refund_ids") == [str(receipt["Id"])]
    # Nothing was booked back into QuickBooks for it, and the payment is as it was.
    assert [
        r["Id"] for r in _customer_rows(qbo, "RefundReceipt", receipt["CustomerRef"]["value"])
    ] == [receipt["Id"]]
    assert Decimal(str(qbo.get("Payment", qbo_payment["Id"])["TotalAmt"])) == Decimal("500.00")

    # The console's invoice panel shows the refund on the payment.
    tab = _login(browser, demo_stack)
    try:
        tab.goto(f"/invoices?open={invoice_id}")
        payment = tab.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
        payment.locator("summary").click()
        expect(payment.locator("[data-refunded]")).to_have_text("$120.00")
        expect(payment.locator("[data-qbo-refunded]")).to_contain_text("$120.00")
        expect(payment.locator("[data-qbo-refunded]")).to_contain_text(
            f"refund receipt {receipt['Id']}"
        )
        expect(payment.locator("[data-payment-status]")).to_have_text("Partially refunded")
    finally:
        tab.context.close()


def test_workflow_invoice_paid_at_once_as_one_sales_receipt_when_chosen(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest, browser: Any
) -> None:
    from playwright.sync_api import expect

    conn = demo_stack.connection
    before = conn.sync_settings
    demo_stack.runtime.update_sync_settings(
        conn.id,
        before.model_copy(
            update={
                "sales_receipts": SalesReceiptSettings(
                    settle_seconds=SETTLE_SECONDS, paid_invoice="sales_receipt"
                )
            }
        ),
    )
    try:
        uid = new_uid()
        email = f"paid.{uid}@receipts.example"
        contact = hs.contact(email, "Pia", "Paid", company=f"Paid Co {uid}")
        product = hs.product(f"Workshop {uid}", f"WS-{uid}", "180.00")
        invoice_id = hs.invoice(contact, [(product, "1", "180.00")])
        payment_id = hs.create(
            "commerce_payments",
            {
                "hs_initial_amount": "180.00",
                "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_processor_type": "hs_payments",
                "hs_currency_code": "USD",
            },
            [assoc(invoice_id, 542)],
        )
        link = wait_for(
            lambda: _link(demo_stack, INVOICE, invoice_id),
            BUDGET + SETTLE_SECONDS,
            what="the invoice's sales receipt",
        )
        assert link.qbo_kind == SALES_RECEIPT
        wait_for(
            lambda: (
                hs.get("invoices", invoice_id, ["ledgerbridge_sync_status"])["properties"].get(
                    "ledgerbridge_sync_status"
                )
                == "synced"
            ),
            BUDGET,
            what="the invoice to read synced in HubSpot",
        )
        _payment_synced(demo_stack, payment_id)  # as part of the receipt, nothing written
        time.sleep(SETTLE_SECONDS + 1)  # past every wait: nothing else is booked for it
        receipt = qbo.get("SalesReceipt", link.qbo_id)
        customer_id = str(receipt["CustomerRef"]["value"])
        assert qbo.get("Customer", customer_id)["PrimaryEmailAddr"]["Address"] == email
        hs_invoice = hs.get("invoices", invoice_id, ["hs_amount_billed"])["properties"]
        hs_payment = _payment_props(hs, payment_id)
        assert (
            Decimal(str(receipt["TotalAmt"]))
            == Decimal(hs_invoice["hs_amount_billed"])
            == Decimal(hs_payment["hs_initial_amount"])
            == Decimal("180.00")
        )
        assert [r["Id"] for r in _customer_rows(qbo, "SalesReceipt", customer_id)] == [
            receipt["Id"]
        ]
        assert _customer_rows(qbo, "Invoice", customer_id) == []
        assert _customer_rows(qbo, "Payment", customer_id) == []
    finally:
        demo_stack.runtime.update_sync_settings(conn.id, before)

    # The console's invoice panel says what QuickBooks holds: the sales receipt.
    tab = _login(browser, demo_stack)
    try:
        tab.goto(f"/invoices?open={invoice_id}")
        panel = tab.locator(f"#panel .invoice-panel[data-invoice-id='{invoice_id}']")
        expect(panel.locator("[data-sync-status]")).to_have_text("Synced")
        expect(panel.get_by_text("QBO sales receipt")).to_be_visible()
        view = panel.get_by_role("link", name="View sales receipt in QuickBooks")
        expect(view).to_have_attribute("href", re.compile(rf"salesreceipt.*\b{receipt['Id']}\b"))
    finally:
        tab.context.close()


def test_payment_tied_to_its_invoice_after_it_was_made_is_never_a_receipt_too(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    """A workflow makes the payment (tied to the contact only), then ties it to the invoice:
    it becomes the invoice's QBO Payment, and no sales receipt is made
    for it, even after its wait is over."""
    settle = 8
    conn = demo_stack.connection
    before = conn.sync_settings
    demo_stack.runtime.update_sync_settings(
        conn.id,
        before.model_copy(update={"sales_receipts": SalesReceiptSettings(settle_seconds=settle)}),
    )
    try:
        uid = new_uid()
        email = f"late.{uid}@receipts.example"
        contact = hs.contact(email, "Lou", "Late", company=f"Late Tie {uid}")
        product = hs.product(f"Retainer {uid}", f"LT-{uid}", "320.00")
        invoice_id = hs.invoice(contact, [(product, "1", "320.00")])
        payment_id = hs.create(
            "commerce_payments",
            {
                "hs_initial_amount": "320.00",
                "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_processor_type": "hs_payments",
                "hs_currency_code": "USD",
                "hs_reference_number": f"late_{uid}",
            },
            [assoc(contact, 387)],
        )
        made = time.monotonic()
        tied = hs.http.put(
            f"/crm/v4/objects/commerce_payments/{payment_id}/associations/default/invoices/"
            f"{invoice_id}"
        )
        assert tied.status_code in (200, 201), tied.text
        link = wait_for(
            lambda: _link(demo_stack, PAYMENT, payment_id), BUDGET, what="the QuickBooks payment"
        )
        _payment_synced(demo_stack, payment_id)
        # Past the payment's own wait: it is looked at again, and books nothing more.
        time.sleep(max(0.0, settle + 2 - (time.monotonic() - made)))
        assert link.qbo_kind == ""
        payment = qbo.get("Payment", link.qbo_id)
        customer_id = str(payment["CustomerRef"]["value"])
        assert qbo.get("Customer", customer_id)["PrimaryEmailAddr"]["Address"] == email
        invoice_link = _link(demo_stack, INVOICE, invoice_id)
        assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == invoice_link.qbo_id
        hs_payment = _payment_props(hs, payment_id)
        assert Decimal(str(payment["TotalAmt"])) == Decimal(hs_payment["hs_initial_amount"])
        assert [p["Id"] for p in _customer_rows(qbo, "Payment", customer_id)] == [payment["Id"]]
        assert [i["Id"] for i in _customer_rows(qbo, "Invoice", customer_id)] == [
            invoice_link.qbo_id
        ]
        assert _customer_rows(qbo, "SalesReceipt", customer_id) == []
        assert _link(demo_stack, PAYMENT, payment_id).qbo_id == link.qbo_id
        hs_invoice = hs.get("invoices", invoice_id, ["hs_balance_due"])["properties"]
        fresh = qbo.get("Invoice", invoice_link.qbo_id)
        assert Decimal(str(fresh["Balance"])) == Decimal(hs_invoice["hs_balance_due"]) == 0
    finally:
        demo_stack.runtime.update_sync_settings(conn.id, before)
