"""Sales receipts: a HubSpot payment tied to no invoice (a one-off payment link) as one QBO
SalesReceipt.

The receipt has one line for the amount on the chosen service item, the customer, the payment's
date, method and reference, and the deposit account (an account chosen by name; QBO's Undeposited
Funds when none is chosen). It carries "ledgerbridge:<key>" in PrivateNote, so a create whose
answer was lost is found again instead of being sent twice. Read back as a canonical Payment
with no applications, so engine/compare.py compares it with the HubSpot payment field by field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.connectors.quickbooks.lookups import MarkerIndex
from ledgerbridge.connectors.quickbooks.results import Recovery, write_result
from ledgerbridge.connectors.quickbooks.translate_payments import payment_from_wire
from ledgerbridge.domain import quantize
from ledgerbridge.engine.ports import SalesReceiptRead, SalesReceiptRequest, WriteResult
from ledgerbridge.errors import ConfigError

SETTINGS_HINT = "Settings → Sync → Sales receipts"
DEPOSIT_TYPES = ("Bank", "Other Current Asset")


ReceiptRead = SalesReceiptRead  # the engine's record of a receipt (engine/ports.py)


def receipt_to_wire(
    receipt: SalesReceiptRequest,
    *,
    external_key: str,
    deposit_account_id: str | None,
    method_id: str | None,
    currency: str | None,
) -> dict[str, Any]:
    amount = quantize(receipt.amount, receipt.currency)
    note = f"{receipt.memo}. {tr.marker(external_key)}" if receipt.memo else tr.marker(external_key)
    return tr.prune(
        {
            "CustomerRef": {"value": receipt.customer_id},
            "TxnDate": receipt.date.isoformat(),
            "PaymentRefNum": (receipt.reference or "")[: tr.PAYMENT_REF_MAX] or None,
            "PaymentMethodRef": {"value": method_id} if method_id else None,
            "DepositToAccountRef": ({"value": deposit_account_id} if deposit_account_id else None),
            "CurrencyRef": {"value": currency} if currency else None,
            "PrivateNote": note,
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": amount,
                    "Description": receipt.memo or None,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": receipt.item_id},
                        "Qty": Decimal(1),
                        "UnitPrice": amount,
                    },
                }
            ],
        }
    )


def receipt_from_wire(row: Mapping[str, Any], home_currency: str) -> ReceiptRead:
    # A receipt's lines are sales lines, not invoice links: it reads as a payment with no
    # applications (payment_from_wire keeps TotalAmt, TxnDate, PaymentRefNum, method, customer).
    payment = payment_from_wire({**row, "Line": []}, home_currency)
    deposit = row.get("DepositToAccountRef") or {}
    return ReceiptRead(
        payment=payment,
        deposit_account_id=tr.ref_value(deposit),
        deposit_account_name=deposit.get("name") if isinstance(deposit, Mapping) else None,
    )


class ReceiptBooks:
    """Creates, finds and reads sales receipts."""

    def __init__(
        self,
        api: QboApi,
        markers: MarkerIndex,
        currency_ref: Callable[[str], Awaitable[str | None]],
        method_id: Callable[[str | None], Awaitable[str | None]],
        home_currency: Callable[[], Awaitable[str]],
    ) -> None:
        self.api = api
        self.markers = markers
        self.currency_ref = currency_ref
        self.method_id = method_id
        self.home_currency = home_currency
        self._accounts: dict[str, str] = {}

    async def find(self, external_key: str) -> WriteResult | None:
        row = await self.markers.find("SalesReceipt", external_key)
        return write_result(row, created=False) if row is not None else None

    async def read(self, receipt_id: str) -> ReceiptRead | None:
        row = await self.api.read("SalesReceipt", receipt_id)
        if row is None:
            return None
        return receipt_from_wire(row, await self.home_currency())

    async def create(
        self, receipt: SalesReceiptRequest, request_id: str, external_key: str
    ) -> WriteResult:
        body = receipt_to_wire(
            receipt,
            external_key=external_key,
            deposit_account_id=await self._deposit_account(receipt.deposit_account),
            method_id=await self.method_id(receipt.method),
            currency=await self.currency_ref(receipt.currency),
        )

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find("SalesReceipt", external_key)

        lookup = Recovery(recover)
        row = await self.api.create("SalesReceipt", body, request_id, recover=lookup)
        self.markers.remember("SalesReceipt", row)
        return write_result(row, created=not lookup.found)

    async def deposit_account_id(self, name: str) -> str | None:
        return await self._deposit_account(name)

    async def _deposit_account(self, name: str) -> str | None:
        """The chosen account's id; none chosen: None (QBO deposits to Undeposited Funds)."""
        name = name.strip()
        if not name:
            return None
        if name not in self._accounts:
            page = await self.api.query(
                f"SELECT * FROM Account WHERE Name = {tr.quote(name)} AND Active = true"
            )
            account = page.rows[0] if page.rows else None
            if account is None or account.get("AccountType") not in DEPOSIT_TYPES:
                problem = (
                    "does not exist"
                    if account is None
                    else "is not a bank account or Undeposited Funds"
                )
                raise ConfigError(
                    message=f"The account '{name}' chosen to deposit sales receipts to {problem}",
                    hint=f"Choose a bank account or Undeposited Funds in {SETTINGS_HINT}, "
                    "then retry",
                    code="receipt_account",
                )
            self._accounts[name] = str(account["Id"])
        return self._accounts[name]
