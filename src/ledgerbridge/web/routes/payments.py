"""Actions on a payment, from the invoice panel: Refund and Delete."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ledgerbridge.web.deps import back, console_of
from ledgerbridge.web.services.payment_actions import (
    PaymentActionError,
    delete_payment,
    refund_payment,
)
from ledgerbridge.web.templating import flash

router = APIRouter()


@router.post("/payments/{payment_id}/refund")
async def refund(
    request: Request,
    payment_id: str,
    amount: str = Form(""),
    reason: str = Form(""),
    invoice_id: str = Form(""),
    next: str = Form(""),
) -> Response:
    try:
        message = await refund_payment(
            console_of(request), payment_id, amount, reason, invoice_id or None
        )
        flash(request, message)
    except PaymentActionError as exc:
        flash(request, str(exc), "error")
    return back(next, f"/invoices/{invoice_id}" if invoice_id.isdigit() else "/invoices")


@router.post("/payments/{payment_id}/delete")
async def delete(
    request: Request, payment_id: str, invoice_id: str = Form(""), next: str = Form("")
) -> Response:
    try:
        message = await delete_payment(console_of(request), payment_id, invoice_id or None)
        flash(request, message)
    except PaymentActionError as exc:
        flash(request, str(exc), "error")
    return back(next, f"/invoices/{invoice_id}" if invoice_id.isdigit() else "/invoices")
