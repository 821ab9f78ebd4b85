"""Browser tests: payments on the invoice panel. A payment received in QuickBooks shows on the
HubSpot invoice (with a link to it in QuickBooks) and is refunded from the panel; a payment is
deleted from the panel. Both are recorded in HubSpot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE


def _qbo_invoice_id(stack: ConsoleStack, invoice_id: str) -> str:
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_id
    return link.qbo_id


def _hubspot_payment(stack: ConsoleStack, payment_id: str) -> dict[str, Any]:
    with stack.hubspot_client() as hs:
        response = hs.get(
            f"/crm/v3/objects/commerce_payments/{payment_id}",
            params=[
                ("properties", p)
                for p in (
                    "hs_refunds_amount",
                    "hs_latest_status",
                    "hs_internal_comment",
                    "hs_initial_amount",
                )
            ],
        )
    return response.json() if response.status_code == 200 else {}


def test_quickbooks_payment_shows_and_is_refunded(page: Page, ui: Any, stack: ConsoleStack) -> None:
    invoice_id = ui.create_invoice(page, contact="Chloe", products=[("Onboarding package", "1")])
    ui.expect_sync_status(page, "Synced")

    # The customer pays 500.00 of 1,200.00 in QuickBooks.
    qbo_invoice = _qbo_invoice_id(stack, invoice_id)
    with stack.qbo_client() as qbo:
        customer = qbo.get(f"/invoice/{qbo_invoice}").json()["Invoice"]["CustomerRef"]
        created = qbo.post(
            "/payment",
            json={
                "CustomerRef": {"value": customer["value"]},
                "TotalAmt": 500.00,
                "TxnDate": dt.date.today().isoformat(),
                "PaymentRefNum": "CHK-2201",
                "Line": [
                    {"Amount": 500.00, "LinkedTxn": [{"TxnId": qbo_invoice, "TxnType": "Invoice"}]}
                ],
            },
        )
        assert created.status_code == 200, created.text
        qbo_payment = created.json()["Payment"]["Id"]

    # It appears on the HubSpot invoice, from QuickBooks, with its details and a link back.
    ui.open_invoice(page, invoice_id)
    payment = ui.reload_until(page, "#panel details.payment").first
    expect(payment).to_contain_text("$500.00")
    expect(payment).to_contain_text("QuickBooks")
    expect(page.locator("#panel [data-balance]")).to_have_text("$700.00")
    payment.locator("summary").click()
    expect(payment).to_contain_text("CHK-2201")
    view = payment.get_by_role("link", name="View payment in QuickBooks")
    expect(view).to_have_attribute("href", f"/quickbooks/payments/{qbo_payment}")
    payment_id = payment.get_attribute("data-payment-id")
    assert payment_id

    # Refund 120.00 of it, because the customer asked.
    payment.get_by_role("button", name="Refund").click()
    dialog = page.locator(f"#refund-{payment_id}")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Refund amount").fill("120.00")
    dialog.get_by_label("Reason").select_option("requested_by_customer")
    dialog.get_by_role("button", name="Refund").click()

    expect(page.locator(".flash.success")).to_have_text("Refund of $120.00 recorded.")
    refunded = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    expect(refunded).to_contain_text("Partially refunded")
    expect(page.locator("#panel [data-balance]")).to_have_text("$820.00")
    recorded = _hubspot_payment(stack, payment_id)["properties"]
    assert Decimal(recorded["hs_refunds_amount"]) == Decimal("120.00")
    assert recorded["hs_latest_status"] == "partially_refunded"
    assert "Requested by customer" in recorded["hs_internal_comment"]

    # The link opens the payment as QuickBooks holds it.
    refunded.locator("summary").click()
    refunded.get_by_role("link", name="View payment in QuickBooks").click()
    expect(page.locator("h1")).to_contain_text("QuickBooks payment")
    expect(page.locator("main")).to_contain_text("$500.00")


def test_refund_more_than_paid_is_refused(page: Page, ui: Any, stack: ConsoleStack) -> None:
    invoice_id = ui.create_invoice(page, contact="Dev", products=[("Support plan", "2")])
    with stack.hubspot_client() as hs:
        created = hs.post(
            "/crm/v3/objects/commerce_payments",
            json={
                "properties": {
                    "hs_initial_amount": "179.98",
                    "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
                    "hs_latest_status": "succeeded",
                    "hs_processor_type": "hs_payments",
                    "hs_currency_code": "USD",
                },
                "associations": [
                    {
                        "to": {"id": invoice_id},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 542}
                        ],
                    }
                ],
            },
        )
        payment_id = created.json()["id"]
    ui.open_invoice(page, invoice_id)
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    payment.locator("summary").click()
    payment.get_by_role("button", name="Refund").click()
    dialog = page.locator(f"#refund-{payment_id}")
    dialog.get_by_label("Refund amount").fill("500")
    dialog.get_by_label("Reason").select_option("duplicate")
    dialog.get_by_role("button", name="Refund").click()
    expect(page.locator(".flash.error")).to_have_text("You can refund at most $179.98.")
    assert _hubspot_payment(stack, payment_id)["properties"].get("hs_refunds_amount") in (
        None,
        "",
        "0",
    )


def test_delete_payment_after_confirmation(page: Page, ui: Any, stack: ConsoleStack) -> None:
    invoice_id = ui.create_invoice(page, contact="Elena", products=[("Training seat", "2")])
    with stack.hubspot_client() as hs:
        created = hs.post(
            "/crm/v3/objects/commerce_payments",
            json={
                "properties": {
                    "hs_initial_amount": "499.00",
                    "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
                    "hs_latest_status": "succeeded",
                    "hs_processor_type": "hs_payments",
                    "hs_currency_code": "USD",
                    "hs_reference_number": "WIRE-88",
                },
                "associations": [
                    {
                        "to": {"id": invoice_id},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 542}
                        ],
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
        payment_id = created.json()["id"]

    ui.open_invoice(page, invoice_id)
    expect(page.locator("#panel [data-balance]")).to_have_text("$0.00")
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    payment.locator("summary").click()
    payment.get_by_role("button", name="Delete").click()
    dialog = page.locator(f"#delete-{payment_id}")
    expect(dialog).to_contain_text("Delete this payment?")
    # Cancel first: nothing happens.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(payment).to_be_visible()

    payment.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete payment").click()
    expect(page.locator(".flash.success")).to_have_text("Payment deleted.")
    expect(page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")).to_have_count(0)
    expect(page.locator("#panel [data-balance]")).to_have_text("$499.00")
    assert _hubspot_payment(stack, payment_id) == {}  # archived: gone from reads
