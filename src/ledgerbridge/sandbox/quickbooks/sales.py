"""Sales forms: Invoice, SalesReceipt, CreditMemo, RefundReceipt, Estimate.

Server-computed fields reproduced from recorded responses: DocNumber from the company sequence,
TxnDate today, DueDate from terms, line Id/LineNum, default line TaxCodeRef (TAX for taxable
items, else NON), the trailing SubTotalLineDetail line, percent discounts, TxnTaxDetail, TotalAmt
and Balance, CurrencyRef, addresses copied from the customer, and the custom-field definitions
echoed (without StringValue when unset). Void zeroes every amount and notes "Voided".
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import balances, errors, payments
from ledgerbridge.sandbox.quickbooks.company import Company, Env, ref_to, resolve_ref
from ledgerbridge.sandbox.quickbooks.handler import (
    COMMON_READ_ONLY,
    Handler,
    Write,
    as_bool,
    check_enum,
    passthrough,
)
from ledgerbridge.sandbox.quickbooks.limits import check_sales_limits
from ledgerbridge.sandbox.quickbooks.lines import build_lines, tax_detail
from ledgerbridge.sandbox.quickbooks.money_rules import currency_ref, txn_currency
from ledgerbridge.sandbox.quickbooks.wire import home_money, money, parse_date, to_decimal

SEQUENCE = {
    "Invoice": "sales",
    "SalesReceipt": "sales",
    "CreditMemo": "sales",
    "RefundReceipt": "sales",
    "Estimate": "Estimate",
}
UNIQUE_SEQUENCES = {
    "sales"
}  # estimates may repeat numbers (recorded: four estimates numbered 1001)
DOC_MAX = 21
_HANDLED = {
    "CustomerRef",
    "Line",
    "CurrencyRef",
    "ExchangeRate",
    "DocNumber",
    "AutoDocNumber",
    "TxnDate",
    "DueDate",
    "TxnTaxDetail",
    "CustomField",
    "BillAddr",
    "ShipAddr",
    "LinkedTxn",
    "DepositToAccountRef",
    "PaymentMethodRef",
    "SalesTermRef",
    "ApplyTaxAfterDiscount",
    "PrintStatus",
    "EmailStatus",
    "Deposit",
    "TxnStatus",
    "AllowIPNPayment",
    "AllowOnlinePayment",
    "AllowOnlineCreditCardPayment",
    "AllowOnlineACHPayment",
}


def doc_index(company: Company) -> dict[str, dict[str, tuple[str, str]]]:
    if company.doc_index is None:
        index: dict[str, dict[str, tuple[str, str]]] = {"sales": {}, "Estimate": {}}
        for entity, seq in SEQUENCE.items():
            for record in company.all(entity):
                if record.get("DocNumber"):
                    index[seq].setdefault(record["DocNumber"], (entity, record["Id"]))
        company.doc_index = index
    return company.doc_index


def _increment(number: str) -> str:
    match = re.search(r"(\d+)$", number)
    if not match:
        return number + "1"
    digits = match.group(1)
    return number[: match.start()] + str(int(digits) + 1).zfill(len(digits))


def next_doc_number(company: Company, seq: str) -> str:
    last = company.doc_numbers.get(seq)
    candidate = _increment(last) if last else "1001"
    used = doc_index(company)[seq]
    while candidate in used:
        candidate = _increment(candidate)
    return candidate


def _term_days(env: Env, data: dict[str, Any], customer: dict[str, Any] | None) -> int | None:
    for ref in (
        data.get("SalesTermRef"),
        (customer or {}).get("SalesTermRef"),
        env.company.preferences.get("SalesFormsPrefs", {}).get("DefaultTerms"),
    ):
        if isinstance(ref, dict) and ref.get("value"):
            term = env.company.get("Term", str(ref["value"]))
            if term is not None:
                return int(term.get("DueDays", 0))
    return None


class SalesHandler(Handler):
    read_only = COMMON_READ_ONLY | {
        "TotalAmt",
        "Balance",
        "HomeBalance",
        "HomeTotalAmt",
        "InvoiceLink",
        "EInvoiceStatus",
        "RemainingCredit",
        "GlobalTaxCalculation",
        "FreeFormAddress",
    }
    sticky = ("DocNumber", "TxnDate", "CurrencyRef", "ExchangeRate")
    deletable = True
    voidable = True

    def __init__(self, entity: str) -> None:
        self.entity = entity

    # ---- create / update -----------------------------------------------------------------
    def build(self, w: Write) -> dict[str, Any]:
        env, data, entity = w.env, w.data, self.entity
        company = env.company
        customer = resolve_ref(env, "Customer", data.get("CustomerRef"), "CustomerRef")
        if customer is None and entity in ("Invoice", "CreditMemo", "Estimate"):
            raise errors.required("CustomerRef")
        if not data.get("Line"):
            raise errors.required("Line")
        check_sales_limits(data)
        currency, rate = txn_currency(company, data, customer)
        lines, subtotal, discount, taxable = build_lines(
            env,
            data["Line"],
            (w.existing or {}).get("Line", []),
            after_discount=as_bool(data.get("ApplyTaxAfterDiscount"), False),
        )
        taxes = tax_detail(env, data.get("TxnTaxDetail") or {}, taxable)
        total = money(subtotal - discount + taxes["TotalTax"])
        if total < 0:
            raise errors.business("The transaction total cannot be negative.")
        record = passthrough(data, _HANDLED, self.read_only)
        if customer is not None:
            record["CustomerRef"] = ref_to("Customer", customer)
        record["DocNumber"] = self._doc_number(w)
        if not record["DocNumber"]:
            record.pop("DocNumber")
        txn_date = data.get("TxnDate") or env.today.isoformat()
        parsed = parse_date(txn_date)
        if parsed is None:
            raise errors.invalid_date("TxnDate", txn_date)
        record["TxnDate"] = txn_date
        record["CurrencyRef"] = currency_ref(currency)
        if rate is not None:
            record["ExchangeRate"] = rate
        record["CustomField"] = self._custom_fields(w)
        record["Line"] = lines
        record["TxnTaxDetail"] = taxes
        for key in ("BillAddr", "ShipAddr"):
            address = data.get(key) or (customer or {}).get(key)
            if address:
                record[key] = copy.deepcopy(address)
                if "Id" not in record[key]:
                    record[key]["Id"] = company.new_id("PhysicalAddress")
        self._dates_and_terms(w, record, customer, parsed)
        record["TotalAmt"] = total
        record["ApplyTaxAfterDiscount"] = as_bool(data.get("ApplyTaxAfterDiscount"), False)
        record["PrintStatus"] = data.get("PrintStatus") or "NeedToPrint"
        record["EmailStatus"] = data.get("EmailStatus") or "NotSet"
        check_enum("PrintStatus", record["PrintStatus"], ("NotSet", "NeedToPrint", "PrintComplete"))
        check_enum("EmailStatus", record["EmailStatus"], ("NotSet", "NeedToSend", "EmailSent"))
        if rate is not None and currency != company.home_currency:
            record["HomeTotalAmt"] = home_money(total * rate)
        self._kind_specific(w, record, total, rate, currency)
        return record

    def _doc_number(self, w: Write) -> str | None:
        company, data = w.env.company, w.data
        seq = SEQUENCE[self.entity]
        doc = data.get("DocNumber")
        auto = as_bool(data.get("AutoDocNumber"), False) or doc == "AUTO_GENERATE"
        if doc is None and not auto:
            custom = company.preferences.get("SalesFormsPrefs", {}).get("CustomTxnNumbers", False)
            if custom:
                return None
            auto = True
        if auto:
            old = (w.existing or {}).get("DocNumber")
            return old if old and data.get("DocNumber") is None else next_doc_number(company, seq)
        doc = str(doc).strip()
        if len(doc) > DOC_MAX:
            raise errors.too_long("DocNumber", DOC_MAX, len(doc))
        changed = w.existing is None or w.existing.get("DocNumber") != doc
        if changed and seq in UNIQUE_SEQUENCES and "allowduplicatedocnum" not in w.env.include:
            holder = doc_index(company)[seq].get(doc)
            if holder is not None and holder != (self.entity, (w.existing or {}).get("Id")):
                raise errors.duplicate_doc_number(doc, holder[0], holder[1])
        return doc

    def _custom_fields(self, w: Write) -> list[dict[str, Any]]:
        values: dict[str, str] = {}
        if w.sparse and w.existing is not None and "CustomField" in w.request:
            values = {
                c["DefinitionId"]: c["StringValue"]
                for c in w.existing.get("CustomField", [])
                if "StringValue" in c
            }
        defs = w.env.company.custom_field_defs()
        by_name = {name.casefold(): slot for slot, name in defs}
        for field in w.data.get("CustomField") or []:
            slot = str(
                field.get("DefinitionId") or by_name.get(str(field.get("Name", "")).casefold(), "")
            )
            if not slot:
                continue
            value = field.get("StringValue")
            if value is None:
                values.pop(slot, None)
            else:
                values[slot] = str(value)
        out = []
        for slot, name in defs:
            entry: dict[str, Any] = {"DefinitionId": slot, "Name": name, "Type": "StringType"}
            if values.get(slot):
                entry["StringValue"] = values[slot]
            out.append(entry)
        return out

    def _dates_and_terms(
        self, w: Write, record: dict[str, Any], customer: dict[str, Any] | None, txn_date: dt.date
    ) -> None:
        data = w.data
        if data.get("SalesTermRef"):
            term = resolve_ref(w.env, "Term", data["SalesTermRef"], "SalesTermRef")
            if term is not None:
                record["SalesTermRef"] = ref_to("Term", term, with_name=False)
        if self.entity != "Invoice":
            if data.get("DueDate"):
                record["DueDate"] = data["DueDate"]
            return
        due = data.get("DueDate")
        if due is None:
            days = _term_days(w.env, data, customer)
            due = (txn_date + dt.timedelta(days=days or 0)).isoformat()
        elif parse_date(due) is None:
            raise errors.invalid_date("DueDate", due)
        record["DueDate"] = due

    def _kind_specific(
        self, w: Write, record: dict[str, Any], total: Decimal, rate: Decimal | None, currency: str
    ) -> None:
        env, data, entity = w.env, w.data, self.entity
        existing = w.existing or {}
        if entity == "Invoice":
            for key in (
                "AllowIPNPayment",
                "AllowOnlinePayment",
                "AllowOnlineCreditCardPayment",
                "AllowOnlineACHPayment",
            ):
                record[key] = as_bool(data.get(key), False)
            deposit = to_decimal(data.get("Deposit"))
            if deposit:
                record["Deposit"] = money(deposit)
        if entity in ("Invoice", "CreditMemo"):
            if existing.get("_applied"):
                record["_applied"] = dict(existing["_applied"])
                if balances.applied_total(record) > total:
                    raise errors.business(
                        "The new total is less than the payments already applied to this transaction."
                    )
            estimate_links = [
                x for x in data.get("LinkedTxn") or [] if x.get("TxnType") != "Payment"
            ]
            record["LinkedTxn"] = estimate_links
            if rate is not None and currency != env.company.home_currency:
                record["HomeBalance"] = Decimal(0)
            balances.refresh_open_item(entity, record)
            if entity == "CreditMemo" and not record["LinkedTxn"]:
                record.pop("LinkedTxn")
        elif entity in ("SalesReceipt", "RefundReceipt"):
            record["Balance"] = 0
            account = resolve_ref(
                env, "Account", data.get("DepositToAccountRef"), "DepositToAccountRef"
            )
            if account is None and entity == "RefundReceipt":
                raise errors.required("DepositToAccountRef")
            account = account or env.company.find_account("UndepositedFunds")
            if account is not None:
                record["DepositToAccountRef"] = ref_to("Account", account)
            if data.get("LinkedTxn"):
                record["LinkedTxn"] = data["LinkedTxn"]
        elif entity == "Estimate":
            record["TxnStatus"] = data.get("TxnStatus") or "Pending"
            if data.get("LinkedTxn"):
                record["LinkedTxn"] = data["LinkedTxn"]
        if data.get("PaymentMethodRef"):
            method = resolve_ref(env, "PaymentMethod", data["PaymentMethodRef"], "PaymentMethodRef")
            if method is not None:
                record["PaymentMethodRef"] = ref_to("PaymentMethod", method)

    # ---- side effects ----------------------------------------------------------------------
    def after_save(self, env: Env, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        seq = SEQUENCE[self.entity]
        index = doc_index(env.company)[seq]
        if old and old.get("DocNumber") and index.get(old["DocNumber"]) == (self.entity, old["Id"]):
            index.pop(old["DocNumber"])
        if new.get("DocNumber"):
            index.setdefault(new["DocNumber"], (self.entity, new["Id"]))
            if not old or old.get("DocNumber") != new["DocNumber"]:
                env.company.doc_numbers[seq] = new["DocNumber"]
        balances.shift_customers(env, self.entity, old, new)

    def after_delete(self, env: Env, record: dict[str, Any]) -> None:
        payments.detach_payments(env, self.entity, record)
        index = doc_index(env.company)[SEQUENCE[self.entity]]
        if record.get("DocNumber") and index.get(record["DocNumber"]) == (
            self.entity,
            record["Id"],
        ):
            index.pop(record["DocNumber"])
        balances.shift_customers(env, self.entity, record, None)

    def void(self, env: Env, record: dict[str, Any]) -> dict[str, Any]:
        if record.get("_voided"):
            return record
        voided = copy.deepcopy(record)
        payments.detach_payments(env, self.entity, voided)
        record.pop("_applied", None)
        for line in voided.get("Line", []):
            if "Amount" in line:
                line["Amount"] = 0
            detail = line.get("SalesItemLineDetail")
            if isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = 0
        taxes = voided.get("TxnTaxDetail", {})
        voided["TxnTaxDetail"] = {
            **{k: v for k, v in taxes.items() if k == "TxnTaxCodeRef"},
            "TotalTax": 0,
        }
        voided["TotalAmt"] = 0
        for key in ("HomeTotalAmt", "Deposit"):
            if key in voided:
                voided[key] = 0
        note = voided.get("PrivateNote")
        voided["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        voided["_voided"] = True
        if self.entity in ("Invoice", "CreditMemo"):
            balances.refresh_open_item(self.entity, voided)
        elif "Balance" in voided:
            voided["Balance"] = 0
        return voided


def send(env: Env, entity: str, record: dict[str, Any], send_to: str | None) -> dict[str, Any]:
    """`/send`: EmailStatus EmailSent, DeliveryInfo filled, sendTo overwrites BillEmail."""
    address = send_to or (record.get("BillEmail") or {}).get("Address")
    if not address:
        raise errors.business("An email address is required to send this transaction.")
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", address):
        raise errors.QboFault(
            "2210",
            "Email Address does not conform to the RFC 822 syntax rules",
            f"Email Address does not conform to the RFC 822 syntax rules: {address}",
            element="BillEmail.Address",
        )
    sent = copy.deepcopy(record)
    if send_to:
        sent["BillEmail"] = {"Address": send_to}
    sent["EmailStatus"] = "EmailSent"
    sent["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": env.meta_now}
    env.company.outbox.append(
        {
            "entity": entity,
            "id": record["Id"],
            "to": address,
            "doc_number": record.get("DocNumber"),
            "time": env.meta_now,
        }
    )
    return sent
