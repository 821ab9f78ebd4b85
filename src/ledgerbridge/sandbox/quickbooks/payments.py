"""Payment (receive payment): lines that apply amounts to invoices and credit memos.

Rules: CustomerRef and TotalAmt are required; a linked invoice must exist (2500) and belong to
the same customer (620); an amount applied may not exceed the invoice's open balance, and the
amounts applied may not exceed TotalAmt; the rest is UnappliedAmt (customer credit). Applying,
changing, voiding or deleting a payment moves the linked invoices' Balance and LinkedTxn.
Response lines carry QBO's verbose `LineEx` blob.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import balances, errors
from ledgerbridge.sandbox.quickbooks.company import Env, ref_to, resolve_ref
from ledgerbridge.sandbox.quickbooks.handler import COMMON_READ_ONLY, Handler, Write, passthrough
from ledgerbridge.sandbox.quickbooks.money_rules import currency_ref, txn_currency
from ledgerbridge.sandbox.quickbooks.wire import decimal_text, money, parse_date, to_decimal

LINKABLE = ("Invoice", "CreditMemo", "Expense")  # Expense: a Purchase paid to the customer


def _name_value(name: str, value: str) -> dict[str, Any]:
    return {
        "name": "{http://schema.intuit.com/finance/v3}NameValue",
        "declaredType": "com.intuit.schema.finance.v3.NameValue",
        "scope": "javax.xml.bind.JAXBElement$GlobalScope",
        "value": {"Name": name, "Value": value},
        "nil": False,
        "globalScope": True,
        "typeSubstituted": False,
    }


def applications(record: dict[str, Any] | None) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for line in (record or {}).get("Line", []):
        amount = to_decimal(line.get("Amount")) or Decimal(0)
        for link in line.get("LinkedTxn", []):
            key = (str(link.get("TxnType")), str(link.get("TxnId")))
            out[key] = out.get(key, Decimal(0)) + amount
    return out


class PaymentHandler(Handler):
    entity = "Payment"
    read_only = COMMON_READ_ONLY | {"UnappliedAmt", "HomeTotalAmt"}
    sticky = ("TxnDate", "CurrencyRef", "ExchangeRate")
    deletable = True
    voidable = True

    def build(self, w: Write) -> dict[str, Any]:
        env, data = w.env, w.data
        customer = resolve_ref(env, "Customer", data.get("CustomerRef"), "CustomerRef")
        if customer is None:
            raise errors.required("CustomerRef")
        total = to_decimal(data.get("TotalAmt"))
        if total is None:
            raise errors.required("TotalAmt")
        if total < 0:
            raise errors.business("The payment amount cannot be negative.")
        total = money(total)
        currency, rate = txn_currency(env.company, data, customer)
        previous = applications(w.existing)
        lines, applied = [], Decimal(0)
        for raw in data.get("Line") or []:
            amount = to_decimal(raw.get("Amount"))
            if amount is None:
                raise errors.required("Line.Amount")
            amount = money(amount)
            links = raw.get("LinkedTxn") or []
            if not links:
                continue
            out_links, line_ex = [], []
            for link in links:
                txn_type, txn_id = link.get("TxnType"), link.get("TxnId")
                if txn_type not in LINKABLE:
                    raise errors.invalid_enum("Line.LinkedTxn.TxnType", txn_type)
                target = env.company.get(balances.ENTITY_OF_TXN[txn_type], str(txn_id or ""))
                if target is None:
                    raise errors.invalid_reference("Line.LinkedTxn.TxnId")
                if balances.customer_of(target) != customer["Id"]:
                    raise errors.cannot_link(
                        f"Txn ID Cannot Be Linked : {txn_type} {txn_id} belongs to another customer."
                    )
                open_now = target.get("_open" if txn_type == "Expense" else "Balance")
                open_before = (to_decimal(open_now) or Decimal(0)) + previous.get(
                    (txn_type, str(txn_id)), Decimal(0)
                )
                if txn_type == "Expense" and amount > open_before:
                    raise errors.business(
                        f"The amount applied to expense {txn_id} ({amount}) exceeds what it "
                        f"charged the customer ({money(open_before)})."
                    )
                if txn_type == "Invoice" and amount > open_before:
                    raise errors.business(
                        f"The amount applied to invoice {target.get('DocNumber', txn_id)} "
                        f"({amount}) exceeds its open balance ({money(open_before)})."
                    )
                if txn_type == "CreditMemo" and amount > open_before:
                    raise errors.business(
                        f"The amount applied from credit memo {target.get('DocNumber', txn_id)} "
                        f"({amount}) exceeds its remaining credit ({money(open_before)})."
                    )
                applied += -amount if txn_type == "CreditMemo" else amount
                out_links.append({"TxnId": str(txn_id), "TxnType": txn_type})
                line_ex += [
                    _name_value("txnId", str(txn_id)),
                    _name_value("txnOpenBalance", decimal_text(money(open_before))),
                    _name_value("txnReferenceNumber", str(target.get("DocNumber", ""))),
                ]
            lines.append({"Amount": amount, "LinkedTxn": out_links, "LineEx": {"any": line_ex}})
        if applied > total:
            raise errors.business(
                f"The amounts applied ({money(applied)}) exceed the payment total ({total})."
            )
        record = passthrough(
            data,
            {
                "CustomerRef",
                "TotalAmt",
                "Line",
                "CurrencyRef",
                "ExchangeRate",
                "DepositToAccountRef",
                "PaymentMethodRef",
                "TxnDate",
                "ProcessPayment",
                "ARAccountRef",
            },
            self.read_only,
        )
        record["CustomerRef"] = ref_to("Customer", customer)
        deposit = resolve_ref(
            env, "Account", data.get("DepositToAccountRef"), "DepositToAccountRef"
        )
        deposit = deposit or env.company.find_account("UndepositedFunds")
        if deposit is not None:
            record["DepositToAccountRef"] = ref_to("Account", deposit, with_name=False)
        if data.get("ARAccountRef"):
            ar = resolve_ref(env, "Account", data["ARAccountRef"], "ARAccountRef")
            if ar is not None:
                record["ARAccountRef"] = ref_to("Account", ar, with_name=False)
        if data.get("PaymentMethodRef"):
            method = resolve_ref(env, "PaymentMethod", data["PaymentMethodRef"], "PaymentMethodRef")
            if method is not None:
                record["PaymentMethodRef"] = ref_to("PaymentMethod", method)
        txn_date = data.get("TxnDate") or env.today.isoformat()
        if parse_date(txn_date) is None:
            raise errors.invalid_date("TxnDate", txn_date)
        record["TxnDate"] = txn_date
        record["CurrencyRef"] = currency_ref(currency)
        if rate is not None:
            record["ExchangeRate"] = rate
        record["TotalAmt"] = total
        record["UnappliedAmt"] = money(total - applied)
        record["ProcessPayment"] = False
        record["Line"] = lines
        return record

    def after_save(self, env: Env, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        _relink(env, new["Id"], applications(old), applications(new))
        balances.shift_customers(env, "Payment", old, new)

    def after_delete(self, env: Env, record: dict[str, Any]) -> None:
        _relink(env, record["Id"], applications(record), {})
        balances.shift_customers(env, "Payment", record, None)

    def void(self, env: Env, record: dict[str, Any]) -> dict[str, Any]:
        if record.get("_voided"):
            return record
        voided = copy.deepcopy(record)
        for line in voided.get("Line", []):
            line["Amount"] = 0
        voided["TotalAmt"] = 0
        voided["UnappliedAmt"] = 0
        note = voided.get("PrivateNote")
        voided["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        voided["_voided"] = True
        return voided


def _relink(
    env: Env,
    payment_id: str,
    before: dict[tuple[str, str], Decimal],
    after: dict[tuple[str, str], Decimal],
) -> None:
    for key in set(before) | set(after):
        if before.get(key) != after.get(key):
            balances.set_application(env, key[0], key[1], payment_id, after.get(key) or None)


def detach_payments(env: Env, entity: str, record: dict[str, Any]) -> None:
    """An invoice or credit memo is voided or deleted: the payments applied to it lose those
    lines and the money becomes unapplied credit."""
    for payment_id in list(record.get("_applied", {})):
        payment = env.company.entities.get("Payment", {}).get(payment_id)
        if payment is None:
            continue
        before = copy.deepcopy(payment)
        kept = []
        for line in payment.get("Line", []):
            links = [
                x
                for x in line.get("LinkedTxn", [])
                if not (x.get("TxnType") == entity and x.get("TxnId") == record["Id"])
            ]
            if links:
                kept.append({**line, "LinkedTxn": links})
        payment["Line"] = kept
        applied = sum(
            (-v if k[0] == "CreditMemo" else v for k, v in applications(payment).items()),
            Decimal(0),
        )
        payment["UnappliedAmt"] = money(
            (to_decimal(payment.get("TotalAmt")) or Decimal(0)) - applied
        )
        balances.shift_customers(env, "Payment", before, payment)
        env.touch("Payment", payment, bump=False)
    record.pop("_applied", None)
