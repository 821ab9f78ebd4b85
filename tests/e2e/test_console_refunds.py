"""Browser tests: what refunds and deletes do in QuickBooks. The refund and delete dialogs say it
before the user confirms; a refund from the panel becomes a QuickBooks refund receipt shown on
the panel; a deleted payment voids the QuickBooks payment; a QuickBooks payment voided in
QuickBooks keeps its amount in HubSpot and says "Voided in QuickBooks"."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from playwright.sync_api import Page, expect

from ledgerbridge.bootstrap import load_sync_settings
from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE, PAYMENT, REFUND

T = TypeVar("T")


def _until(what: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the sync")
        time.sleep(0.3)


def _qbo_invoice_id(stack: ConsoleStack, invoice_id: str) -> str:
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_id
    return link.qbo_id


def _qbo_payment_of(stack: ConsoleStack, payment_id: str) -> str | None:
    link = stack.runtime.store.get_link(stack.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    return link.qbo_id if link is not None and link.qbo_id else None


def _hubspot_payment(stack: ConsoleStack, invoice_id: str, amount: str) -> str:
    with stack.hubspot_client() as hs:
        created = hs.post(
            "/crm/v3/objects/commerce_payments",
            json={
                "properties": {
                    "hs_initial_amount": amount,
                    "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
                    "hs_latest_status": "succeeded",
                    "hs_processor_type": "hs_payments",
                    "hs_currency_code": "USD",
                    "hs_reference_number": "CARD-77",
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
        return str(created.json()["id"])


def _qbo_get(stack: ConsoleStack, entity: str, entity_id: str) -> dict[str, Any]:
    with stack.qbo_client() as qbo:
        response = qbo.get(f"/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        return dict(response.json()[entity])


def _refund_receipts(stack: ConsoleStack, payment_id: str) -> list[dict[str, Any]]:
    link = stack.runtime.store.get_link(stack.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    ids = (link.extra.get("refund_ids") or []) if link else []
    return [_qbo_get(stack, "RefundReceipt", str(i)) for i in ids]


def test_refund_and_delete_say_and_do_what_happens_in_quickbooks(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(page, contact="Chloe", products=[("Onboarding package", "1")])
    ui.expect_sync_status(page, "Synced")
    payment_id = _hubspot_payment(stack, invoice_id, "200.00")
    qbo_payment = _until(lambda: _qbo_payment_of(stack, payment_id))

    # The refund dialog says what QuickBooks will get before the user confirms.
    ui.open_invoice(page, invoice_id)
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    payment.locator("summary").click()
    payment.get_by_role("button", name="Refund").click()
    dialog = page.locator(f"#refund-{payment_id}")
    expect(dialog.locator("[data-qbo-effect]")).to_contain_text(
        f"a refund receipt for this amount is created against payment {qbo_payment}"
    )
    dialog.get_by_label("Refund amount").fill("50.00")
    dialog.get_by_label("Reason").select_option("requested_by_customer")
    dialog.get_by_role("button", name="Refund").click()
    expect(page.locator(".flash.success")).to_have_text("Refund of $50.00 recorded.")

    # The refund is booked in QuickBooks: a refund receipt for 50.00, with the reason.
    receipts = _until(lambda: _refund_receipts(stack, payment_id))
    assert [Decimal(str(r["TotalAmt"])) for r in receipts] == [Decimal("50.00")]
    assert "Requested by customer" in receipts[0]["PrivateNote"]
    ui.open_invoice(page, invoice_id)
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    payment.locator("summary").click()
    expect(payment.locator("[data-refunded]")).to_have_text("$50.00")
    expect(payment.locator("[data-qbo-refunded]")).to_contain_text("$50.00")

    # The delete dialog says the QuickBooks payment will be voided; deleting does it.
    payment.get_by_role("button", name="Delete").click()
    dialog = page.locator(f"#delete-{payment_id}")
    expect(dialog.locator("[data-qbo-effect]")).to_contain_text(f"payment {qbo_payment} is voided")
    dialog.get_by_role("button", name="Delete payment").click()
    expect(page.locator(".flash.success")).to_have_text("Payment deleted.")
    voided = _until(
        lambda: (
            (p := _qbo_get(stack, "Payment", qbo_payment))
            and str(p.get("PrivateNote", "")).startswith("Voided")
            and p
        )
    )
    assert Decimal(str(voided["TotalAmt"])) == 0


def test_voided_quickbooks_payment_keeps_its_amount(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(page, contact="Dev", products=[("Support plan", "1")])
    ui.expect_sync_status(page, "Synced")
    qbo_invoice = _qbo_invoice_id(stack, invoice_id)
    with stack.qbo_client() as qbo:
        customer = qbo.get(f"/invoice/{qbo_invoice}").json()["Invoice"]["CustomerRef"]
        created = qbo.post(
            "/payment",
            json={
                "CustomerRef": {"value": customer["value"]},
                "TotalAmt": 50.00,
                "TxnDate": dt.date.today().isoformat(),
                "Line": [
                    {"Amount": 50.00, "LinkedTxn": [{"TxnId": qbo_invoice, "TxnType": "Invoice"}]}
                ],
            },
        )
        assert created.status_code == 200, created.text
        qbo_payment = created.json()["Payment"]

    ui.open_invoice(page, invoice_id)
    payment = ui.reload_until(page, "#panel details.payment").first
    expect(payment).to_contain_text("$50.00")
    payment_id = payment.get_attribute("data-payment-id")

    # The delete dialog says QuickBooks keeps a payment that came from it.
    payment.locator("summary").click()
    payment.get_by_role("button", name="Delete").click()
    expect(page.locator(f"#delete-{payment_id} [data-qbo-effect]")).to_contain_text(
        f"payment {qbo_payment['Id']} stays as recorded"
    )
    page.locator(f"#delete-{payment_id}").get_by_role("button", name="Cancel").click()

    # A refund of it in HubSpot becomes a refund receipt against the QuickBooks payment.
    payment.get_by_role("button", name="Refund").click()
    dialog = page.locator(f"#refund-{payment_id}")
    expect(dialog.locator("[data-qbo-effect]")).to_contain_text(
        f"a refund receipt for this amount is created against payment {qbo_payment['Id']}"
    )
    dialog.get_by_label("Refund amount").fill("10.00")
    dialog.get_by_label("Reason").select_option("duplicate")
    dialog.get_by_role("button", name="Refund").click()
    expect(page.locator(".flash.success")).to_have_text("Refund of $10.00 recorded.")

    def receipt() -> list[dict[str, Any]]:
        link = stack.runtime.store.get_link(stack.connection_id, REFUND, Side.HUBSPOT, payment_id)
        ids = (link.extra.get("refund_ids") or []) if link else []
        return [_qbo_get(stack, "RefundReceipt", str(i)) for i in ids]

    [booked] = _until(receipt)
    assert Decimal(str(booked["TotalAmt"])) == Decimal("10.00")
    assert "Duplicate payment" in booked["PrivateNote"]
    qbo_payment = _qbo_get(stack, "Payment", qbo_payment["Id"])  # the refund left it as it was
    assert Decimal(str(qbo_payment["TotalAmt"])) == Decimal("50.00")

    with stack.qbo_client() as qbo:
        voided = qbo.post(
            "/payment",
            params={"operation": "update", "include": "void"},
            json={"Id": qbo_payment["Id"], "SyncToken": qbo_payment["SyncToken"], "sparse": True},
        )
        assert voided.status_code == 200, voided.text

    def voided_in_panel() -> bool:
        ui.open_invoice(page, invoice_id)
        status = page.locator(
            f"#panel details.payment[data-payment-id='{payment_id}'] [data-payment-status]"
        )
        return status.count() == 1 and status.inner_text() == "Voided in QuickBooks"

    _until(voided_in_panel)
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    expect(payment.locator("summary")).to_contain_text("$50.00")
    expect(payment.locator("summary")).not_to_contain_text("Refunded")
    expect(page.locator("#panel [data-balance]")).to_contain_text("$")
    with stack.qbo_client() as qbo:
        balance = qbo.get(f"/invoice/{qbo_invoice}").json()["Invoice"]["Balance"]
    expect(page.locator("#panel [data-balance]")).to_have_text(f"${Decimal(str(balance)):,.2f}")

    # The payments report says it too, with the amount that was paid.
    today = dt.date.today().isoformat()
    page.goto(f"/reports/payments?from={today}&to={today}")
    row = page.locator(f"#report-payments tr[data-payment-id='{payment_id}']")
    expect(row.locator("[data-payment-status]")).to_have_text("Voided in QuickBooks")
    expect(row).to_contain_text("$50.00")


def test_deleted_payment_setting_changes_what_the_dialog_says_and_does(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    page.goto("/settings/sync")
    page.select_option("#refunds-deleted", "delete")
    page.click("#policies button[type=submit]")
    expect(page.locator(".flash.success")).to_contain_text("Sync rules saved")
    assert (
        load_sync_settings(stack.runtime.store, stack.connection_id).refunds.deleted_payment
        == "delete"
    )

    invoice_id = ui.create_invoice(page, contact="Elena", products=[("Training seat", "1")])
    ui.expect_sync_status(page, "Synced")
    payment_id = _hubspot_payment(stack, invoice_id, "25.00")
    qbo_payment = _until(lambda: _qbo_payment_of(stack, payment_id))
    ui.open_invoice(page, invoice_id)
    payment = page.locator(f"#panel details.payment[data-payment-id='{payment_id}']")
    payment.locator("summary").click()
    payment.get_by_role("button", name="Delete").click()
    dialog = page.locator(f"#delete-{payment_id}")
    expect(dialog.locator("[data-qbo-effect]")).to_contain_text(f"payment {qbo_payment} is deleted")
    dialog.get_by_role("button", name="Delete payment").click()
    expect(page.locator(".flash.success")).to_have_text("Payment deleted.")

    def gone() -> bool:
        with stack.qbo_client() as qbo:
            return qbo.get(f"/payment/{qbo_payment}").status_code != 200

    _until(gone)
