"""Refunds and removals of payments recorded in QBO.

A refund recorded in HubSpot on a payment that QBO holds is booked as a RefundReceipt: the
payment's customer, paid from the account the payment was deposited to (Undeposited Funds when
the payment names none), with the payment's method and currency, one line on the item of the
first invoice the payment paid (what the money was for), the reason in PrivateNote (QBO's
"Memo"), and a marker so that a create whose answer was lost is found again instead of being
sent twice. Per the settings, a refund is booked as a credit memo refunded to the customer
instead (credit_refunds.py). A payment deleted in HubSpot is voided (or deleted, per the
settings) in QBO.

Refund receipts made in QBO by hand are read here too (`read_receipt`), with the customer's
payments they may refund (`customer_payments`): the engine ties one to a payment
(engine/ledger_refunds.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.connectors.quickbooks.credit_refunds import CreditMemoRefunds, is_credit_memo_id
from ledgerbridge.connectors.quickbooks.lookups import MarkerIndex
from ledgerbridge.connectors.quickbooks.results import Recovery, write_result
from ledgerbridge.engine.ports import (
    CreditMemoRead,
    LedgerPaymentFacts,
    LedgerRefund,
    RefundReceiptRead,
    WriteResult,
)
from ledgerbridge.errors import Invalid, NotFound

REFUND_ENTITY = "RefundReceipt"
UNDEPOSITED = "Undeposited Funds"


class RefundBooks:
    """Creates and finds refund receipts; voids or deletes payments."""

    def __init__(self, api: QboApi, markers: MarkerIndex) -> None:
        self.api = api
        self.markers = markers
        self.credit_memos = CreditMemoRefunds(api, markers)

    async def find(self, external_key: str) -> WriteResult | None:
        row = await self.markers.find(REFUND_ENTITY, external_key)
        if row is not None:
            return write_result(row, created=False)
        return await self.credit_memos.find(external_key)

    async def create(self, refund: LedgerRefund, request_id: str, external_key: str) -> WriteResult:
        entity = refund.payment_kind or "Payment"
        payment = await self.api.read(entity, refund.payment_id)
        if payment is None:
            what = "sales receipt" if refund.payment_kind else "payment"
            raise NotFound(
                message=f"The QuickBooks {what} {refund.payment_id} being refunded no longer "
                "exists",
                hint="Record the refund in QuickBooks by hand, or restore the payment, then retry",
                code="refund_payment_gone",
            )
        item, invoice_id = await self._item_of(payment)
        deposit = payment.get("DepositToAccountRef") or await self._undeposited()
        if refund.booked_as == "credit_memo":
            return await self.credit_memos.create(
                refund, payment, (item, invoice_id), deposit, request_id, external_key
            )
        amount = refund.amount
        body: dict[str, Any] = tr.prune(
            {
                "CustomerRef": {"value": str((payment.get("CustomerRef") or {}).get("value"))},
                "DepositToAccountRef": {"value": str(deposit["value"])},
                "PaymentMethodRef": (
                    {"value": str(payment["PaymentMethodRef"]["value"])}
                    if payment.get("PaymentMethodRef")
                    else None
                ),
                "PaymentRefNum": payment.get("PaymentRefNum"),
                "CurrencyRef": payment.get("CurrencyRef"),
                "TxnDate": refund.date.isoformat(),
                "PrivateNote": f"{refund.memo}. {tr.marker(external_key)}",
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Amount": amount,
                        "Description": refund.memo,
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item},
                            "Qty": 1,
                            "UnitPrice": amount,
                        },
                    }
                ],
            }
        )

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find(REFUND_ENTITY, external_key)

        lookup = Recovery(recover)
        row = await self.api.create(REFUND_ENTITY, body, request_id, recover=lookup)
        self.markers.remember(REFUND_ENTITY, row)
        return write_result(row, created=not lookup.found)

    async def read_receipt(self, receipt_id: str) -> RefundReceiptRead | None:
        row = await self.api.read(REFUND_ENTITY, receipt_id)
        return receipt_from_wire(row) if row is not None else None

    async def read_credit_memo(self, memo_id: str) -> CreditMemoRead | None:
        row = await self.api.read("CreditMemo", memo_id)
        if row is None:
            return None
        customer = row.get("CustomerRef") or {}
        total = Decimal(str(row.get("TotalAmt") or 0))
        remaining = row.get("RemainingCredit")
        return CreditMemoRead(
            id=str(row["Id"]),
            customer_id=tr.ref_value(customer),
            customer_name=customer.get("name") if isinstance(customer, Mapping) else None,
            amount=total,
            remaining=Decimal(str(remaining)) if remaining is not None else total,
            currency=tr.ref_value(row.get("CurrencyRef")) or "USD",
            date=tr.parse_date(row.get("TxnDate")) or dt.date.today(),
            marker=tr.extract_marker(row.get("PrivateNote")),
            voided=_voided(row),
        )

    async def customer_payments(self, customer_id: str) -> list[LedgerPaymentFacts]:
        rows, _ = await self.api.query_pages(
            "Payment", f"CustomerRef = {tr.quote(str(customer_id))}", "Id"
        )
        return [payment_facts_from_wire(row) for row in rows]

    async def total(self, refund_ids: list[str]) -> Decimal:
        total = Decimal(0)
        for refund_id in refund_ids:
            if is_credit_memo_id(refund_id):
                total += await self.credit_memos.total(refund_id)
                continue
            row = await self.api.read(REFUND_ENTITY, refund_id)
            if row is not None:
                total += Decimal(str(row.get("TotalAmt") or 0))
        return total

    async def remove_payment(self, payment_id: str, how: str, kind: str = "") -> WriteResult | None:
        """kind "" a Payment, "SalesReceipt" a sales receipt (both void the same way)."""
        entity = kind or "Payment"
        row = await self.api.read(entity, payment_id)
        if row is None:
            return None
        voided = str(row.get("PrivateNote") or "").startswith("Voided")
        if how == "void" and voided and Decimal(str(row.get("TotalAmt") or 0)) == 0:
            return write_result(row, created=False)  # voided already
        body = {"Id": str(row["Id"]), "SyncToken": str(row["SyncToken"])}
        if how == "delete":
            await self.api.update(entity, body, operation="delete")
            return WriteResult(str(row["Id"]), None, created=False)
        out = await self.api.update(
            entity, {**body, "sparse": True}, operation="update", include="void"
        )
        return write_result(out, created=False)

    async def _item_of(self, payment: dict[str, Any]) -> tuple[str, str]:
        """(the item of the first invoice the payment paid, that invoice's id)."""
        for line in payment.get("Line") or []:
            # a sales receipt: its own item line
            ref = (line.get("SalesItemLineDetail") or {}).get("ItemRef")
            if ref and ref.get("value"):
                return str(ref["value"]), ""  # no invoice: the receipt is its own sale
            for linked in line.get("LinkedTxn") or []:
                if linked.get("TxnType") != "Invoice":
                    continue
                invoice = await self.api.read("Invoice", str(linked.get("TxnId")))
                for inv_line in (invoice or {}).get("Line") or []:
                    ref = (inv_line.get("SalesItemLineDetail") or {}).get("ItemRef")
                    if ref and ref.get("value"):
                        return str(ref["value"]), str(linked.get("TxnId"))
        raise Invalid(
            message=f"The QuickBooks payment {payment.get('Id')} is not applied to an invoice "
            "with an item line, so the refund has no item to book against",
            hint="Record the refund in QuickBooks by hand (Refund receipt), then mark it resolved",
            code="refund_no_item",
        )

    async def _undeposited(self) -> dict[str, Any]:
        page = await self.api.query(
            f"SELECT * FROM Account WHERE Name = {tr.quote(UNDEPOSITED)} AND Active = true"
        )
        if not page.rows:
            raise Invalid(
                message="The payment being refunded names no deposit account and QuickBooks has "
                f"no '{UNDEPOSITED}' account to refund from",
                hint="Record the refund in QuickBooks by hand (Refund receipt), then retry",
                code="refund_account",
            )
        return {"value": str(page.rows[0]["Id"])}


def _voided(row: Mapping[str, Any]) -> bool:
    """QBO marks a voided transaction in its PrivateNote ("Voided") and zeroes its amount."""
    return str(row.get("PrivateNote") or "").startswith("Voided") and not Decimal(
        str(row.get("TotalAmt") or 0)
    )


def receipt_from_wire(row: Mapping[str, Any]) -> RefundReceiptRead:
    customer = row.get("CustomerRef") or {}
    payments = [
        str(x.get("TxnId"))
        for x in row.get("LinkedTxn") or []
        if x.get("TxnType") == "Payment" and x.get("TxnId")
    ]
    return RefundReceiptRead(
        id=str(row["Id"]),
        customer_id=tr.ref_value(customer),
        customer_name=customer.get("name") if isinstance(customer, Mapping) else None,
        amount=Decimal(str(row.get("TotalAmt") or 0)),
        currency=tr.ref_value(row.get("CurrencyRef")) or "USD",
        date=tr.parse_date(row.get("TxnDate")) or dt.date.today(),
        deposit_account_id=tr.ref_value(row.get("DepositToAccountRef")),
        reference=str(row.get("PaymentRefNum") or "").strip() or None,
        marker=tr.extract_marker(row.get("PrivateNote")),
        payment_ids=tuple(dict.fromkeys(payments)),
        voided=_voided(row),
        version=str(row["SyncToken"]) if row.get("SyncToken") is not None else None,
    )


def payment_facts_from_wire(row: Mapping[str, Any]) -> LedgerPaymentFacts:
    shares: list[tuple[str, Decimal]] = []
    memos: list[str] = []
    for line in row.get("Line") or []:
        amount = Decimal(str(line.get("Amount") or 0))
        for x in line.get("LinkedTxn") or []:
            if not x.get("TxnId"):
                continue
            if x.get("TxnType") == "Invoice":
                shares.append((str(x["TxnId"]), amount))
            elif x.get("TxnType") == "CreditMemo":
                memos.append(str(x["TxnId"]))
    invoices = [invoice for invoice, _ in shares]
    return LedgerPaymentFacts(
        id=str(row["Id"]),
        date=tr.parse_date(row.get("TxnDate")) or dt.date.today(),
        amount=Decimal(str(row.get("TotalAmt") or 0)),
        currency=tr.ref_value(row.get("CurrencyRef")) or "USD",
        reference=str(row.get("PaymentRefNum") or "").strip() or None,
        deposit_account_id=tr.ref_value(row.get("DepositToAccountRef")),
        invoice_ids=tuple(dict.fromkeys(invoices)),
        marker=tr.extract_marker(row.get("PrivateNote")),
        gone=_voided(row),
        shares=tuple(shares),
        credit_memo_ids=tuple(dict.fromkeys(memos)),
    )
