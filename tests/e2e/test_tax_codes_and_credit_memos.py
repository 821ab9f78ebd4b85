"""Tax codes and credit-memo refunds, end to end over real sockets: `ledgerbridge demo`'s stack
(both sandboxes, webhooks, the worker), driven through the APIs' REST endpoints.

- The QBO company turns on sales tax (the sandbox's admin preferences endpoint): a HubSpot tax
  reaches QBO as TxnTaxDetail under the mapped tax code, QBO computes the tax from the code's
  rate, and both books bill the same to the cent.
- Refunds booked as credit memos: a partial refund, then another, each become a credit memo
  refunded to the customer, adding up to HubSpot's refunded total.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from stack import DemoStack, HubSpotRest, QboRest, assoc, new_uid, wait_for

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import RefundSettings
from ledgerbridge.engine.ports import PAYMENT

BUDGET = 20.0


def _set(demo_stack: DemoStack, **changes: Any) -> None:
    conn = demo_stack.connection
    demo_stack.runtime.update_sync_settings(conn.id, conn.sync_settings.model_copy(update=changes))


def _synced(hs: HubSpotRest, invoice_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        props = hs.get(
            "invoices",
            invoice_id,
            [
                "ledgerbridge_sync_status",
                "ledgerbridge_sync_error",
                "qbo_invoice_id",
                "hs_amount_billed",
            ],
        )["properties"]
        return props if props.get("ledgerbridge_sync_status") == "synced" else None

    return wait_for(check, BUDGET, what=f"HubSpot invoice {invoice_id} to sync")


def test_hubspot_tax_goes_under_the_mapped_tax_code(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    r = httpx.put(
        f"{demo_stack.qbo_url}/_sandbox/preferences",
        json={"TaxPrefs": {"UsingSalesTax": True}},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    # The seeded "Sales tax" code is 8 %.
    code = next(c for c in qbo.query("select * from TaxCode") if c["Name"] == "Sales tax")
    _set(demo_stack, tax_code_mapping={"8%": "Sales tax"})
    demo_stack.connection.ledger.invalidate_settings()

    uid = new_uid()
    contact = hs.contact(f"tax-{uid}@story.example", "Tia", "Tax", company=f"Tax {uid}")
    product = hs.product(f"Kit {uid}", f"KIT-{uid}", "33.33")
    invoice_id = hs.invoice(contact, [(product, "3", "33.33")], finish=False)
    hs.create(
        "taxes",
        {"hs_label": "State tax", "hs_type": "PERCENT", "hs_value": "8"},
        [assoc(invoice_id, 416)],
    )
    hs.update("invoices", invoice_id, {"hs_invoice_status": "open"})

    props = _synced(hs, invoice_id)
    invoice = qbo.get("Invoice", props["qbo_invoice_id"])
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == code["Id"]
    # 8 % of 99.99 = 7.9992 -> 8.00 on both sides.
    assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal("8.00")
    assert (
        Decimal(str(invoice["TotalAmt"])) == Decimal(props["hs_amount_billed"]) == Decimal("107.99")
    )
    sales = [ln for ln in invoice["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
    assert [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in sales] == ["TAX"]


def _hubspot_payment(hs: HubSpotRest, invoice_id: str, amount: str) -> str:
    return hs.create(
        "commerce_payments",
        {
            "hs_initial_amount": amount,
            "hs_initiated_date": f"{dt.date.today()}T12:00:00.000Z",
            "hs_latest_status": "succeeded",
            "hs_processor_type": "hs_payments",
            "hs_currency_code": "USD",
        },
        [assoc(invoice_id, 542)],
    )


def test_refunds_booked_as_credit_memos_add_up(
    demo_stack: DemoStack, hs: HubSpotRest, qbo: QboRest
) -> None:
    _set(demo_stack, refunds=RefundSettings(booked_as="credit_memo"))
    uid = new_uid()
    contact = hs.contact(f"cm-{uid}@story.example", "Cam", "Memo", company=f"Memo {uid}")
    product = hs.product(f"Desk {uid}", f"DESK-{uid}", "200.00")
    invoice_id = hs.invoice(contact, [(product, "1", "200.00")])
    _synced(hs, invoice_id)
    payment_id = _hubspot_payment(hs, invoice_id, "200.00")
    store, conn_id = demo_stack.runtime.store, demo_stack.connection.id

    def link() -> Any:
        found = store.get_link(conn_id, PAYMENT, Side.HUBSPOT, payment_id)
        return found if found is not None and found.qbo_id else None

    wait_for(link, BUDGET, what="the payment in QuickBooks")

    def booked(total: str) -> list[dict[str, Any]] | None:
        ids = (link().extra.get("refund_ids") or []) if link() else []
        memos = [qbo.get("CreditMemo", str(i).removeprefix("CreditMemo-")) for i in ids]
        given = sum(
            (Decimal(str(m["TotalAmt"])) - Decimal(str(m["RemainingCredit"])) for m in memos),
            Decimal(0),
        )
        return memos if given == Decimal(total) else None

    for total, status in (("50.00", "partially_refunded"), ("120.00", "partially_refunded")):
        hs.update(
            "commerce_payments",
            payment_id,
            {"hs_refunds_amount": total, "hs_latest_status": status},
        )
        memos = wait_for(lambda t=total: booked(t), BUDGET, what=f"refunds of {total}")
    assert [Decimal(str(m["TotalAmt"])) for m in memos] == [Decimal("50.00"), Decimal("70.00")]
    assert all(Decimal(str(m["RemainingCredit"])) == 0 for m in memos)
    assert qbo.count("RefundReceipt") == 0
    customer = qbo.get("Customer", memos[0]["CustomerRef"]["value"])
    assert Decimal(str(customer["Balance"])) == 0
