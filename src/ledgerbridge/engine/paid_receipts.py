"""The paid-invoice workflow recorded as one QBO sales receipt (setting
`sales_receipts.paid_invoice = "sales_receipt"`; a mixin of the Stepper, engine/steps.py).

A HubSpot workflow that creates an invoice already paid (the invoice, then its payment, then
their webhooks, in any order) must land in QBO exactly once. With this setting:

- a HubSpot invoice first handled while it is paid in full becomes one SalesReceipt for its
  total (one line on the sales-receipt item, its customer, its date), linked with
  `Link.qbo_kind = SALES_RECEIPT`, behind a write intent and a PrivateNote marker, and verified
  by reading the receipt back; no QBO Invoice and no QBO Payment are made for it;
- an open invoice not yet linked waits until it has been unchanged for `settle_seconds` (a
  workflow pays it right after creating it), then becomes a receipt if paid, else an invoice;
- a payment on such an invoice waits for the invoice (blocked), then is `synced` as part of
  the receipt, with nothing written (payments.py); a refund on it is refused with a fix.

Later changes to an invoice recorded as a receipt are not copied (a receipt is paid and done).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from ledgerbridge.domain import Invoice, InvoiceStatus, Payment, Side, SyncStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.apply import Applied, Applier
from ledgerbridge.engine.compare import compare_sales_receipt
from ledgerbridge.engine.decisions import CreateLedgerSalesReceipt, Decision, Plan
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import (
    INVOICE,
    SALES_RECEIPT,
    CrmPort,
    FieldDifference,
    LedgerPort,
    Link,
    RecordKey,
    SalesReceiptRequest,
)
from ledgerbridge.engine.state_book import StateBook, StepResult
from ledgerbridge.engine.verify import diverged


def invoice_receipt_key(hubspot_invoice_id: str) -> str:
    return f"hubspot-invoice-receipt:{hubspot_invoice_id}"


def _labels(hs: Invoice) -> dict[str, object]:
    label = f"invoice {hs.number}" if hs.number else f"invoice {hs.id}"
    return {"label": label, "amount": hs.total, "currency": hs.currency}


def _changed_at(hs: Invoice) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(hs.version).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def plan_paid_invoice(
    key: RecordKey,
    hs: Invoice | None,
    link: Link | None,
    settings: SyncSettings,
    now: dt.datetime,
    currency_prefs: tuple[str, bool],
) -> Plan | None:
    """The plan for a HubSpot invoice under the sales-receipt rule, or None: the ordinary
    invoice step decides. Pure."""
    if link is not None and link.qbo_kind == SALES_RECEIPT and link.qbo_id:
        return Plan(
            key,
            Decision(SyncStatus.SYNCED, f"Recorded in QuickBooks as sales receipt {link.qbo_id}"),
            summary=f"recorded as QuickBooks sales receipt {link.qbo_id}",
            origin=Side.HUBSPOT,
            hubspot_id=link.hubspot_id,
            qbo_id=link.qbo_id,
            **(_labels(hs) if hs is not None else {}),  # type: ignore[arg-type]
        )
    receipts = settings.sales_receipts
    if (
        receipts.paid_invoice != "sales_receipt"
        or key.side is not Side.HUBSPOT
        or hs is None
        or (link is not None and link.qbo_id)
        or not settings.invoices.hubspot_to_qbo
        or hs.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
    ):
        return None
    total = quantize(hs.total, hs.currency)
    paid = quantize(hs.amount_paid, hs.currency)
    labels = _labels(hs)
    if total > 0 and paid >= total:
        return _receipt_plan(
            key, hs, total, receipts.item_name, receipts.deposit_account, currency_prefs, labels
        )
    changed = _changed_at(hs)
    if changed is not None and receipts.settle_seconds > 0:
        due = changed + dt.timedelta(seconds=receipts.settle_seconds)
        if now < due:
            message = (
                f"Waits until {due:%H:%M:%S} UTC: recorded as a QuickBooks sales receipt if it "
                "is paid in full by then (a workflow pays it right after creating it), else as "
                "an invoice"
            )
            return Plan(
                key,
                Decision(SyncStatus.PENDING, message, retry_at=due),
                summary=message,
                origin=Side.HUBSPOT,
                hubspot_id=hs.id,
                **labels,  # type: ignore[arg-type]
            )
    return None


def _receipt_plan(
    key: RecordKey,
    hs: Invoice,
    total: Decimal,
    item_name: str,
    deposit_account: str,
    currency_prefs: tuple[str, bool],
    labels: dict[str, object],
) -> Plan:
    hs_id = hs.id or key.source_id
    number = f" {hs.number}" if hs.number else ""
    date = hs.issue_date or dt.date.today()
    request = SalesReceiptRequest(
        customer_id="",
        item_id="",
        amount=total,
        currency=hs.currency,
        date=date,
        method=None,
        reference=hs.number,
        deposit_account=deposit_account,
        memo=f"HubSpot invoice{number} (id {hs_id}), paid",
    )
    expected = Payment(amount=total, currency=hs.currency, date=date, reference=hs.number, id=hs_id)
    if hs.customer is None:
        return Plan(
            key,
            Decision(
                SyncStatus.FAILED,
                f"HubSpot invoice {hs_id} has no contact, so QuickBooks has no customer for "
                "its sales receipt",
                hint="Associate a contact with the invoice in HubSpot, then retry",
                category="validation",
                code="receipt_no_customer",
            ),
            origin=Side.HUBSPOT,
            hubspot_id=hs_id,
            **labels,  # type: ignore[arg-type]
        )
    home, multi = currency_prefs
    op = CreateLedgerSalesReceipt(
        request,
        expected,
        hs.customer,
        hs.currency if multi else None,
        home if multi else None,
        item_name,
        f"invoice:{hs_id}",
        invoice_receipt_key(hs_id),
    )
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        (op,),
        action="create",
        summary="record the paid invoice as one QuickBooks sales receipt",
        origin=Side.HUBSPOT,
        hubspot_id=hs_id,
        hubspot_version=hs.version,
        **labels,  # type: ignore[arg-type]
    )


class PaidInvoiceReceipts(StateBook):
    """Mixin of the Stepper; the attributes are the Stepper's."""

    crm: CrmPort
    ledger: LedgerPort
    applier: Applier

    async def receipt_invoice(self, key: RecordKey, plan: Plan, link: Link | None) -> StepResult:
        """Carry out a plan_paid_invoice plan: create and verify the receipt, link the invoice
        to it (kind SALES_RECEIPT), tell HubSpot, wake the payments waiting for it."""
        conn = self.connection_id
        applied: Applied | None = None
        if plan.writes:
            applied = await self.applier.apply(plan, link)
            plan = await self._verify_receipt(plan, applied)
            if applied.qbo_id and plan.hubspot_id:
                self.store.save_link(
                    Link(
                        conn,
                        INVOICE,
                        plan.hubspot_id,
                        applied.qbo_id,
                        hubspot_version=plan.hubspot_version,
                        qbo_version=applied.qbo_version,
                        extra={
                            "origin": Side.HUBSPOT.value,
                            "customer_qbo_id": applied.customer_qbo_id,
                        },
                        qbo_kind=SALES_RECEIPT,
                    )
                )
                plan = replace(
                    plan,
                    decision=replace_decision(plan.decision, applied.qbo_id),
                    qbo_id=applied.qbo_id,
                )
        previous = self.store.get_state(key)
        # Waiting to settle writes nothing to HubSpot: a write would change the invoice's
        # modification date, which the settle time counts from, and put the wait off forever.
        if (
            plan.hubspot_id
            and plan.decision.status not in (None, SyncStatus.PENDING)
            and (
                previous is None
                or previous.status is not plan.decision.status
                or previous.message != plan.decision.message
            )
        ):
            # The QBO invoice id property stays empty: the receipt's id is not an invoice's.
            await self.crm.set_sync_state(
                plan.hubspot_id, plan.decision.status, plan.decision.message
            )
        self.record_state(key, plan, applied, previous)
        if plan.decision.status is SyncStatus.SYNCED and plan.hubspot_id:
            for waiting in self.store.blocked_on(
                RecordKey(conn, INVOICE, Side.HUBSPOT, plan.hubspot_id)
            ):
                self.store.mark_dirty(waiting, "its invoice was recorded as a sales receipt")
        return StepResult(key, plan, applied)

    async def _verify_receipt(self, plan: Plan, applied: Applied) -> Plan:
        [op] = [o for o in plan.ops if isinstance(o, CreateLedgerSalesReceipt)]
        receipt = await self.ledger.get_sales_receipt(applied.qbo_id or "")
        if receipt is None:
            missing = FieldDifference("sales receipt", format(op.receipt.amount, "f"), None)
            return diverged(plan, [missing])
        expected = (
            await self.ledger.deposit_account_id(op.receipt.deposit_account)
            if op.receipt.deposit_account.strip()
            else None
        )
        differences = compare_sales_receipt(
            op.payment,
            receipt.payment,
            customer_id=applied.customer_qbo_id,
            deposit_account_id=receipt.deposit_account_id,
            expected_deposit_account_id=expected,
        )
        return diverged(plan, differences) if differences else plan


def replace_decision(decision: Decision, receipt_id: str) -> Decision:
    if decision.status is not SyncStatus.SYNCED:
        return decision
    return Decision(SyncStatus.SYNCED, f"Recorded in QuickBooks as sales receipt {receipt_id}")
