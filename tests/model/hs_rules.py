"""The HubSpot user's operations of the model-based test (a mixin of ConvergenceMachine)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, PAYMENT

PRICES = ["19.95", "75.00", "0.33", "249.50", "1200.00", "12.345"]
TEXT = st.text(alphabet="abcdefgh XYZ-0123", min_size=1, max_size=20)
QBO_PO_MAX = 31  # QBO keeps custom field values up to 31 characters; longer is refused


def pick(items: list[Any], index: int) -> Any:
    return sorted(items, key=str)[index % len(items)]


def enabled(name: str) -> Any:
    """Precondition: the rule is not switched off as a known bug (machine.KNOWN_BUG_RULES)."""
    return precondition(lambda self: name not in self.skipped)


class HubSpotRules:
    """Needs from the machine: run, attempt, webhook, children, hs, books, world, skipped."""

    # ---- HubSpot user ------------------------------------------------------------------------
    @rule(n=st.integers(0, 99))
    def hs_new_contact(self: Any, n: int) -> None:
        email = f"person{len(self.books.contacts)}-{n}@example.com"
        contact = self.attempt(
            self.hs.create("contacts", {"email": email, "firstname": "P", "company": f"Co {n % 3}"})
        )
        if contact:
            self.books.contacts.append(contact)

    @rule(
        contact=st.integers(0, 99),
        lines=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 5)), min_size=1, max_size=3),
        discount=st.sampled_from([None, "10", "12.5"]),
        po=st.one_of(st.none(), TEXT),
        memo=st.one_of(st.none(), TEXT),
        due_days=st.one_of(st.none(), st.integers(0, 60)),
        finish=st.booleans(),
    )
    def hs_create_invoice(
        self,
        contact: int,
        lines: list[tuple[int, int]],
        discount: str | None,
        po: str | None,
        memo: str | None,
        due_days: int | None,
        finish: bool,
    ) -> None:
        contact_id = pick(self.books.contacts, contact) if self.books.contacts else None
        due = (
            (dt.date(2026, 11, 1) + dt.timedelta(days=due_days)).isoformat()
            if due_days is not None
            else None
        )
        invoice = self.run(
            self.hs.invoice(
                contact_id, hs_purchase_order_number=po, hs_comments=memo, hs_due_date=due
            )
        )
        self.books.hs_invoices.append(invoice)
        for product, quantity in lines:
            price = PRICES[product % len(PRICES)]
            self.run(self.hs.add_line(invoice, quantity, price, f"Line {product}"))
        if discount:
            self.run(self.hs.add_adjustment("discounts", invoice, discount, percent=True))
        if finish:
            self.hs_finish(0, invoice)

    @rule(index=st.integers(0, 99))
    def hs_finish(self: Any, index: int, invoice: str | None = None) -> None:
        if invoice is None and self.books.hs_invoices:
            invoice = pick(self.books.hs_invoices, index)
        if invoice is None:
            return
        if self.attempt(self.hs.update("invoices", invoice, {"hs_invoice_status": "open"})):
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    def _status(self: Any, invoice: str) -> str | None:
        return self.run(
            self.hs.get("invoices", invoice, properties="hs_balance_due,hs_invoice_status")
        )["properties"].get("hs_invoice_status")

    def _hs_invoice(self: Any, index: int) -> str | None:
        """Any HubSpot invoice: created by the user, or the engine's copy of a QBO invoice."""
        candidates = self.books.hs_invoices + self.books.hs_copies(self.world)
        return pick(candidates, index) if candidates else None

    @rule(
        index=st.integers(0, 99),
        field=st.sampled_from(["hs_due_date", "hs_purchase_order_number", "hs_comments", "both"]),
        value=TEXT,
        days=st.integers(0, 90),
    )
    def hs_edit(self: Any, index: int, field: str, value: str, days: int) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        due = (dt.date(2026, 11, 1) + dt.timedelta(days=days)).isoformat()
        changes = {
            "hs_due_date": {"hs_due_date": due},
            "hs_purchase_order_number": {"hs_purchase_order_number": value},
            "hs_comments": {"hs_comments": value},
            "both": {"hs_comments": value, "hs_due_date": due},
        }[field]
        if self.attempt(self.hs.update("invoices", invoice, changes)):
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(index=st.integers(0, 99), days=st.integers(0, 90))
    @enabled("hs_refused_po")
    def hs_refused_po(self: Any, index: int, days: int) -> None:
        """A PO QBO refuses (too long) together with a due date change; a later hs_edit fixes
        the PO (issue drift case 1)."""
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        due = (dt.date(2026, 11, 1) + dt.timedelta(days=days)).isoformat()
        po = "P" * (QBO_PO_MAX + 12)
        if self.attempt(
            self.hs.update(
                "invoices", invoice, {"hs_purchase_order_number": po, "hs_due_date": due}
            )
        ):
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(
        index=st.integers(0, 99),
        action=st.sampled_from(["add", "change", "remove"]),
        line=st.integers(0, 9),
        quantity=st.integers(1, 4),
        price=st.sampled_from(PRICES),
    )
    @enabled("hs_lines")
    def hs_lines(self: Any, index: int, action: str, line: int, quantity: int, price: str) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        lines = self.run(self.hs.associated("invoices", invoice, "line_items"))
        if action == "add" or not lines:
            if self.attempt(self.hs.add_line(invoice, quantity, price, "Added line")):
                self.webhook(Side.HUBSPOT, INVOICE, invoice)  # the associationChange event
        elif action == "change":
            line_id = pick(lines, line)
            changes = {"quantity": str(quantity), "price": price}
            if self.attempt(self.hs.update("line_items", line_id, changes)):
                self.children.append(("line_item", line_id))  # line_item.propertyChange
        elif len(lines) > 1 and self.attempt(self.hs.delete("line_items", pick(lines, line))):
            self.webhook(Side.HUBSPOT, INVOICE, invoice)  # the associationChange event

    @rule(
        index=st.integers(0, 99),
        kind=st.sampled_from(["discounts", "fees", "taxes"]),
        action=st.sampled_from(["set", "remove"]),
        value=st.sampled_from(["5", "7.5", "10"]),
    )
    @enabled("hs_adjustments")
    def hs_adjustments(self: Any, index: int, kind: str, action: str, value: str) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        existing = self.run(self.hs.associated("invoices", invoice, kind))
        for object_id in existing:
            self.attempt(self.hs.delete(kind, object_id))
        if action == "set":
            # discounts and taxes as percent, fees as a fixed amount
            self.attempt(self.hs.add_adjustment(kind, invoice, value, percent=kind != "fees"))
        self.webhook(Side.HUBSPOT, INVOICE, invoice)  # the associationChange events

    @rule(index=st.integers(0, 99), share=st.sampled_from(["0.25", "0.5", "1"]))
    @enabled("hs_pay")
    def hs_pay(self: Any, index: int, share: str) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        props = self.run(
            self.hs.get("invoices", invoice, properties="hs_balance_due,hs_invoice_status")
        )["properties"]
        balance = Decimal(props.get("hs_balance_due") or "0")
        amount = (balance * Decimal(share)).quantize(Decimal("0.01"))
        if props.get("hs_invoice_status") not in ("open",) or amount <= 0:
            return
        contacts = self.run(self.hs.associated("invoices", invoice, "contacts"))
        payment = self.attempt(self.hs.pay(invoice, amount, contacts[0] if contacts else None))
        if payment:
            self.webhook(Side.HUBSPOT, PAYMENT, payment)
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(first=st.integers(0, 99), second=st.integers(0, 99), share=st.sampled_from(["0.5", "1"]))
    @enabled("hs_split_pay")
    def hs_split_pay(self: Any, first: int, second: int, share: str) -> None:
        """One HubSpot payment over two open invoices of the same contact: `share` of each
        balance, in one amount (docs/sync-matrix.md: payment across several HubSpot invoices)."""
        invoices = list(
            dict.fromkeys(i for i in (self._hs_invoice(first), self._hs_invoice(second)) if i)
        )
        if len(invoices) != 2:
            return
        amount = Decimal(0)
        contacts: set[tuple[str, ...]] = set()
        for invoice in invoices:
            props = self.run(
                self.hs.get("invoices", invoice, properties="hs_balance_due,hs_invoice_status")
            )["properties"]
            part = (Decimal(props.get("hs_balance_due") or "0") * Decimal(share)).quantize(
                Decimal("0.01")
            )
            if props.get("hs_invoice_status") != "open" or part <= 0:
                return
            amount += part
            contacts.add(tuple(self.run(self.hs.associated("invoices", invoice, "contacts"))))
        if len(contacts) != 1 or not (contact := contacts.pop()):
            return
        payment = self.attempt(self.hs.pay(invoices[0], amount, contact[0], also=(invoices[1],)))
        if payment:
            self.webhook(Side.HUBSPOT, PAYMENT, payment)
            for invoice in invoices:
                self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(contact=st.integers(0, 99), price=st.integers(0, 5))
    def hs_pay_by_link(self: Any, contact: int, price: int) -> None:
        """A payment tied to no invoice: QBO records it as one sales receipt."""
        if not self.books.contacts:
            return
        amount = Decimal(PRICES[price]).quantize(Decimal("0.01"))
        reference = f"link-{len(self.books.link_payments)}"
        payment = self.attempt(
            self.hs.pay_by_link(amount, pick(self.books.contacts, contact), reference)
        )
        if payment:
            self.books.link_payments.append(payment)
            self.webhook(Side.HUBSPOT, PAYMENT, payment)

    @rule(payment=st.integers(0, 9), action=st.sampled_from(["refund_half", "delete"]))
    def hs_refund_or_delete_link_payment(self: Any, payment: int, action: str) -> None:
        if not self.books.link_payments:
            return
        payment_id = pick(self.books.link_payments, payment)
        if action == "delete":
            if self.attempt(self.hs.delete("commerce_payments", payment_id)):
                self.books.link_payments.remove(payment_id)
                self.books.deleted_link_payments.append(payment_id)
                self.webhook(Side.HUBSPOT, PAYMENT, payment_id)
            return
        props = self.run(
            self.hs.get(
                "commerce_payments", payment_id, properties="hs_initial_amount,hs_refunds_amount"
            )
        )["properties"]
        half = (Decimal(props.get("hs_initial_amount") or "0") / 2).quantize(Decimal("0.01"))
        if half <= Decimal(props.get("hs_refunds_amount") or "0"):
            return
        done = self.attempt(
            self.hs.update(
                "commerce_payments",
                payment_id,
                {"hs_refunds_amount": str(half), "hs_latest_status": "partially_refunded"},
            )
        )
        if done:
            self.webhook(Side.HUBSPOT, PAYMENT, payment_id)

    @rule(
        index=st.integers(0, 99),
        payment=st.integers(0, 9),
        action=st.sampled_from(["refund_half", "refund_full", "delete"]),
    )
    def hs_refund_or_delete_payment(self: Any, index: int, payment: int, action: str) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None:
            return
        payments = self.run(self.hs.associated("invoices", invoice, "commerce_payments"))
        if not payments:
            return
        payment_id = pick(payments, payment)
        props = self.run(
            self.hs.get(
                "commerce_payments",
                payment_id,
                properties="hs_initial_amount,hs_refunds_amount,hs_latest_status",
            )
        )["properties"]
        amount = Decimal(props.get("hs_initial_amount") or "0")
        refunded = Decimal(props.get("hs_refunds_amount") or "0")
        if action == "delete":
            done = self.attempt(self.hs.delete("commerce_payments", payment_id))
        else:
            refund = amount if action == "refund_full" else (amount / 2).quantize(Decimal("0.01"))
            if refund <= refunded:
                return  # a refund only adds up: HubSpot never lowers one
            status = "refunded" if refund >= amount else "partially_refunded"
            done = self.attempt(
                self.hs.update(
                    "commerce_payments",
                    payment_id,
                    {"hs_refunds_amount": str(refund), "hs_latest_status": status},
                )
            )
        if done:
            self.webhook(Side.HUBSPOT, PAYMENT, payment_id)
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(index=st.integers(0, 99))
    def hs_void(self: Any, index: int) -> None:
        invoice = self._hs_invoice(index)
        if invoice and self.attempt(
            self.hs.update("invoices", invoice, {"hs_invoice_status": "voided"})
        ):
            self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(index=st.integers(0, 99), contact=st.integers(0, 99))
    @enabled("hs_change_contact")
    def hs_change_contact(self: Any, index: int, contact: int) -> None:
        invoice = self._hs_invoice(index)
        if invoice is None or not self.books.contacts:
            return
        new = pick(self.books.contacts, contact)
        for old in self.run(self.hs.associated("invoices", invoice, "contacts")):
            self.attempt(self.hs.unassociate("invoices", invoice, "contacts", old))
        self.attempt(self.hs.associate("invoices", invoice, "contacts", new))
        self.webhook(Side.HUBSPOT, INVOICE, invoice)

    @rule(
        contact=st.integers(0, 99),
        field=st.sampled_from(["email", "name", "both"]),
        n=st.integers(0, 99),
    )
    @enabled("hs_edit_contact")
    def hs_edit_contact(self: Any, contact: int, field: str, n: int) -> None:
        """A contact's email or name edited in HubSpot (docs/sync-matrix.md: customer fields
        sync both ways after creation, HubSpot owns them; the invoice's customer follows)."""
        if not self.books.contacts:
            return
        contact_id = pick(self.books.contacts, contact)
        changes: dict[str, str] = {}
        if field in ("email", "both"):
            changes["email"] = f"edited-{contact_id}-{n}@example.com"
        if field in ("name", "both"):
            changes |= {"firstname": f"First {n}", "lastname": f"Last {n}"}
        if self.attempt(self.hs.update("contacts", contact_id, changes)):
            self.webhook(Side.HUBSPOT, CUSTOMER, contact_id)

    @rule(contact=st.integers(0, 99))
    @enabled("hs_delete_contact")
    def hs_delete_contact(self: Any, contact: int) -> None:
        if self.books.contacts:
            contact_id = pick(self.books.contacts, contact)
            if self.attempt(self.hs.delete("contacts", contact_id)):
                self.books.contacts.remove(contact_id)

    @rule(product=st.integers(0, 9), price=st.sampled_from(PRICES), delete=st.booleans())
    def hs_change_product(self: Any, product: int, price: str, delete: bool) -> None:
        if not self.books.products:
            return
        product_id = pick(self.books.products, product)
        if delete:
            self.attempt(self.hs.delete("products", product_id))
            self.books.products.remove(product_id)
        else:
            self.attempt(self.hs.update("products", product_id, {"price": price}))


class HubSpotCompanyRules:
    """The HubSpot user renames a contact's company (docs/sync-matrix.md, Company rename:
    HubSpot → QBO, HubSpot owns it). Needs what HubSpotRules needs. Its finding, fixed before
    it joined (tests/integration/test_model_findings_money.py): a customer whose create answer
    was lost had no base, so a rename never reached QBO (soak seed 65)."""

    @rule(contact=st.integers(0, 99))
    @enabled("hs_rename_company")
    def hs_rename_company(self: Any, contact: int) -> None:
        if not self.books.contacts:
            return
        contact_id = pick(self.books.contacts, contact)
        self.books.renames += 1
        name = f"Renamed Co {self.books.renames}"
        if self.attempt(self.hs.update("contacts", contact_id, {"company": name})):
            self.books.company_renames[contact_id] = ("hs", name)
            self.webhook(Side.HUBSPOT, CUSTOMER, contact_id)
