"""Refund and delete a payment. Both are recorded in HubSpot, on the commerce payment:

- a refund raises `hs_refunds_amount` and sets `hs_latest_status` to `partially_refunded` or
  `refunded` (HubSpot counts a payment net of its refunds, so the invoice balance goes back up);
  the reason goes into the payment's internal comment, with the date and amount;
- a delete archives the payment (HubSpot keeps it 90 days in the recycle bin).

Then the engine is told: the payment and its invoices are marked dirty.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.domain import quantize
from ledgerbridge.errors import Invalid
from ledgerbridge.web.amounts import AmountError, parse_amount
from ledgerbridge.web.context import Console
from ledgerbridge.web.formatting import decimal_or_zero, money

REFUND_REASONS = {
    "requested_by_customer": "Requested by customer",
    "duplicate": "Duplicate payment",
    "fraudulent": "Fraudulent",
    "service_not_provided": "Product or service not provided",
    "other": "Other",
}
PAYMENT_READ = (
    "hs_initial_amount",
    "hs_refunds_amount",
    "hs_latest_status",
    "hs_currency_code",
    "hs_internal_comment",
)


class PaymentActionError(Exception):
    """Something the user can fix in the form (shown next to it)."""


async def _payment(console: Console, payment_id: str) -> dict[str, str]:
    record = await console.hubspot.get("commerce_payments", payment_id, PAYMENT_READ)
    if record is None or record.get("archived"):
        raise PaymentActionError("That payment no longer exists.")
    return dict(record.get("properties") or {})


async def _tell_engine(
    console: Console, payment_id: str, reason: str, invoice_ids: list[str]
) -> None:
    console.store.mark_dirty(console.payment_key(payment_id), reason)
    for invoice_id in invoice_ids:
        console.mark_invoice_dirty(invoice_id, reason)


async def refund_payment(
    console: Console, payment_id: str, amount_text: str, reason: str, invoice_id: str | None = None
) -> str:
    """Returns the confirmation shown to the user."""
    if reason not in REFUND_REASONS:
        raise PaymentActionError("Choose a reason for the refund.")
    try:
        amount = parse_amount(amount_text)
    except AmountError as exc:
        raise PaymentActionError(f"Refund not recorded: {exc}") from None
    props = await _payment(console, payment_id)
    currency = str(props.get("hs_currency_code") or "USD")
    if props.get("hs_latest_status") not in ("succeeded", "partially_refunded"):
        raise PaymentActionError("Only a succeeded payment can be refunded.")
    paid = decimal_or_zero(props.get("hs_initial_amount"))
    refunded = decimal_or_zero(props.get("hs_refunds_amount"))
    remaining = paid - refunded
    amount = quantize(amount, currency) if amount.is_finite() else Decimal(0)
    if amount <= 0:
        raise PaymentActionError("The refund must be more than zero.")
    if amount > remaining:
        raise PaymentActionError(f"You can refund at most {money(remaining, currency)}.")
    total = refunded + amount
    note = (
        f"Refunded {money(amount, currency)} on {console.clock().date().isoformat()}: "
        f"{REFUND_REASONS[reason]}"
    )
    comment = "\n".join(x for x in (props.get("hs_internal_comment"), note) if x)
    await console.hubspot.update(
        "commerce_payments",
        payment_id,
        {
            "hs_refunds_amount": format(total, "f"),
            "hs_latest_status": "refunded" if total >= paid else "partially_refunded",
            "hs_internal_comment": comment[-4000:],
        },
    )
    invoices = await _invoices(console, payment_id, invoice_id)
    await _tell_engine(console, payment_id, "console: refund", invoices)
    return f"Refund of {money(amount, currency)} recorded."


async def delete_payment(console: Console, payment_id: str, invoice_id: str | None = None) -> str:
    await _payment(console, payment_id)
    invoices = await _invoices(console, payment_id, invoice_id)
    try:
        await console.hubspot.archive("commerce_payments", payment_id)
    except Invalid as exc:
        raise PaymentActionError(f"HubSpot refused to delete the payment: {exc.message}") from exc
    await _tell_engine(console, payment_id, "console: payment deleted", invoices)
    return "Payment deleted."


async def _invoices(console: Console, payment_id: str, invoice_id: str | None) -> list[str]:
    linked = (
        await console.hubspot.associations("commerce_payments", "invoices", [payment_id])
    ).get(payment_id, [])
    ids = list(dict.fromkeys([*linked, *([invoice_id] if invoice_id else [])]))
    return [i for i in ids if i and i.isdigit()]
