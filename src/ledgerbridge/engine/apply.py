"""Carry out a plan through the ports, idempotently, and record what was done.

Order inside one plan: items and customer first (they are the invoice's dependencies), then the
invoice writes, then links with their new base snapshots and version markers (so the echoes of
these writes are recognised), then the audit entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Invoice, Payment, PaymentApplication, Product, Side
from ledgerbridge.engine.decisions import (
    ApplyLedgerCredit,
    Audit,
    CreateLedgerFeeExpense,
    CreateLedgerInvoice,
    CreateLedgerPayment,
    CreateLedgerRefund,
    CreateLedgerSalesReceipt,
    EnsureCustomer,
    EnsureItems,
    Plan,
    RemoveLedgerPayment,
    UpdateCrmInvoice,
    UpdateLedgerInvoice,
    UpsertCrmInvoice,
    UpsertCrmPayment,
    VoidLedgerInvoice,
)
from ledgerbridge.engine.ensure import Resolver
from ledgerbridge.engine.intents import create_once, intent_key
from ledgerbridge.engine.parity import ledger_total
from ledgerbridge.engine.payments import (
    COPY,
    FEE_EXPENSE_ID,
    PAID_INVOICES,
    REFUND_IDS,
    REFUNDED_IN_QBO,
    REMOVED_IN_QBO,
    UNAPPLIED_CREDIT,
    booked_refunds,
)
from ledgerbridge.engine.ports import (
    FEE,
    INVOICE,
    ITEM,
    PAYMENT,
    REFUND,
    SALES_RECEIPT,
    CrmPort,
    LedgerPort,
    Link,
    StorePort,
    WriteResult,
)
from ledgerbridge.engine.snapshot import snapshot_hash
from ledgerbridge.errors import Invalid


@dataclass
class Applied:
    """What the writes produced: ids, numbers and versions on each side."""

    hubspot_id: str | None = None
    qbo_id: str | None = None
    qbo_number: str | None = None
    hubspot_version: str | None = None
    qbo_version: str | None = None
    customer_qbo_id: str | None = None
    qbo_total: Decimal | None = None  # the total QBO computed for the invoice it wrote
    qbo_record: Invoice | None = None  # the invoice as QBO answered the last write (verify.py)
    created: list[str] = field(default_factory=list)  # e.g. "quickbooks invoice 145"
    matched: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # adjustments worth an audit entry
    fee_expense_id: str | None = None  # the QBO Purchase booking a payment's fees
    refund_ids: list[str] = field(default_factory=list)  # QBO RefundReceipts booked
    refunded_total: Decimal | None = None  # the refunded total QBO now holds
    removed: str | None = None  # "void" | "delete": what was done to the QBO payment
    qbo_kind: str = ""  # a payment recorded as a SalesReceipt: SALES_RECEIPT (Link.qbo_kind)

    # A HubSpot payment recorded in QBO: per QBO invoice, what was meant for it and is still
    # the customer's unapplied credit (the invoice owed less); None: not a payment write.
    unapplied: dict[str, Decimal] | None = None


class Applier:
    """Carries out a plan's writes, idempotently: creates behind write intents, updates with
    version checks.
    """

    def __init__(
        self,
        connection_id: int,
        crm: CrmPort,
        ledger: LedgerPort,
        store: StorePort,
        resolver: Resolver,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.resolver = resolver
        self.clock = clock

    async def apply(self, plan: Plan, link: Link | None) -> Applied:
        done = Applied(
            hubspot_id=plan.hubspot_id,
            qbo_id=plan.qbo_id,
            hubspot_version=plan.hubspot_version,
            qbo_version=plan.qbo_version,
            customer_qbo_id=(
                plan.extra.get("customer_qbo_id")
                or (link.extra.get("customer_qbo_id") if link else None)
            ),
        )
        item_ids: list[str | None] | None = None
        for op in plan.ops:
            if isinstance(op, EnsureItems):
                item_ids = await self.resolver.item_ids(op.lines, op.policy, op.default_item_name)
            elif isinstance(op, EnsureCustomer):
                done.customer_qbo_id = await self.resolver.customer_id(
                    op.customer, op.currency, op.home_currency
                )
            elif isinstance(op, CreateLedgerInvoice):
                await self._create_invoice(op, done, item_ids)
            elif isinstance(op, UpdateLedgerInvoice):
                ids = (
                    op.item_ids
                    if op.item_ids is not None
                    else tuple(i or "" for i in (item_ids or []))
                )
                customer_id = op.customer_id or done.customer_qbo_id or ""
                result = await self.ledger.update_invoice(
                    op.qbo_id, op.version, op.invoice, customer_id, ids, op.custom_fields
                )
                done.qbo_version = result.version
                done.qbo_number = result.number or done.qbo_number
                done.qbo_total = result.total
                done.qbo_record = result.record
                done.customer_qbo_id = customer_id or done.customer_qbo_id
                done.updated.append(f"quickbooks invoice {op.qbo_id}: {', '.join(op.fields)}")
            elif isinstance(op, VoidLedgerInvoice):
                result = await self.ledger.void_invoice(op.qbo_id, op.version)
                done.qbo_version = result.version
                done.qbo_record = result.record
                done.updated.append(f"quickbooks invoice {op.qbo_id}: voided")
            elif isinstance(op, UpsertCrmInvoice):
                result = await self.crm.upsert_invoice_from_ledger(op.invoice, op.qbo_id)
                done.hubspot_id = result.id
                done.hubspot_version = result.version
                (done.created if result.created else done.matched).append(
                    f"hubspot invoice {result.id}"
                )
            elif isinstance(op, UpdateCrmInvoice):
                result = await self.crm.update_invoice(op.hubspot_id, op.invoice, op.fields)
                done.hubspot_version = result.version
                done.updated.append(f"hubspot invoice {op.hubspot_id}: {', '.join(op.fields)}")
            elif isinstance(op, UpsertCrmPayment):
                result = await self.crm.upsert_payment_from_ledger(
                    op.payment,
                    op.hubspot_invoice_id,
                    op.amount,
                    op.external_key,
                    keep_refund=op.keep_refund,
                )
                (done.created if result.created else done.matched).append(
                    f"hubspot payment {result.id}"
                )
            elif isinstance(op, CreateLedgerPayment):
                await self._create_payment(op, done)
            elif isinstance(op, ApplyLedgerCredit):
                await self._apply_credit(op, done)
            elif isinstance(op, CreateLedgerFeeExpense):
                await self._create_fee_expense(op, done)
            elif isinstance(op, CreateLedgerRefund):
                await self._create_refund(op, done)
            elif isinstance(op, CreateLedgerSalesReceipt):
                await self._create_sales_receipt(op, done)
            elif isinstance(op, RemoveLedgerPayment):
                removed = await self.ledger.remove_payment(op.qbo_id, op.how, op.kind)
                done.removed = op.how
                if removed is not None and removed.version:
                    done.qbo_version = removed.version
                word = "voided" if op.how == "void" else "deleted"
                what = "sales receipt" if op.kind else "payment"
                done.updated.append(
                    f"quickbooks {what} {op.qbo_id}: {word if removed else 'already gone'}"
                )
            elif isinstance(op, Audit):
                continue  # written once the writes succeeded (see record)
        return done

    # ---- creates ---------------------------------------------------------------------------
    async def _create_invoice(
        self, op: CreateLedgerInvoice, done: Applied, item_ids: list[str | None] | None
    ) -> None:
        if item_ids is None or any(i is None for i in item_ids) or not done.customer_qbo_id:
            raise Invalid("internal: invoice dependencies were not resolved before its create")
        ids = tuple(i or "" for i in item_ids)
        customer_id = done.customer_qbo_id
        doc_number = op.invoice.number

        async def lookup() -> WriteResult | None:
            found = await self.ledger.find_invoice(doc_number, op.external_key)
            return (
                WriteResult(found.id or "", found.version, found.number, False, ledger_total(found))
                if found and found.id
                else None
            )

        async def reuse(result_id: str) -> WriteResult:
            found = await self.ledger.get_invoice(result_id)
            if found is None:
                return WriteResult(result_id, created=False)
            return WriteResult(result_id, found.version, found.number, False, ledger_total(found))

        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, INVOICE, op.source_id),
            connection_id=self.connection_id,
            object_type=INVOICE,
            target=Side.QUICKBOOKS,
            source_id=op.source_id,
            lookup=lookup,
            reuse=reuse,
            create=lambda request_id: self.ledger.create_invoice(
                op.invoice, customer_id, ids, op.custom_fields, request_id, op.external_key
            ),
        )
        done.qbo_id = result.id
        done.qbo_version = result.version
        done.qbo_number = result.number
        done.qbo_total = result.total
        done.qbo_record = result.record
        (done.created if result.created else done.matched).append(f"quickbooks invoice {result.id}")

    async def _fit_to_balances(
        self, payment: Payment, done: Applied
    ) -> tuple[Payment, str | None, list[str]]:
        """Apply no more to each QBO invoice than it still owes (QBO refuses more: the invoice
        may have been paid there meanwhile). The payment keeps its full amount: what does not
        fit stays on the customer as unapplied credit, which is what the money is."""
        fitted: list[PaymentApplication] = []
        notes: list[str] = []
        customer_id: str | None = None
        for app in payment.applications:
            invoice = await self.ledger.get_invoice(app.invoice_id)
            if invoice is not None and invoice.customer is not None:
                customer_id = customer_id or invoice.customer.id
            owed = invoice.balance_due if invoice is not None else None
            share = app.amount if owed is None else min(app.amount, max(owed, Decimal(0)))
            if share < app.amount:
                left = done.unapplied if done.unapplied is not None else {}
                left[app.invoice_id] = app.amount - share
                done.unapplied = left
                notes.append(
                    f"{app.amount - share} of {app.amount} {payment.currency} left unapplied (customer "
                    f"credit): QuickBooks invoice {app.invoice_id} owed only {share}"
                )
            if share > 0:
                fitted.append(PaymentApplication(app.invoice_id, share))
        return replace(payment, applications=tuple(fitted)), customer_id, notes

    async def _create_payment(self, op: CreateLedgerPayment, done: Applied) -> None:
        done.unapplied = {}
        payment, invoice_customer, notes = await self._fit_to_balances(op.payment, done)
        done.notes.extend(notes)
        # The invoice's customer as QBO holds it now (QBO refuses a payment of another customer
        # on it); the one its link remembers may be stale (the bookkeeper changed it since).
        customer_id = invoice_customer or op.customer_id
        if not customer_id:
            raise Invalid(
                "The QuickBooks invoice this payment applies to has no customer",
                hint="Check the invoice in QuickBooks, then retry",
                code="missing_customer",
            )

        async def lookup() -> WriteResult | None:
            found = await self.ledger.find_payment(op.external_key)
            return (
                WriteResult(found.id or "", found.version, created=False)
                if found and found.id
                else None
            )

        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, PAYMENT, op.source_id),
            connection_id=self.connection_id,
            object_type=PAYMENT,
            target=Side.QUICKBOOKS,
            source_id=op.source_id,
            lookup=lookup,
            create=lambda request_id: self.ledger.create_payment(
                payment, customer_id, request_id, op.external_key
            ),
        )
        done.qbo_id = result.id
        done.qbo_version = result.version
        (done.created if result.created else done.matched).append(f"quickbooks payment {result.id}")

    async def _apply_credit(self, op: ApplyLedgerCredit, done: Applied) -> None:
        """The credit a HubSpot payment left in QBO goes to the invoice it was meant for, as
        far as that invoice owes now (e.g. another payment on it was deleted)."""
        left: dict[str, Decimal] = {}
        done.qbo_id = op.qbo_payment_id
        for invoice_id, credit in op.credits.items():
            invoice = await self.ledger.get_invoice(invoice_id)
            owed = invoice.balance_due if invoice is not None else None
            share = min(credit, max(owed or Decimal(0), Decimal(0)))
            if share > 0 and invoice is not None:
                try:
                    result = await self.ledger.apply_payment_credit(
                        op.qbo_payment_id, invoice_id, share
                    )
                except Invalid as exc:
                    # e.g. the invoice belongs to another customer now: the credit stays the
                    # customer's; the invoice then shows the difference (payment_steps.py)
                    done.notes.append(
                        f"the credit could not be applied to QuickBooks invoice {invoice_id}: "
                        f"{exc.message}"
                    )
                    left[invoice_id] = credit
                    continue
                done.qbo_version = result.version
                done.updated.append(f"quickbooks payment {op.qbo_payment_id}")
                done.notes.append(
                    f"{share} {invoice.currency if invoice else ''} of the customer credit this "
                    f"payment left applied to QuickBooks invoice {invoice_id}, which owed it again"
                )
            if credit - share > 0:
                left[invoice_id] = credit - share
        done.unapplied = left

    async def _create_fee_expense(self, op: CreateLedgerFeeExpense, done: Applied) -> None:
        async def lookup() -> WriteResult | None:
            return await self.ledger.find_fee_expense(op.external_key)

        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, FEE, op.source_id),
            connection_id=self.connection_id,
            object_type=FEE,
            target=Side.QUICKBOOKS,
            source_id=op.source_id,
            lookup=lookup,
            create=lambda request_id: self.ledger.create_fee_expense(
                op.fee, request_id, op.external_key
            ),
        )
        done.fee_expense_id = result.id
        (done.created if result.created else done.matched).append(
            f"quickbooks expense {result.id} (fees {op.fee.total})"
        )

    async def _create_sales_receipt(self, op: CreateLedgerSalesReceipt, done: Applied) -> None:
        customer_id = await self.resolver.customer_id(op.customer, op.currency, op.home_currency)
        if not customer_id:
            raise Invalid("internal: the sales receipt's customer was not resolved")
        item_id = await self._receipt_item(op.item_name)
        receipt = replace(op.receipt, customer_id=customer_id, item_id=item_id)

        async def lookup() -> WriteResult | None:
            return await self.ledger.find_sales_receipt(op.external_key)

        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, PAYMENT, f"receipt:{op.source_id}"),
            connection_id=self.connection_id,
            object_type=PAYMENT,
            target=Side.QUICKBOOKS,
            source_id=op.source_id,
            lookup=lookup,
            create=lambda request_id: self.ledger.create_sales_receipt(
                receipt, request_id, op.external_key
            ),
        )
        done.qbo_id = result.id
        done.qbo_version = result.version
        done.qbo_kind = SALES_RECEIPT
        done.customer_qbo_id = customer_id
        (done.created if result.created else done.matched).append(
            f"quickbooks sales receipt {result.id}"
        )

    async def _receipt_item(self, name: str) -> str:
        """The item a sales receipt's line books to: found by name, else created once."""
        name = name.strip() or "Sales"
        found = await self.ledger.find_item(None, name)
        if found is not None and found.id:
            return found.id
        product = Product(name=name, description="Sales recorded from HubSpot payments")

        async def lookup() -> WriteResult | None:
            again = await self.ledger.find_item(None, name)
            return WriteResult(again.id, created=False) if again and again.id else None

        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, ITEM, f"receipt-item:{name.lower()}"),
            connection_id=self.connection_id,
            object_type=ITEM,
            target=Side.QUICKBOOKS,
            source_id=f"receipt-item:{name.lower()}",
            lookup=lookup,
            create=lambda request_id: self.ledger.create_item(product, request_id),
        )
        return result.id

    async def _create_refund(self, op: CreateLedgerRefund, done: Applied) -> None:
        refund = op.refund
        if not refund.payment_id:
            if not done.qbo_id:
                raise Invalid("internal: a refund was planned before its payment was recorded")
            refund = replace(refund, payment_id=done.qbo_id)

        async def lookup() -> WriteResult | None:
            return await self.ledger.find_refund(op.external_key)

        source = f"{op.source_id}:{format(op.refunded_total, 'f')}"
        result = await create_once(
            self.store,
            key=intent_key(self.connection_id, REFUND, source),
            connection_id=self.connection_id,
            object_type=REFUND,
            target=Side.QUICKBOOKS,
            source_id=source,
            lookup=lookup,
            create=lambda request_id: self.ledger.create_refund(
                refund, request_id, op.external_key
            ),
        )
        done.refund_ids.append(result.id)
        done.refunded_total = op.refunded_total
        (done.created if result.created else done.matched).append(
            f"quickbooks {refund.booked_as.replace('_', ' ')} {result.id} "
            f"({refund.amount} {refund.currency})"
        )

    # ---- bookkeeping -----------------------------------------------------------------------
    def invoice_link(self, plan: Plan, done: Applied, link: Link | None) -> Link | None:
        """The invoice link with its new bases and versions (the caller saves it)."""
        if not done.hubspot_id or not done.qbo_id:
            return link
        base_hs = plan.base_hubspot
        base_qbo = plan.base_quickbooks
        extra: dict[str, Any] = dict(link.extra) if link else {}
        extra["origin"] = (plan.origin or Side.HUBSPOT).value
        if done.customer_qbo_id:
            extra["customer_qbo_id"] = done.customer_qbo_id
        number = done.qbo_number or plan.extra.get("doc_number")
        if number:
            extra["doc_number"] = number
        new = Link(
            self.connection_id,
            INVOICE,
            done.hubspot_id,
            done.qbo_id,
            base={"hubspot": dict(base_hs or {}), "quickbooks": dict(base_qbo or {})},
            hubspot_version=done.hubspot_version,
            qbo_version=done.qbo_version,
            hubspot_hash=snapshot_hash(base_hs or {}),
            qbo_hash=snapshot_hash(base_qbo or {}),
            extra=extra,
        )
        return new

    def record_payment(self, plan: Plan, done: Applied, link: Link | None) -> None:
        if plan.key.side is Side.QUICKBOOKS:
            if not plan.qbo_id:
                return
            extra = dict(link.extra) if link else {}
            extra.update({"origin": Side.QUICKBOOKS.value, "shares": plan.extra.get("shares", {})})
            self.store.save_link(
                Link(
                    self.connection_id,
                    PAYMENT,
                    link.hubspot_id if link else None,
                    plan.qbo_id,
                    qbo_version=plan.qbo_version,
                    qbo_hash=plan.extra.get("qbo_hash"),
                    extra=extra,
                )
            )
        elif plan.extra.get(COPY) and plan.hubspot_id:
            # A copy of a QBO payment: only its refunds are booked, on its own refund link
            # (never on the QBO payment's link, which is keyed by the QBO payment).
            own = self.store.get_link(self.connection_id, REFUND, Side.HUBSPOT, plan.hubspot_id)
            if done.refunded_total is not None and done.refunded_total > booked_refunds(own):
                self.store.save_link(
                    Link(
                        self.connection_id,
                        REFUND,
                        plan.hubspot_id,
                        None,
                        extra={
                            "origin": Side.QUICKBOOKS.value,
                            "qbo_payment_id": plan.qbo_id,
                            REFUNDED_IN_QBO: format(done.refunded_total, "f"),
                            REFUND_IDS: [
                                *((own.extra.get(REFUND_IDS) or []) if own else []),
                                *done.refund_ids,
                            ],
                        },
                    )
                )
        elif done.qbo_id and plan.hubspot_id:
            for note in done.notes:
                self.store.audit(
                    self.connection_id,
                    PAYMENT,
                    plan.hubspot_id,
                    "applied_amount",
                    None,
                    note,
                    "quickbooks (invoice balance)",
                )
            extra = dict(link.extra) if link else {}
            extra["origin"] = Side.HUBSPOT.value
            if done.fee_expense_id:
                extra[FEE_EXPENSE_ID] = done.fee_expense_id
            if done.refunded_total is not None and done.refunded_total > booked_refunds(link):
                extra[REFUNDED_IN_QBO] = format(done.refunded_total, "f")
                extra[REFUND_IDS] = [*(extra.get(REFUND_IDS) or []), *done.refund_ids]
            if done.removed:
                extra[REMOVED_IN_QBO] = done.removed
            if done.qbo_kind == SALES_RECEIPT and done.customer_qbo_id:
                extra["customer_qbo_id"] = done.customer_qbo_id
            for op in plan.ops:
                if isinstance(op, CreateLedgerPayment):
                    extra[PAID_INVOICES] = sorted({a.invoice_id for a in op.payment.applications})

            if done.unapplied is not None:
                # the credit still meant for an invoice, applied once it owes again (payments.py)
                extra.pop(UNAPPLIED_CREDIT, None)
                if done.unapplied:
                    extra[UNAPPLIED_CREDIT] = {k: str(v) for k, v in done.unapplied.items()}
            self.store.save_link(
                Link(
                    self.connection_id,
                    PAYMENT,
                    plan.hubspot_id,
                    done.qbo_id,
                    qbo_version=done.qbo_version or (link.qbo_version if link else None),
                    extra=extra,
                    qbo_kind=done.qbo_kind or (link.qbo_kind if link else ""),
                )
            )

    def audit(self, plan: Plan, object_type: str, record: str) -> None:
        for op in plan.ops:
            if isinstance(op, Audit):
                c = op.conflict
                loser = c.winner.other
                self.store.audit(
                    self.connection_id,
                    object_type,
                    record,
                    c.field,
                    c.overwritten,
                    c.hubspot if c.winner is Side.HUBSPOT else c.quickbooks,
                    f"{c.winner.value} ({c.reason}; {loser.value} value overwritten)",
                )
