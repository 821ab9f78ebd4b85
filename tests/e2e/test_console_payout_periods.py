"""Browser test: the payments report's payout periods (gross, fees, net per payout date, else
per week), the QuickBooks fee expense linked on each payment row, and the Customer column of
a payment received in QuickBooks. Every figure is checked against HubSpot and QuickBooks."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import FeeSettings, SyncSettings
from ledgerbridge.engine.payments import FEE_EXPENSE_ID
from ledgerbridge.engine.ports import INVOICE, PAYMENT

# A range no demo payment falls in: the periods hold only what this test records.
DATE_FROM, DATE_TO = "2027-03-01", "2027-03-31"
WAIT_S = 60.0  # how long the worker may take to record them (a bound, not a measurement)


def _money(value: Decimal) -> str:
    return format_currency(value.quantize(Decimal("0.01")), "USD", locale="en_US")


def _until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {WAIT_S} s")


def _hubspot_payment(
    stack: ConsoleStack, invoice_id: str, amount: str, day: str, payout: str, fee: str
) -> str:
    with stack.hubspot_client() as hs:
        response = hs.post(
            "/crm/v3/objects/commerce_payments",
            json={
                "properties": {
                    "hs_initial_amount": amount,
                    "hs_initiated_date": f"{day}T12:00:00.000Z",
                    "hs_payout_date": f"{payout}T00:00:00.000Z",
                    "hs_fees_amount": fee,
                    "hs_latest_status": "succeeded",
                    "hs_currency_code": "USD",
                    "hs_payment_method_type": "card",
                    "hs_processor_type": "hs_payments",
                    "hs_reference_number": f"PO-{uuid.uuid4().hex[:6]}",
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
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _quickbooks_invoice_paid_in_quickbooks(stack: ConsoleStack) -> tuple[str, str]:
    """A QuickBooks customer HubSpot knows as a contact only (no company record), invoiced and
    paid 100.00 in QuickBooks on 2027-03-10: (the customer's company name, QBO payment id)."""
    tag = uuid.uuid4().hex[:6]
    email = f"pier-{tag}@pier.example"
    company = f"Pier Nine Supply {tag}"
    with stack.qbo_client() as qbo:
        customer = qbo.post(
            "/customer",
            json={
                "DisplayName": company,
                "CompanyName": company,
                "PrimaryEmailAddr": {"Address": email},
            },
        ).json()["Customer"]["Id"]
        item = qbo.post(
            "/query",
            content="select * from Item where Type = 'Service'",
            headers={"Content-Type": "application/text"},
        ).json()["QueryResponse"]["Item"][0]["Id"]
        invoice = qbo.post(
            "/invoice",
            json={
                "CustomerRef": {"value": customer},
                "BillEmail": {"Address": email},
                "TxnDate": "2027-03-08",
                "Line": [
                    {
                        "Amount": 400.00,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item},
                            "Qty": 1,
                            "UnitPrice": 400,
                        },
                    }
                ],
            },
        ).json()["Invoice"]["Id"]
        payment = qbo.post(
            "/payment",
            json={
                "CustomerRef": {"value": customer},
                "TotalAmt": 100.00,
                "TxnDate": "2027-03-10",
                "Line": [
                    {"Amount": 100.00, "LinkedTxn": [{"TxnId": invoice, "TxnType": "Invoice"}]}
                ],
            },
        )
        assert payment.status_code == 200, payment.text
    return company, str(payment.json()["Payment"]["Id"])


def _fee_expense(stack: ConsoleStack, payment_id: str) -> str | None:
    link = stack.runtime.store.get_link(stack.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
    return str(link.extra[FEE_EXPENSE_ID]) if link and link.extra.get(FEE_EXPENSE_ID) else None


def _copy_of(stack: ConsoleStack, qbo_payment: str) -> str | None:
    """The HubSpot copy of a QBO payment (its key is qbo-payment:<payment>:<invoice>)."""
    with stack.hubspot_client() as hs:
        found = hs.post(
            "/crm/v3/objects/commerce_payments/search",
            json={
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "hs_processor_type",
                                "operator": "EQ",
                                "value": "quickbooks",
                            },
                            {
                                "propertyName": "hs_initiated_date",
                                "operator": "GTE",
                                "value": f"{DATE_FROM}T00:00:00.000Z",
                            },
                        ]
                    }
                ],
                "properties": ["ledgerbridge_payment_key"],
                "limit": 100,
            },
        ).json()
    for record in found.get("results") or []:
        key = str(record["properties"].get("ledgerbridge_payment_key") or "")
        if key.startswith(f"qbo-payment:{qbo_payment}:"):
            return str(record["id"])
    return None


def test_payout_periods_fee_expenses_and_quickbooks_customers(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    stack.set_sync_settings(SyncSettings(fees=FeeSettings(enabled=True)))
    invoice_id = ui.create_invoice(page, contact="Chloe", products=[("Onboarding package", "1")])
    ui.expect_sync_status(page, "Synced")
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_id

    # Two card payments paid out together on 2027-03-05, each with a processing fee.
    first = _hubspot_payment(stack, invoice_id, "300.00", "2027-03-02", "2027-03-05", "8.70")
    second = _hubspot_payment(stack, invoice_id, "200.00", "2027-03-03", "2027-03-05", "5.80")
    company, qbo_payment = _quickbooks_invoice_paid_in_quickbooks(stack)
    expenses = {
        p: _until(f"the fee expense of payment {p}", lambda p=p: _fee_expense(stack, p))
        for p in (first, second)
    }
    copy = _until("the QuickBooks payment's copy", lambda: _copy_of(stack, qbo_payment))
    # QuickBooks holds the fees HubSpot reports, to the cent.
    with stack.qbo_client() as qbo:
        for payment, fee in ((first, "8.70"), (second, "5.80")):
            purchase = qbo.get(f"/purchase/{expenses[payment]}").json()["Purchase"]
            assert Decimal(str(purchase["TotalAmt"])) == Decimal(fee)

    page.goto(f"/reports/payments?from={DATE_FROM}&to={DATE_TO}")
    periods = page.locator("#report-periods tbody tr")
    expect(periods).to_have_count(2)
    payout = page.locator("#report-periods [data-period='Payout 2027-03-05'][data-currency=USD]")
    expect(payout.locator("[data-period-total=payments]")).to_have_text("2")
    expect(payout.locator("[data-period-total=gross]")).to_have_text(_money(Decimal("500.00")))
    expect(payout.locator("[data-period-total=fees]")).to_have_text(_money(Decimal("14.50")))
    expect(payout.locator("[data-period-total=net]")).to_have_text(_money(Decimal("485.50")))
    # No payout date in QuickBooks: the week of 2027-03-10 (Monday 2027-03-08).
    week = page.locator("#report-periods [data-period='Week of 2027-03-08'][data-currency=USD]")
    expect(week.locator("[data-period-total=payments]")).to_have_text("1")
    expect(week.locator("[data-period-total=gross]")).to_have_text(_money(Decimal("100.00")))
    expect(week.locator("[data-period-total=fees]")).to_have_text(_money(Decimal("0")))
    expect(week.locator("[data-period-total=net]")).to_have_text(_money(Decimal("100.00")))

    # The QuickBooks payment's row names its customer.
    quickbooks_row = page.locator(f"#report-payments tr[data-payment-id='{copy}']")
    expect(quickbooks_row.locator("td").nth(2)).to_have_text(company)
    expect(quickbooks_row.locator("[data-fee-expense] a")).to_have_count(0)

    # Each card payment links its fee expense; the link opens the QuickBooks expense.
    for payment in (first, second):
        row = page.locator(f"#report-payments tr[data-payment-id='{payment}']")
        expect(row.locator("[data-fee-expense] a")).to_have_text(f"Expense {expenses[payment]}")
    page.locator(f"#report-payments tr[data-payment-id='{first}'] [data-fee-expense] a").click()
    expect(page.locator("h1")).to_have_text(f"QuickBooks purchase {expenses[first]}")
    expect(page.locator("[data-qbo-payee]")).not_to_be_empty()
    expect(page.get_by_text(_money(Decimal("8.70"))).first).to_be_visible()
