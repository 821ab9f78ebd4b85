"""Plans for HubSpot payments that QBO holds as sales receipts. Pure (engine/payments.py calls
them).

- A payment tied to no invoice (a one-off payment link) becomes one SalesReceipt for its
  customer, once it has been unchanged for `sales_receipts.settle_seconds`: a workflow that
  creates a paid invoice may tie the payment to the invoice right after creating it.
- A payment on an invoice recorded as one sales receipt (the paid-invoice workflow,
  engine/paid_receipts.py) is part of that receipt: nothing is written for it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ledgerbridge.domain import Payment, Side, SyncStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.decisions import (
    CreateLedgerFeeExpense,
    CreateLedgerRefund,
    CreateLedgerSalesReceipt,
    Decision,
    Plan,
    failed,
)
from ledgerbridge.engine.ports import SALES_RECEIPT, Link, SalesReceiptRequest
from ledgerbridge.errors import Invalid

if TYPE_CHECKING:
    from ledgerbridge.engine.payments import PaymentInput


def sales_receipt_key(hubspot_payment_id: str) -> str:
    return f"hubspot-receipt:{hubspot_payment_id}"


def labels(payment: Payment) -> dict[str, Any]:
    label = f"payment {payment.reference}" if payment.reference else f"payment {payment.id}"
    return {"label": label, "amount": payment.amount, "currency": payment.currency}


def plan_sales_receipt(
    inp: PaymentInput,
    payment: Payment,
    pid: str,
    later: tuple[CreateLedgerFeeExpense | None, CreateLedgerRefund | None],
) -> Plan:
    """A HubSpot payment tied to no invoice (a one-off payment link): one QBO SalesReceipt for
    its customer, once it has settled (a workflow may still tie it to an invoice)."""
    key = inp.key
    context = {"origin": Side.HUBSPOT, "hubspot_id": pid, **labels(payment)}
    receipts = inp.settings.sales_receipts
    if payment.customer is None:
        return failed(
            key,
            Invalid(
                f"HubSpot payment {pid} is tied to no invoice and to no contact, so QuickBooks "
                "has no customer to record its sales receipt for",
                hint="Associate the payment with a contact (or with its invoice) in HubSpot, "
                "then retry",
                code="receipt_no_customer",
            ),
            context,
        )
    changed = _modified_at(payment)
    if inp.now is not None and changed is not None and receipts.settle_seconds > 0:
        due = changed + dt.timedelta(seconds=receipts.settle_seconds)
        if inp.now < due:
            message = (
                f"Tied to no invoice: recorded as a QuickBooks sales receipt at "
                f"{due:%H:%M:%S} UTC unless a workflow ties it to an invoice first"
            )
            return Plan(
                key,
                Decision(SyncStatus.PENDING, message, retry_at=due),
                summary=message,
                **context,
            )
    home, multi = inp.currency_prefs or (payment.currency, False)
    reference = f" ({payment.reference})" if payment.reference else ""
    request = SalesReceiptRequest(
        customer_id="",
        item_id="",
        amount=quantize(payment.amount, payment.currency),
        currency=payment.currency,
        date=payment.date,
        method=payment.method,
        reference=payment.reference,
        deposit_account=receipts.deposit_account,
        memo=f"HubSpot payment {pid}{reference}",
    )
    op = CreateLedgerSalesReceipt(
        request,
        payment,
        payment.customer,
        payment.currency if multi else None,
        home if multi else None,
        receipts.item_name,
        pid,
        sales_receipt_key(pid),
    )
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        tuple(x for x in (op, *later) if x is not None),
        action="create",
        summary="record a QuickBooks sales receipt (the payment is tied to no invoice)",
        **context,
    )


def _modified_at(payment: Payment) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(payment.version).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def invoice_receipt(inp: PaymentInput, payment: Payment) -> Link | None:
    """The link of the payment's invoice when that invoice was recorded in QBO as a sales
    receipt (the paid-invoice workflow, engine/paid_receipts.py)."""
    for app in payment.applications:
        inv_link = inp.invoice_links.get(app.invoice_id)
        if inv_link is not None and inv_link.qbo_kind == SALES_RECEIPT and inv_link.qbo_id:
            return inv_link
    return None


def plan_in_invoice_receipt(
    inp: PaymentInput, payment: Payment, pid: str, invoice_link: Link
) -> Plan:
    """A payment on an invoice QBO holds as one sales receipt: the receipt records it already.
    Nothing is written; a refund on it is refused (QBO has no payment to refund against)."""
    key = inp.key
    receipt = invoice_link.qbo_id or ""
    context = {"origin": Side.HUBSPOT, "hubspot_id": pid, "qbo_id": receipt, **labels(payment)}
    if payment.refunded > 0 and inp.settings.refunds.to_quickbooks:
        return failed(
            key,
            Invalid(
                f"HubSpot payment {pid} is part of QuickBooks sales receipt {receipt} (its "
                f"invoice {invoice_link.hubspot_id} was recorded paid); its refund is not "
                "booked in QuickBooks",
                hint=f"Record the refund in QuickBooks as a refund receipt for sales receipt "
                f"{receipt}, then mark this payment resolved",
                code="receipt_refund",
            ),
            context,
        )
    message = (
        f"Recorded in QuickBooks with invoice {invoice_link.hubspot_id} as sales receipt {receipt}"
    )
    return Plan(key, Decision(SyncStatus.SYNCED, message), summary=message, **context)
