"""A refund booked as a credit memo refunded to the customer (setting refunds.booked_as).

Three records, as an accountant refunds a paid invoice in QBO through a credit:
1. a **CreditMemo** for the amount: the payment's customer, naming the first invoice the payment
   paid (`InvoiceRef`), one line on that invoice's item, the reason as its message and memo
   (income goes down, the customer holds that much credit; the invoice, already paid, has no
   balance left to take it, so the credit goes back to the customer in money);
2. the **refund from it**: a Purchase paid to the customer (`EntityRef` type Customer) from the
   account the payment was deposited to, one line on Accounts Receivable (the money leaves, the
   customer's credit is used up);
3. a **zero payment** applying the credit memo to that refund (`LinkedTxn` CreditMemo and
   Expense), so the credit memo shows as refunded and nothing stays open.

Each record carries its own marker ("<key>", "<key>.refund", "<key>.apply") and is looked up
before it is created, so a chain cut short (timeout, crash) resumes where it stopped and
nothing is created twice. The chain's id is the credit memo's, written "CreditMemo-<id>".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.connectors.quickbooks.lookups import MarkerIndex
from ledgerbridge.connectors.quickbooks.results import Recovery
from ledgerbridge.engine.ports import LedgerRefund, WriteResult
from ledgerbridge.errors import Invalid

MEMO_ENTITY = "CreditMemo"
ID_PREFIX = "CreditMemo-"
_PARTS = ((MEMO_ENTITY, ""), ("Purchase", ".refund"), ("Payment", ".apply"))


def is_credit_memo_id(refund_id: str) -> bool:
    return refund_id.startswith(ID_PREFIX)


class CreditMemoRefunds:
    """Creates, finds and totals refunds booked as refunded credit memos."""

    def __init__(self, api: QboApi, markers: MarkerIndex) -> None:
        self.api = api
        self.markers = markers

    async def find(self, external_key: str) -> WriteResult | None:
        """The chain, only when every part of it exists (else None: create() resumes it)."""
        rows = [await self.markers.find(e, external_key + s) for e, s in _PARTS]
        if any(row is None for row in rows):
            return None
        memo = rows[0]
        assert memo is not None
        return WriteResult(ID_PREFIX + str(memo["Id"]), created=False)

    async def create(
        self,
        refund: LedgerRefund,
        payment: dict[str, Any],
        paid: tuple[str, str],
        deposit: dict[str, Any],
        request_id: str,
        external_key: str,
    ) -> WriteResult:
        customer = str((payment.get("CustomerRef") or {}).get("value"))
        item_id, invoice_id = paid
        amount = refund.amount
        note = f"{refund.memo}. "
        memo_body = tr.prune(
            {
                "CustomerRef": {"value": customer},
                # the invoice the credit is for (none for a sales receipt, its own sale)
                "InvoiceRef": {"value": invoice_id} if invoice_id else None,
                "CurrencyRef": payment.get("CurrencyRef"),
                "TxnDate": refund.date.isoformat(),
                "CustomerMemo": {"value": refund.memo[:1000]},
                "PrivateNote": note + tr.marker(external_key),
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Amount": amount,
                        "Description": refund.memo,
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item_id},
                            "Qty": 1,
                            "UnitPrice": amount,
                        },
                    }
                ],
            }
        )
        memo, memo_created = await self._once(MEMO_ENTITY, memo_body, request_id, external_key)
        refund_body = tr.prune(
            {
                "PaymentType": "Cash",
                "AccountRef": {"value": str(deposit["value"])},
                "EntityRef": {"value": customer, "type": "Customer"},
                "CurrencyRef": payment.get("CurrencyRef"),
                "TxnDate": refund.date.isoformat(),
                "PrivateNote": note + tr.marker(external_key + ".refund"),
                "Line": [
                    {
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "Amount": amount,
                        "Description": f"Refund of credit memo {memo.get('DocNumber') or memo['Id']}",
                        "AccountBasedExpenseLineDetail": {
                            "AccountRef": {"value": await self._receivable_account()}
                        },
                    }
                ],
            }
        )
        paid_out, _ = await self._once(
            "Purchase", refund_body, f"{request_id[:30]}-r", external_key + ".refund"
        )
        apply_body = tr.prune(
            {
                "CustomerRef": {"value": customer},
                "CurrencyRef": payment.get("CurrencyRef"),
                "TxnDate": refund.date.isoformat(),
                "TotalAmt": 0,
                "PrivateNote": note + tr.marker(external_key + ".apply"),
                "Line": [
                    {
                        "Amount": amount,
                        "LinkedTxn": [{"TxnId": str(paid_out["Id"]), "TxnType": "Expense"}],
                    },
                    {
                        "Amount": amount,
                        "LinkedTxn": [{"TxnId": str(memo["Id"]), "TxnType": MEMO_ENTITY}],
                    },
                ],
            }
        )
        await self._once("Payment", apply_body, f"{request_id[:30]}-a", external_key + ".apply")
        return WriteResult(ID_PREFIX + str(memo["Id"]), created=memo_created)

    async def total(self, refund_id: str) -> Decimal:
        """What the credit memo has given back: its amount less the credit it still holds."""
        row = await self.api.read(MEMO_ENTITY, refund_id[len(ID_PREFIX) :])
        if row is None:
            return Decimal(0)
        total = Decimal(str(row.get("TotalAmt") or 0))
        return total - Decimal(str(row.get("RemainingCredit") or 0))

    async def _once(
        self, entity: str, body: dict[str, Any], request_id: str, key: str
    ) -> tuple[dict[str, Any], bool]:
        found = await self.markers.find(entity, key)
        if found is not None:
            return found, False

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find(entity, key)

        lookup = Recovery(recover)
        row = await self.api.create(entity, body, request_id, recover=lookup)
        self.markers.remember(entity, row)
        return row, not lookup.found

    async def _receivable_account(self) -> str:
        page = await self.api.query(
            "SELECT * FROM Account WHERE AccountType = 'Accounts Receivable' AND Active = true"
        )
        if not page.rows:
            raise Invalid(
                message="QuickBooks has no Accounts Receivable account to refund the credit "
                "memo against",
                hint="Record the refund in QuickBooks by hand, or book refunds as refund "
                "receipts in Settings → Sync, then retry",
                code="refund_account",
            )
        return str(page.rows[0]["Id"])
