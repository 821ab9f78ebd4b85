"""Derived balances: invoice/credit-memo open amounts and customer A/R balances.

A payment applied to an invoice is recorded on the invoice as a private `_applied` map
(payment id → amount); the invoice's Balance and LinkedTxn derive from it. Customer balances move
by the difference each transaction makes (invoice open balance, minus credit-memo remaining
credit, minus unapplied payment amounts), so no write ever rescans the whole company.

Side-effect changes bump MetaData.LastUpdatedTime (so CDC and queries see them) but not the
SyncToken: recorded traffic shows a customer whose balance changed keeping SyncToken "0" with a
new LastUpdatedTime, and the emulator treats invoices touched by payments the same way.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks.company import Env
from ledgerbridge.sandbox.quickbooks.wire import home_money, money, to_decimal

OPEN_ITEM_TYPES = ("Invoice", "CreditMemo")
# A payment line's TxnType -> the entity it names: "Expense" is a Purchase (a check or expense
# paid to a customer against Accounts Receivable, e.g. the refund of a credit memo).
ENTITY_OF_TXN = {"Invoice": "Invoice", "CreditMemo": "CreditMemo", "Expense": "Purchase"}


def customer_of(record: dict[str, Any]) -> str | None:
    """The customer a transaction moves: CustomerRef, or a Purchase's customer payee."""
    ref = record.get("CustomerRef") or {}
    if ref.get("value"):
        return str(ref["value"])
    payee = record.get("EntityRef") or {}
    return str(payee["value"]) if payee.get("type") == "Customer" and payee.get("value") else None


def receivable_total(env: Env, record: dict[str, Any]) -> Decimal:
    """What a Purchase paid to a customer charges that customer: its Accounts Receivable lines."""
    if customer_of(record) is None:
        return Decimal(0)
    total = Decimal(0)
    for line in record.get("Line", []):
        ref = (line.get("AccountBasedExpenseLineDetail") or {}).get("AccountRef") or {}
        account = env.company.get("Account", str(ref.get("value") or ""))
        if account is not None and account.get("AccountType") == "Accounts Receivable":
            total += to_decimal(line.get("Amount")) or Decimal(0)
    return money(total)


def applied_total(record: dict[str, Any]) -> Decimal:
    return sum((Decimal(str(v)) for v in record.get("_applied", {}).values()), Decimal(0))


def refresh_open_item(entity: str, record: dict[str, Any]) -> None:
    """Recompute Balance (and RemainingCredit) and the Payment links of an invoice or credit memo
    (or of a Purchase charged to a customer: its `_receivable` is what stays open)."""
    total = to_decimal(record.get("TotalAmt")) or Decimal(0)
    if entity == "Purchase":
        total = to_decimal(record.get("_receivable")) or Decimal(0)
    if record.get("_voided"):
        balance = Decimal(0)
    else:
        balance = total - (to_decimal(record.get("Deposit")) or Decimal(0)) - applied_total(record)
    record["Balance"] = money(balance)
    if entity == "CreditMemo":
        record["RemainingCredit"] = money(balance)
    rate = to_decimal(record.get("ExchangeRate"))
    if "HomeBalance" in record and rate is not None:
        record["HomeBalance"] = home_money(balance * rate)
    links = [x for x in record.get("LinkedTxn", []) if x.get("TxnType") != "Payment"]
    payment_ids = sorted(record.get("_applied", {}), key=lambda i: int(i) if i.isdigit() else 0)
    links += [{"TxnId": pid, "TxnType": "Payment"} for pid in payment_ids]
    if entity == "Invoice" or links:
        record["LinkedTxn"] = links
    if entity == "Purchase":
        record.pop("Balance", None)  # kept privately: a Purchase shows no Balance
        record["_open"] = money(balance)


def contribution(entity: str, record: dict[str, Any] | None) -> Decimal:
    if record is None:
        return Decimal(0)
    if entity == "Invoice":
        return to_decimal(record.get("Balance")) or Decimal(0)
    if entity == "Purchase":
        return to_decimal(record.get("_open")) or Decimal(0)
    if entity == "CreditMemo":
        return -(to_decimal(record.get("Balance")) or Decimal(0))
    if entity == "Payment":
        return -(to_decimal(record.get("UnappliedAmt")) or Decimal(0))
    return Decimal(0)


def shift_customers(
    env: Env, entity: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    """Move customer balances by what this transaction change did to them."""
    deltas: dict[str, Decimal] = {}
    for record, sign in ((old, -1), (new, 1)):
        if record is None:
            continue
        customer_id = customer_of(record)
        amount = contribution(entity, record)
        if customer_id and amount:
            deltas[customer_id] = deltas.get(customer_id, Decimal(0)) + sign * amount
    table = env.company.entities.get("Customer", {})
    for customer_id, delta in deltas.items():
        if not delta:
            continue
        customer = table.get(customer_id)
        if customer is None:
            continue
        customer["Balance"] = money((to_decimal(customer.get("Balance")) or Decimal(0)) + delta)
        node: dict[str, Any] | None = customer
        while node is not None:
            node["BalanceWithJobs"] = money(
                (to_decimal(node.get("BalanceWithJobs")) or Decimal(0)) + delta
            )
            _touch_quietly(env, node)
            parent_id = (node.get("ParentRef") or {}).get("value")
            node = table.get(parent_id) if parent_id else None


def _touch_quietly(env: Env, record: dict[str, Any]) -> None:
    record.setdefault("MetaData", {})["LastUpdatedTime"] = env.meta_now
    record["_updated"] = env.now.isoformat()
    env.company.note("Customer", record["Id"])


def set_application(
    env: Env, target_type: str, target_id: str, payment_id: str, amount: Decimal | None
) -> None:
    """Apply (or with None, remove) one payment's amount on an invoice or credit memo (or a
    customer's Purchase, TxnType "Expense")."""
    target_type = ENTITY_OF_TXN.get(target_type, target_type)
    target = env.company.entities.get(target_type, {}).get(target_id)
    if target is None:
        return
    before = copy.deepcopy(target)
    applied = target.setdefault("_applied", {})
    applied.pop(payment_id, None)
    if amount:
        applied[payment_id] = money(amount)
    if not applied:
        target.pop("_applied")
    refresh_open_item(target_type, target)
    env.company.note(target_type, target_id)
    if _public(before) != _public(target):
        shift_customers(env, target_type, before, target)
        env.touch(target_type, target, bump=False)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and k != "MetaData"}
