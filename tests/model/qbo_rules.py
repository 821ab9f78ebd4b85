"""The QBO bookkeeper's operations of the model-based test (a mixin of ConvergenceMachine)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors import sales_line
from hs_rules import enabled
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from oracle import qbo_voided

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, LEDGER_CREDIT, LEDGER_REFUND, PAYMENT

PRICES = ["19.95", "75.00", "0.33", "249.50"]
TEXT = st.text(alphabet="abcdefgh XYZ-0123", min_size=1, max_size=20)


def _pick(items: list[str], index: int) -> str:
    return sorted(items, key=str)[index % len(items)]


class QboRules:
    """Needs from the machine: run, attempt, webhook, qbo, books, world, po_slot."""

    def _qbo_invoice(self: Any, index: int) -> str | None:
        """Any QBO invoice: created by the bookkeeper, or the engine's copy of a HubSpot one."""
        candidates = self.books.qbo_invoices + self.books.qbo_copies(self.world)
        return _pick(candidates, index) if candidates else None

    def _po(self: Any, value: str) -> dict[str, Any]:
        return {
            "DefinitionId": self.po_slot,
            "Name": "PO Number",
            "Type": "StringType",
            "StringValue": value,
        }

    @rule(
        customer=st.integers(0, 9),
        lines=st.lists(
            st.tuples(st.integers(1, 3), st.sampled_from(PRICES)), min_size=1, max_size=3
        ),
        memo=st.one_of(st.none(), TEXT),
        po=st.one_of(st.none(), TEXT),
    )
    def qbo_create_invoice(
        self: Any, customer: int, lines: list[tuple[int, str]], memo: str | None, po: str | None
    ) -> None:
        body: dict[str, Any] = {
            "CustomerRef": {"value": _pick(self.books.qbo_customers, customer)},
            "Line": [sales_line(self.books.qbo_items[0], q, p) for q, p in lines],
        }
        if memo:
            body["CustomerMemo"] = {"value": memo}
        if po:
            body["CustomField"] = [self._po(po)]
        created = self.attempt(self.qbo.write("Invoice", body))
        if created:
            self.books.qbo_invoices.append(str(created["Id"]))
            self.webhook(Side.QUICKBOOKS, INVOICE, str(created["Id"]))

    @rule(
        index=st.integers(0, 99),
        field=st.sampled_from(["memo", "po", "memo_and_po", "due", "lines", "customer"]),
        value=TEXT,
        days=st.integers(0, 60),
        quantity=st.integers(1, 4),
    )
    def qbo_edit_invoice(
        self: Any, index: int, field: str, value: str, days: int, quantity: int
    ) -> None:
        invoice = self._qbo_invoice(index)
        if invoice is None or (field == "memo_and_po" and "qbo_memo_and_po" in self.skipped):
            return
        changes: dict[str, Any] = {}
        if field in ("memo", "memo_and_po"):
            changes["CustomerMemo"] = {"value": value}
        if field in ("po", "memo_and_po"):
            changes["CustomField"] = [self._po(value)]
        if field == "customer":
            # Another customer (with another email) for the invoice: the customer field changes.
            customers = self.books.qbo_customers
            changes["CustomerRef"] = {"value": _pick(customers, quantity)}
        if field == "due":
            changes["DueDate"] = f"2026-12-{1 + days % 28:02d}"
        if field == "lines":
            current = self.run(self.qbo.read("Invoice", invoice))
            kept = [
                line
                for line in current["Line"]
                if line.get("DetailType") in ("SalesItemLineDetail", "DiscountLineDetail")
            ]
            sales = [x for x in kept if x["DetailType"] == "SalesItemLineDetail"]
            if sales:
                detail = sales[0]["SalesItemLineDetail"]
                price = Decimal(str(detail.get("UnitPrice", "0")))
                detail["Qty"] = quantity
                sales[0]["Amount"] = str((price * quantity).quantize(Decimal("0.01")))
            changes["Line"] = kept
        if self.attempt(self.qbo.sparse("Invoice", invoice, changes)):
            self.webhook(Side.QUICKBOOKS, INVOICE, invoice)

    @rule(
        first=st.integers(0, 99),
        second=st.one_of(st.none(), st.integers(0, 99)),
        share=st.sampled_from(["0.3", "0.5", "1"]),
    )
    def qbo_pay(self: Any, first: int, second: int | None, share: str) -> None:
        """A payment on one invoice, or split across two invoices of the same customer."""
        invoices = [self._qbo_invoice(first)]
        if second is not None:
            invoices.append(self._qbo_invoice(second))
        records = []
        for invoice in dict.fromkeys(i for i in invoices if i):
            record = self.run(self.qbo.read("Invoice", invoice))
            if Decimal(str(record.get("Balance", 0))) > 0:
                records.append(record)
        customers = {r["CustomerRef"]["value"] for r in records}
        if not records or len(customers) != 1:
            return
        lines = []
        for record in records:
            balance = Decimal(str(record["Balance"]))
            amount = (balance * Decimal(share)).quantize(Decimal("0.01"))
            if amount > 0:
                lines.append(
                    {
                        "Amount": str(amount),
                        "LinkedTxn": [{"TxnId": record["Id"], "TxnType": "Invoice"}],
                    }
                )
        if not lines:
            return
        total = sum((Decimal(x["Amount"]) for x in lines), Decimal(0))
        body = {"CustomerRef": {"value": customers.pop()}, "TotalAmt": str(total), "Line": lines}
        payment = self.attempt(self.qbo.write("Payment", body))
        if payment:
            self.books.qbo_payments.append(str(payment["Id"]))
            self.webhook(Side.QUICKBOOKS, PAYMENT, str(payment["Id"]))

    @rule(payment=st.integers(0, 99), void=st.booleans())
    @precondition(lambda self: "qbo_delete_payment" not in self.skipped)
    def qbo_delete_payment(self: Any, payment: int, void: bool) -> None:
        """The bookkeeper deletes or voids a payment (a voided one stays, with zero amounts)."""
        if not self.books.qbo_payments:
            return
        payment_id = _pick(self.books.qbo_payments, payment)
        gone = self.qbo.void if void else self.qbo.delete
        if self.attempt(gone("Payment", payment_id)):
            self.books.qbo_payments.remove(payment_id)
            self.webhook(Side.QUICKBOOKS, PAYMENT, payment_id)

    @rule(index=st.integers(0, 99))
    def qbo_void(self: Any, index: int) -> None:
        invoice = self._qbo_invoice(index)
        if invoice and self.attempt(self.qbo.void("Invoice", invoice)):
            self.webhook(Side.QUICKBOOKS, INVOICE, invoice)

    @rule(price=st.sampled_from(PRICES), name=TEXT)
    def qbo_change_item(self: Any, price: str, name: str) -> None:
        """Item changes in QBO: new items priced and renamed (existing lines keep their price)."""
        created = self.attempt(
            self.qbo.write(
                "Item",
                {
                    "Name": f"Item {name} {len(self.books.qbo_items)}",
                    "Type": "Service",
                    "UnitPrice": price,
                    "IncomeAccountRef": {"value": "1"},
                },
            )
        )
        if created:
            self.books.qbo_items.append(str(created["Id"]))
            self.attempt(self.qbo.sparse("Item", str(created["Id"]), {"UnitPrice": "1.00"}))


def _invoice_share(payment: dict[str, Any], invoice: str) -> Decimal:
    """What a QBO payment applies to the invoice (its lines that link it)."""
    return sum(
        (
            Decimal(str(line.get("Amount") or 0))
            for line in payment.get("Line", [])
            for linked in line.get("LinkedTxn", [])
            if linked.get("TxnType") == "Invoice" and str(linked.get("TxnId")) == invoice
        ),
        Decimal(0),
    )


class QboMoneyRules:
    """The bookkeeper's own money operations on synced invoices (docs/sync-matrix.md, Payments:
    refund receipts and credit memos made in QBO by hand). Needs what QboRules needs.

    Their findings, fixed before they joined (tests/integration/test_model_findings_money.py):
    a receipt stepped before its payment's copy reached HubSpot failed for good as unmatched
    (soak seed 41); a credit memo whose copy HubSpot deleted waited for ever."""

    async def _checking(self: Any) -> str:
        if not self.books.checking:
            [account] = await self.qbo.query("select * from Account where Name = 'Checking'")
            self.books.checking = str(account["Id"])
        return str(self.books.checking)

    @rule(
        index=st.integers(0, 99),
        share=st.sampled_from(["0.5", "1", "1.5"]),
        how=st.sampled_from(["linked", "reference", "unnamed"]),
    )
    @enabled("qbo_refund_receipt")
    def qbo_refund_receipt(self: Any, index: int, share: str, how: str) -> None:
        """A RefundReceipt for part (or all, or too much) of one invoice's share of a payment,
        naming the payment (LinkedTxn), giving its reference (PaymentRefNum), or naming neither.
        Any live payment on a synced invoice may be refunded (a HubSpot payment recorded in QBO,
        the bookkeeper's own, one over two invoices)."""
        invoices = set(self.books.qbo_invoices + self.books.qbo_copies(self.world))
        paid = [
            (p, invoice)
            for p in self.run(self.qbo.query("select * from Payment maxresults 1000"))
            if not qbo_voided(p) and Decimal(str(p.get("TotalAmt") or 0)) > 0
            for invoice in sorted(invoices)
            if _invoice_share(p, invoice) > 0
        ]
        if not paid:
            return
        chosen, invoice = sorted(paid, key=lambda x: (int(x[0]["Id"]), x[1]))[index % len(paid)]
        amount = (_invoice_share(chosen, invoice) * Decimal(share)).quantize(Decimal("0.01"))
        body: dict[str, Any] = {
            "CustomerRef": {"value": chosen["CustomerRef"]["value"]},
            "DepositToAccountRef": {"value": self.run(self._checking())},
            "Line": [sales_line(self.books.qbo_items[0], 1, str(amount))],
        }
        if how == "linked":
            body["LinkedTxn"] = [{"TxnId": str(chosen["Id"]), "TxnType": "Payment"}]
        elif how == "reference" and chosen.get("PaymentRefNum"):
            body["PaymentRefNum"] = chosen["PaymentRefNum"]
        receipt = self.attempt(self.qbo.write("RefundReceipt", body))
        if receipt:
            self.books.hand_receipts.append(str(receipt["Id"]))
            self.webhook(Side.QUICKBOOKS, LEDGER_REFUND, str(receipt["Id"]))

    @rule(receipt=st.integers(0, 99), action=st.sampled_from(["void", "delete", "lower"]))
    @enabled("qbo_refund_receipt")
    def qbo_change_refund_receipt(self: Any, receipt: int, action: str) -> None:
        """The bookkeeper voids, deletes or lowers a refund receipt made by hand."""
        live = [r for r in self.books.hand_receipts if r not in self.books.deleted_receipts]
        if not live:
            return
        receipt_id = _pick(live, receipt)
        if action == "void":
            done = self.attempt(self.qbo.void("RefundReceipt", receipt_id))
        elif action == "delete":
            done = self.attempt(self.qbo.delete("RefundReceipt", receipt_id))
            if done:
                self.books.deleted_receipts.append(receipt_id)
        else:
            current = self.run(self.qbo.read("RefundReceipt", receipt_id))
            lower = (Decimal(str(current.get("TotalAmt") or 0)) / 2).quantize(Decimal("0.01"))
            if qbo_voided(current) or lower <= 0:
                return
            line = sales_line(self.books.qbo_items[0], 1, str(lower))
            done = self.attempt(self.qbo.sparse("RefundReceipt", receipt_id, {"Line": [line]}))
        if done:
            self.webhook(Side.QUICKBOOKS, LEDGER_REFUND, receipt_id)

    @rule(
        index=st.integers(0, 99), share=st.sampled_from(["0.25", "0.5", "1"]), apply=st.booleans()
    )
    @enabled("qbo_credit_memo")
    def qbo_credit_memo(self: Any, index: int, share: str, apply: bool) -> None:
        """A CreditMemo for part of what an invoice owes, applied to it at once (a Payment whose
        lines link the invoice and the memo, 0.00 in total) or left as the customer's credit."""
        invoices = set(self.books.qbo_invoices + self.books.qbo_copies(self.world))
        owing = [
            r
            for r in self.run(self.qbo.query("select * from Invoice maxresults 1000"))
            if str(r["Id"]) in invoices and Decimal(str(r.get("Balance") or 0)) > 0
        ]
        if not owing:
            return
        record = sorted(owing, key=lambda r: int(r["Id"]))[index % len(owing)]
        amount = (Decimal(str(record.get("Balance") or 0)) * Decimal(share)).quantize(
            Decimal("0.01")
        )
        if qbo_voided(record) or amount <= 0:
            return
        body = {
            "CustomerRef": {"value": record["CustomerRef"]["value"]},
            "Line": [sales_line(self.books.qbo_items[0], 1, str(amount))],
        }
        memo = self.attempt(self.qbo.write("CreditMemo", body))
        if not memo:
            return
        self.books.hand_memos.append(str(memo["Id"]))
        self.webhook(Side.QUICKBOOKS, LEDGER_CREDIT, str(memo["Id"]))
        if apply:
            self._apply_credit(str(memo["Id"]), record, amount)

    @rule(memo=st.integers(0, 99), index=st.integers(0, 99))
    @enabled("qbo_credit_memo")
    def qbo_apply_credit(self: Any, memo: int, index: int) -> None:
        """Credit left on a memo applied later, to an open invoice of the memo's customer."""
        if not self.books.hand_memos:
            return
        memo_id = _pick(self.books.hand_memos, memo)
        row = self.run(self.qbo.read("CreditMemo", memo_id))
        left = Decimal(str(row.get("RemainingCredit") or 0))
        customer = row["CustomerRef"]["value"]
        candidates = self.books.qbo_invoices + self.books.qbo_copies(self.world)
        open_ = [
            r
            for r in self.run(
                self.qbo.query(f"select * from Invoice where CustomerRef = '{customer}'")
            )
            if str(r["Id"]) in candidates and Decimal(str(r.get("Balance") or 0)) > 0
        ]
        if left <= 0 or not open_:
            return
        record = sorted(open_, key=lambda r: int(r["Id"]))[index % len(open_)]
        self._apply_credit(memo_id, record, min(left, Decimal(str(record["Balance"]))))

    def _apply_credit(self: Any, memo_id: str, invoice: dict[str, Any], amount: Decimal) -> None:
        body = {
            "CustomerRef": {"value": invoice["CustomerRef"]["value"]},
            "TotalAmt": "0",
            "Line": [
                {
                    "Amount": str(amount),
                    "LinkedTxn": [{"TxnId": str(invoice["Id"]), "TxnType": "Invoice"}],
                },
                {"Amount": str(amount), "LinkedTxn": [{"TxnId": memo_id, "TxnType": "CreditMemo"}]},
            ],
        }
        payment = self.attempt(self.qbo.write("Payment", body))
        if payment:
            self.books.qbo_payments.append(str(payment["Id"]))
            self.webhook(Side.QUICKBOOKS, PAYMENT, str(payment["Id"]))
            self.webhook(Side.QUICKBOOKS, LEDGER_CREDIT, memo_id)

    @rule(contact=st.integers(0, 99), field=st.sampled_from(["CompanyName", "DisplayName"]))
    @enabled("qbo_rename_customer")
    def qbo_rename_customer(self: Any, contact: int, field: str) -> None:
        """The bookkeeper renames a HubSpot contact's customer (its company name, or the name
        QBO lists it by): QBO's own change, kept (docs/sync-matrix.md, Company rename)."""
        if not self.books.contacts:
            return
        contact_id = _pick(self.books.contacts, contact)
        link = self.world.store.get_link(
            self.world.connection_id, CUSTOMER, Side.HUBSPOT, contact_id
        )
        if link is None or not link.qbo_id:
            return
        self.books.renames += 1
        name = f"Bookkeeper Co {self.books.renames}"
        if self.attempt(self.qbo.sparse("Customer", link.qbo_id, {field: name})):
            if field == "CompanyName":
                self.books.company_renames[contact_id] = ("qbo", name)
            else:
                self.books.display_renamed.add(link.qbo_id)
            self.webhook(Side.QUICKBOOKS, CUSTOMER, link.qbo_id)
