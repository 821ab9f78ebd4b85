"""Purchase (expense): where processing fees end up.

PaymentType (Cash, Check, CreditCard) and AccountRef are required, even in a sparse update
(a sparse Purchase update without them fails with 2020, as integrators report). TotalAmt is the
sum of the expense lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import balances, errors, payments
from ledgerbridge.sandbox.quickbooks.company import Env, ref_to, resolve_ref
from ledgerbridge.sandbox.quickbooks.handler import (
    COMMON_READ_ONLY,
    Handler,
    Write,
    check_enum,
    passthrough,
)
from ledgerbridge.sandbox.quickbooks.money_rules import currency_ref, txn_currency
from ledgerbridge.sandbox.quickbooks.wire import money, parse_date, to_decimal

ENTITY_TYPES = ("Vendor", "Customer", "Employee")


class PurchaseHandler(Handler):
    entity = "Purchase"
    read_only = COMMON_READ_ONLY | {"TotalAmt", "HomeTotalAmt"}
    sticky = ("TxnDate", "CurrencyRef", "ExchangeRate")
    deletable = True

    def build(self, w: Write) -> dict[str, Any]:
        env, data = w.env, w.data
        if w.sparse:
            for key in ("PaymentType", "AccountRef"):
                if key not in w.request:
                    raise errors.required(key)
        payment_type = data.get("PaymentType")
        if not payment_type:
            raise errors.required("PaymentType")
        check_enum("PaymentType", payment_type, ("Cash", "Check", "CreditCard"))
        account = resolve_ref(env, "Account", data.get("AccountRef"), "AccountRef")
        if account is None:
            raise errors.required("AccountRef")
        if not data.get("Line"):
            raise errors.required("Line")
        entity_ref = data.get("EntityRef")
        payee = None
        if entity_ref:
            kind = entity_ref.get("type") or "Vendor"
            check_enum("EntityRef.type", kind, ENTITY_TYPES)
            payee = resolve_ref(env, kind, entity_ref, "EntityRef")
        currency, rate = txn_currency(env.company, data, None)
        lines, total = [], Decimal(0)
        for number, raw in enumerate(data["Line"], start=1):
            kind = raw.get("DetailType")
            if kind not in ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"):
                if not kind:
                    raise errors.required("Line.DetailType")
                raise errors.invalid_enum("Line.DetailType", kind)
            amount = to_decimal(raw.get("Amount"))
            if amount is None:
                raise errors.required("Line.Amount")
            detail = dict(raw.get(kind) or {})
            if kind == "AccountBasedExpenseLineDetail":
                line_account = resolve_ref(
                    env,
                    "Account",
                    detail.get("AccountRef"),
                    "Line.AccountBasedExpenseLineDetail.AccountRef",
                )
                if line_account is None:
                    raise errors.required("Line.AccountBasedExpenseLineDetail.AccountRef")
                detail["AccountRef"] = ref_to("Account", line_account)
                detail.setdefault("BillableStatus", "NotBillable")
                detail.setdefault("TaxCodeRef", {"value": "NON"})
            else:
                item = resolve_ref(
                    env, "Item", detail.get("ItemRef"), "Line.ItemBasedExpenseLineDetail.ItemRef"
                )
                if item is None:
                    raise errors.required("Line.ItemBasedExpenseLineDetail.ItemRef")
                detail["ItemRef"] = ref_to("Item", item)
            line = {"Id": str(number), "Amount": money(amount), "DetailType": kind, kind: detail}
            if raw.get("Description"):
                line["Description"] = raw["Description"]
            lines.append(line)
            total += money(amount)
        record = passthrough(
            data,
            {
                "PaymentType",
                "AccountRef",
                "Line",
                "EntityRef",
                "CurrencyRef",
                "ExchangeRate",
                "TxnDate",
                "Credit",
            },
            self.read_only,
        )
        record["AccountRef"] = ref_to("Account", account)
        record["PaymentType"] = payment_type
        if payee is not None:
            record["EntityRef"] = {
                **ref_to(entity_ref.get("type") or "Vendor", payee),
                "type": entity_ref.get("type") or "Vendor",
            }
        record["Credit"] = bool(data.get("Credit", False))
        record["TotalAmt"] = money(total)
        txn_date = data.get("TxnDate") or env.today.isoformat()
        if parse_date(txn_date) is None:
            raise errors.invalid_date("TxnDate", txn_date)
        record["TxnDate"] = txn_date
        record["CurrencyRef"] = currency_ref(currency)
        if rate is not None:
            record["ExchangeRate"] = rate
        record["Line"] = lines
        record.setdefault("PrintStatus", "NotSet")
        # Paid to a customer against Accounts Receivable (e.g. refunding a credit memo): the
        # customer is charged that much, and a payment can link it (TxnType "Expense").
        receivable = balances.receivable_total(env, record)
        if receivable:
            record["_receivable"] = receivable
            if w.existing and w.existing.get("_applied"):
                record["_applied"] = dict(w.existing["_applied"])
            balances.refresh_open_item("Purchase", record)
        return record

    def after_save(self, env: Env, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        balances.shift_customers(env, "Purchase", old, new)

    def after_delete(self, env: Env, record: dict[str, Any]) -> None:
        payments.detach_payments(env, "Expense", record)
        balances.shift_customers(env, "Purchase", record, None)
