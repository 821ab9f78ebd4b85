"""The QBO bookkeeper's operations of the model-based test (a mixin of ConvergenceMachine)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors import sales_line
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE, PAYMENT

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
