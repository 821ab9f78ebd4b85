"""Plan one payment's sync step. Pure.

- A QBO payment applied to synced invoices becomes one HubSpot commerce payment per invoice
  share (processor "quickbooks"), upserted on a unique key so replays never duplicate.
- A HubSpot payment from another processor becomes a QBO Payment applied to the invoice.
- A payment whose invoice has not synced yet is `blocked` on that invoice, and wakes it up.
  When that invoice failed (a refused value, a missing contact...), the payment is blocked
  with a reason naming the invoice and its failure, and neither wakes nor retries it: the
  invoice's next state change re-queues the payment (steps.py, commit_finish).
- HubSpot owns the refund and delete state of the payments copied from QBO (see ownership.py):
  a share deleted in HubSpot is not re-created, a refund recorded there is not reverted.
- A refund recorded in HubSpot on a HubSpot payment that QBO holds becomes a RefundReceipt for
  what is new (partial refunds add up, each increment once); a refund larger than the payment is
  refused. A HubSpot payment deleted (archived) voids, or deletes, the QBO payment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Payment, PaymentApplication, Side, SyncStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.decisions import (
    ApplyLedgerCredit,
    CreateLedgerFeeExpense,
    CreateLedgerPayment,
    CreateLedgerRefund,
    Decision,
    Op,
    Plan,
    RemoveLedgerPayment,
    UpsertCrmPayment,
    blocked,
    failed,
    skipped,
)
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.money_splits import split_pro_rata
from ledgerbridge.engine.ports import (
    INVOICE,
    REFUND,
    SALES_RECEIPT,
    FeeExpense,
    LedgerRefund,
    Link,
    RecordKey,
)
from ledgerbridge.engine.receipt_plans import (
    invoice_receipt,
    plan_in_invoice_receipt,
    plan_sales_receipt,
)
from ledgerbridge.errors import Invalid

# HubSpot payments still in flight: recorded in QBO once they settle.
_UNSETTLED = {"processing", "failed", "pending", "deleted"}


@dataclass(frozen=True)
class PaymentInput:
    """Everything the payment planner needs about one payment, read beforehand."""

    key: RecordKey
    payment: Payment | None
    link: Link | None  # the payment's own link
    invoice_links: Mapping[str, Link | None]  # application invoice id (payment's side) -> link
    excluded_invoices: frozenset[str]  # application invoice ids whose invoice is excluded
    settings: SyncSettings
    # QBO invoice id -> "deleted" | "refunded" | "partially_refunded": what HubSpot did to the
    # payment copied for that share (ownership.hubspot_states).
    hubspot_states: Mapping[str, str] = field(default_factory=dict)
    # A QBO payment that is gone (deleted in QBO): QBO invoice id -> the HubSpot copy of that
    # share as HubSpot holds it (ownership.hubspot_copies); copies HubSpot archived are absent.
    hubspot_copies: Mapping[str, Payment] = field(default_factory=dict)
    # Application invoice id -> the failure message of an invoice whose state is `failed`.
    failed_invoices: Mapping[str, str] = field(default_factory=dict)
    # For a HubSpot payment tied to no invoice (a sales receipt): the time now, and the QBO
    # company's (home currency, multicurrency on).
    now: dt.datetime | None = None
    currency_prefs: tuple[str, bool] | None = None


def share_key(qbo_payment_id: str, qbo_invoice_id: str) -> str:
    return f"qbo-payment:{qbo_payment_id}:{qbo_invoice_id}"


def ledger_payment_key(hubspot_payment_id: str) -> str:
    return f"hubspot-payment:{hubspot_payment_id}"


def fee_expense_key(hubspot_payment_id: str) -> str:
    return f"hubspot-fee:{hubspot_payment_id}"


FEE_EXPENSE_ID = "fee_expense_id"  # in a HubSpot payment's link extra: the QBO Purchase id
# In a HubSpot payment's link extra: the refunded total QBO holds as RefundReceipts, their
# ids, and how the QBO payment was removed after the HubSpot payment was deleted.
REFUNDED_IN_QBO = "refunded_in_qbo"
REFUND_IDS = "refund_ids"
REMOVED_IN_QBO = "removed_in_qbo"
# In a HubSpot payment's link extra: the QBO invoices its QBO payment was recorded on, so that an
# invoice step can tell a payment deleted in HubSpot whose deletion webhook never came.
PAID_INVOICES = "qbo_invoices"


def refund_key(hubspot_payment_id: str, refunded_total: Decimal) -> str:
    """The marker of the RefundReceipt that brings QBO's refunds of a payment to this total."""
    return f"hubspot-refund:{hubspot_payment_id}:{format(refunded_total, 'f')}"


def booked_refunds(link: Link | None) -> Decimal:
    return Decimal(str((link.extra.get(REFUNDED_IN_QBO) if link else None) or "0"))


def _refund_op(inp: PaymentInput, payment: Payment, pid: str) -> CreateLedgerRefund | Plan | None:
    """What is newly refunded in HubSpot, to book in QBO; a failed plan when the refunds exceed
    the payment."""
    if not inp.settings.refunds.to_quickbooks:
        return None
    currency = payment.currency
    refunded = quantize(payment.refunded, currency)
    paid = quantize(payment.amount, currency)
    booked = booked_refunds(inp.link)
    if refunded <= booked:
        return None
    if refunded > paid:
        left = paid - booked
        return failed(
            inp.key,
            Invalid(
                f"The refunds recorded in HubSpot ({refunded} {currency}) are more than the "
                f"payment ({paid} {currency}); {left} {currency} is left to refund",
                hint=f"Correct the refunded amount of HubSpot payment {pid} to at most {paid} "
                f"{currency}, then retry",
                code="refund_too_large",
            ),
            {"origin": Side.HUBSPOT, "hubspot_id": pid, **_labels(payment)},
        )
    reference = f" ({payment.reference})" if payment.reference else ""
    reason = f": {payment.refund_reason}" if payment.refund_reason else ""
    linked = inp.link is not None and bool(inp.link.qbo_id)
    refund = LedgerRefund(
        payment_id=inp.link.qbo_id if inp.link and inp.link.qbo_id else "",
        amount=refunded - booked,
        currency=currency,
        date=_modified_on(payment) or payment.date,
        memo=f"Refund of HubSpot payment {pid}{reference}{reason}",
        booked_as=inp.settings.refunds.booked_as,
        # a payment recorded as a sales receipt (now, or before) is refunded from the receipt
        payment_kind=(
            (inp.link.qbo_kind if inp.link and linked else "")
            or ("" if linked or payment.applications else SALES_RECEIPT)
        ),
    )
    return CreateLedgerRefund(refund, refunded, pid, refund_key(pid, refunded))


COPY = "copy"  # Plan.extra: the plan is about a HubSpot copy of a QBO payment


def _plan_copy_refund(inp: PaymentInput, payment: Payment) -> Plan:
    """A refund recorded in HubSpot on a copy of a QBO payment: a RefundReceipt against that QBO
    payment for what is new (the refund bookkeeping lives on the copy's own refund link)."""
    key = inp.key
    pid = payment.id or key.source_id
    if not payment.copy_of or not inp.settings.payments.hubspot_to_qbo:
        return skipped(key, "recorded from a QuickBooks payment")
    link = inp.link or Link(key.connection_id, REFUND, pid, None)
    refund_op = _refund_op(replace(inp, link=link), payment, pid)
    if isinstance(refund_op, Plan):
        return replace(refund_op, extra={COPY: True})
    if refund_op is None:
        return skipped(key, "recorded from a QuickBooks payment")
    op = replace(refund_op, refund=replace(refund_op.refund, payment_id=payment.copy_of))
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        (op,),
        action="create",
        summary=f"book a refund of {op.refund.amount} on QuickBooks payment {payment.copy_of}",
        origin=Side.HUBSPOT,
        hubspot_id=pid,
        qbo_id=payment.copy_of,
        extra={COPY: True},
        **_labels(payment),
    )


def _modified_on(payment: Payment) -> dt.date | None:
    """When HubSpot last changed the payment (the refund's date: HubSpot keeps no other)."""
    try:
        return dt.datetime.fromisoformat(str(payment.version).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _plan_deleted_in_crm(inp: PaymentInput) -> Plan:
    """A HubSpot payment deleted (archived) that QBO holds: void (or delete) the QBO payment."""
    key, link = inp.key, inp.link
    how = inp.settings.refunds.deleted_payment
    if (
        link is None
        or not link.qbo_id
        or link.extra.get("origin") != Side.HUBSPOT.value
        or link.extra.get(REMOVED_IN_QBO)
        or how == "none"
        or not inp.settings.payments.hubspot_to_qbo
    ):
        return skipped(key, "the HubSpot payment no longer exists")
    word = "void" if how == "void" else "delete"
    what = "sales receipt" if link.qbo_kind == SALES_RECEIPT else "payment"
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        (RemoveLedgerPayment(link.qbo_id, how, link.qbo_kind),),
        action="update",
        summary=f"deleted in HubSpot: {word} the QuickBooks {what}",
        origin=Side.HUBSPOT,
        hubspot_id=key.source_id,
        qbo_id=link.qbo_id,
        label=f"payment {key.source_id}",
    )


# In a HubSpot payment's link extra: {QBO invoice id: amount} meant for that invoice that QBO
# keeps as the customer's credit, because the invoice owed less when the payment was recorded
# (paid in QBO meanwhile). Applied to the invoice once it owes again (ApplyLedgerCredit).
UNAPPLIED_CREDIT = "unapplied_credit"
# In a QBO payment step's plan extra: the HubSpot invoices whose balance it raised (a payment
# deleted or voided in QBO); HubSpot payments with credit left on them are woken.
REOPENED = "reopened_hubspot_invoices"


def _fee_op(inp: PaymentInput, payment: Payment, pid: str) -> CreateLedgerFeeExpense | None:
    """The fee expense still to book for a HubSpot payment, if fees are on and it has any."""
    fees = inp.settings.fees
    if not fees.enabled or inp.settings.payments.hubspot_to_qbo is False:
        return None
    if payment.processing_fee + payment.platform_fee <= 0:
        return None
    if inp.link is not None and inp.link.extra.get(FEE_EXPENSE_ID):
        return None
    processor = (payment.processor or "").strip()
    vendor = fees.vendor_name.strip() or _PROCESSOR_NAMES.get(processor.lower(), "")
    vendor = vendor or (processor.replace("_", " ").title() if processor else "Payment processor")
    reference = f" ({payment.reference})" if payment.reference else ""
    fee = FeeExpense(
        date=payment.date,
        currency=payment.currency,
        processing_fee=quantize(payment.processing_fee, payment.currency),
        platform_fee=quantize(payment.platform_fee, payment.currency),
        vendor_name=vendor,
        expense_account=fees.expense_account,
        paid_from_account=fees.paid_from_account,
        memo=f"Fees on HubSpot payment {pid}{reference}",
    )
    return CreateLedgerFeeExpense(fee, pid, fee_expense_key(pid))


_PROCESSOR_NAMES = {
    "stripe": "Stripe",
    "hubspot": "HubSpot Payments",
    "hs_payments": "HubSpot Payments",
    "paypal": "PayPal",
}


def payment_hash(payment: Payment) -> str:
    data = {
        "amount": str(quantize(payment.amount, payment.currency)),
        "date": payment.date.isoformat(),
        "apps": sorted(
            (a.invoice_id, str(quantize(a.amount, payment.currency))) for a in payment.applications
        ),
        "method": payment.method,
        "reference": payment.reference,
        "status": payment.status,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def plan_payment(inp: PaymentInput) -> Plan:
    if inp.key.side is Side.QUICKBOOKS:
        return _plan_from_ledger(inp)
    return _plan_from_crm(inp)


# In a HubSpot payment's blocked plan extra: the QBO ids of the payment's other invoices, those
# already in QBO, while it waits for one that failed to sync (HubSpot counts the payment on
# them; QBO does not yet): the payment step compares their amount paid (payment_steps.py).
WAITING_ALSO_ON = "waiting_also_on_qbo_invoices"


def _blocked(
    inp: PaymentInput,
    invoice_id: str,
    side: Side,
    context: Mapping[str, Any],
    others: Sequence[str] = (),
) -> Plan:
    """Blocked on an invoice not synced yet. A pending invoice is woken (and the payment looks
    again after a while); a failed one is not: it fails the same until someone fixes it, and
    its next state change re-queues this payment. `others`: the QBO ids of the payment's other
    invoices already in QBO (kept in the plan when the wait is on a failed invoice)."""
    key = inp.key
    on = RecordKey(key.connection_id, INVOICE, side, invoice_id)
    name = "HubSpot" if side is Side.HUBSPOT else "QuickBooks"
    failure = inp.failed_invoices.get(invoice_id)
    if failure is None:
        return blocked(key, on, f"Waits for {name} invoice {invoice_id} to sync", **context)
    message = f"Waits for {name} invoice {invoice_id}, which failed to sync: {failure}"
    return Plan(
        key,
        Decision(
            SyncStatus.BLOCKED,
            message,
            hint=f"Fix {name} invoice {invoice_id}; this payment follows once it syncs",
            blocked_on=on,
        ),
        summary=message,
        extra={WAITING_ALSO_ON: list(others)} if others else {},
        **context,
    )


def _labels(payment: Payment) -> dict[str, Any]:
    label = f"payment {payment.reference}" if payment.reference else f"payment {payment.id}"
    return {"label": label, "amount": payment.amount, "currency": payment.currency}


def _plan_from_ledger(inp: PaymentInput) -> Plan:
    payment, link, key = inp.payment, inp.link, inp.key
    gone = payment is None or payment.status in ("deleted", "voided")
    if gone and link is not None and link.extra.get("shares"):
        return _plan_deleted_in_ledger(inp, link, "voided" if payment else "deleted")
    if payment is None:
        return skipped(key, "the QuickBooks payment no longer exists")
    if gone and link is None:
        return skipped(key, "voided in QuickBooks before it synced")
    if (
        link is not None and link.extra.get("origin") == Side.HUBSPOT.value
    ) or payment.origin is Side.HUBSPOT:
        return skipped(key, "recorded from a HubSpot payment")
    if not inp.settings.payments.qbo_to_hubspot:
        return skipped(key, "QuickBooks to HubSpot payment sync is off")
    pid = payment.id or key.source_id
    digest = payment_hash(payment)
    labels = _labels(payment)
    if link is not None and link.qbo_hash == digest:
        return Plan(
            key,
            Decision(SyncStatus.SYNCED),
            summary="in sync",
            origin=Side.QUICKBOOKS,
            qbo_id=pid,
            qbo_version=payment.version,
            extra={"qbo_hash": digest},
            **labels,
        )
    ops: list[Op] = []
    shares: dict[str, str] = {}
    owned: list[tuple[str, str, str]] = []  # (field, QBO's value, HubSpot's value kept)
    for app in payment.applications:
        if app.invoice_id in inp.excluded_invoices:
            continue
        inv_link = inp.invoice_links.get(app.invoice_id)
        if inv_link is None or not inv_link.hubspot_id:
            context = {"origin": Side.QUICKBOOKS, "qbo_id": pid, **labels}
            return _blocked(inp, app.invoice_id, Side.QUICKBOOKS, context)
        state = inp.hubspot_states.get(app.invoice_id)
        shares[app.invoice_id] = inv_link.hubspot_id
        if state == "deleted":
            owned.append(
                (
                    f"archived (hubspot invoice {inv_link.hubspot_id})",
                    f"recorded from QuickBooks payment {pid}",
                    "deleted in HubSpot: not re-created",
                )
            )
            continue
        keep = state in ("refunded", "partially_refunded") and payment.status not in (
            "deleted",
            "refunded",
        )
        if keep:
            owned.append(
                (
                    f"hs_latest_status (hubspot invoice {inv_link.hubspot_id})",
                    payment.status,
                    f"{state} in HubSpot: kept",
                )
            )
        ops.append(
            UpsertCrmPayment(
                payment,
                inv_link.hubspot_id,
                quantize(app.amount, payment.currency),
                share_key(pid, app.invoice_id),
                keep_refund=keep,
            )
        )
    if not ops and owned:
        # Every share was deleted in HubSpot: remember this version, write nothing.
        return Plan(
            key,
            Decision(SyncStatus.SYNCED),
            summary="deleted in HubSpot: not re-created",
            origin=Side.QUICKBOOKS,
            qbo_id=pid,
            qbo_version=payment.version,
            extra={"qbo_hash": digest, "hubspot_owned": tuple(owned)},
            **labels,
        )
    if not ops:
        message = (
            "The payment's invoices are excluded from sync"
            if payment.applications
            else "The payment is not applied to any invoice"
        )
        return Plan(
            key,
            Decision(SyncStatus.EXCLUDED, message),
            origin=Side.QUICKBOOKS,
            qbo_id=pid,
            **labels,
        )
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        tuple(ops),
        action="create" if link is None else "update",
        summary=f"record {len(ops)} HubSpot payment(s)",
        origin=Side.QUICKBOOKS,
        qbo_id=pid,
        qbo_version=payment.version,
        extra={
            "shares": shares,
            "qbo_hash": digest,
            "hubspot_owned": tuple(owned),
            # voided in QBO: its invoices owe again
            REOPENED: tuple(dict.fromkeys(shares.values())) if payment.status == "deleted" else (),
        },
        **labels,
    )


DELETED_HASH = "deleted"  # the payment link's qbo_hash once its QBO payment is gone


def _plan_deleted_in_ledger(inp: PaymentInput, link: Link, how: str = "deleted") -> Plan:
    """A copied QBO payment voided or deleted in QBO: each HubSpot copy becomes refunded in
    full, so HubSpot stops counting it and both invoices owe the same again
    (docs/sync-matrix.md). The copy keeps the amount that was paid (QBO zeroes a voided
    payment's amounts) and says what QuickBooks did. A copy HubSpot archived stays archived; one
    already refunded in full needs nothing."""
    key = inp.key
    pid = link.qbo_id or key.source_id
    shares: Mapping[str, str] = link.extra.get("shares") or {}
    ops: list[Op] = []
    amount = Decimal(0)
    currency: str | None = None
    for invoice_id, hubspot_invoice_id in shares.items():
        copy = inp.hubspot_copies.get(invoice_id)
        if copy is None:
            continue  # archived in HubSpot (HubSpot owns it): nothing counts it any more
        amount += copy.amount
        currency = copy.currency
        if copy.status == "refunded":
            continue
        gone = replace(copy, status=how, applications=())
        ops.append(
            UpsertCrmPayment(
                gone,
                hubspot_invoice_id,
                quantize(copy.amount, copy.currency),
                share_key(pid, invoice_id),
            )
        )
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        tuple(ops),
        action="update" if ops else "none",
        summary=(
            f"{how} in QuickBooks: refund {len(ops)} HubSpot payment(s) in full"
            if ops
            else f"{how} in QuickBooks: HubSpot no longer counts it"
        ),
        origin=Side.QUICKBOOKS,
        qbo_id=pid,
        extra={
            "shares": dict(shares),
            "qbo_hash": DELETED_HASH,
            REOPENED: tuple(dict.fromkeys(shares.values())),
        },
        label=f"payment {pid}",
        amount=amount,
        currency=currency,
    )


def _plan_from_crm(inp: PaymentInput) -> Plan:
    payment, link, key = inp.payment, inp.link, inp.key
    if payment is None:
        return _plan_deleted_in_crm(inp)
    if (payment.processor or "").lower() == "quickbooks" or payment.origin is Side.QUICKBOOKS:
        return _plan_copy_refund(inp, payment)
    if not inp.settings.payments.hubspot_to_qbo:
        return skipped(key, "HubSpot to QuickBooks payment sync is off")
    if (payment.status or "").lower() in _UNSETTLED:
        return skipped(key, f"payment is {payment.status}: recorded once it succeeds")
    pid = payment.id or key.source_id
    labels = _labels(payment)
    in_receipt = invoice_receipt(inp, payment)
    if in_receipt is not None and (link is None or not link.qbo_id):
        return plan_in_invoice_receipt(inp, payment, pid, in_receipt)
    fee_op = _fee_op(inp, payment, pid)
    refund_op = _refund_op(inp, payment, pid)
    if isinstance(refund_op, Plan):
        return refund_op
    if link is not None and link.qbo_id and link.qbo_kind == SALES_RECEIPT and payment.applications:
        # Recorded as a sales receipt, then tied to an invoice: recording it again as a payment
        # would count the money twice in QBO, so a person decides.
        return failed(
            key,
            Invalid(
                f"HubSpot payment {pid} was recorded in QuickBooks as sales receipt "
                f"{link.qbo_id} while it was tied to no invoice, and is now tied to invoice(s) "
                f"{', '.join(a.invoice_id for a in payment.applications)}",
                hint=f"Void sales receipt {link.qbo_id} in QuickBooks and receive the payment on "
                "the invoice there, or remove the payment's invoice association in HubSpot",
                code="receipt_then_invoice",
            ),
            {"origin": Side.HUBSPOT, "hubspot_id": pid, "qbo_id": link.qbo_id, **labels},
        )
    if link is not None and link.qbo_id:
        # A payment refunded in HubSpot since then has no credit left to give.
        refunded = (payment.status or "").lower() in ("refunded", "partially_refunded")
        credit = None if refunded else _credit_op(link, pid)
        later: tuple[Op, ...] = tuple(op for op in (credit, fee_op, refund_op) if op is not None)
        what = [
            *(["apply the credit it left to its invoice"] if credit else []),
            *(["record the processing fees"] if fee_op else []),
            *([f"book a refund of {refund_op.refund.amount}"] if refund_op else []),
        ]
        return Plan(
            key,
            Decision(SyncStatus.SYNCED),
            later,
            action="update" if credit else "create" if later else "none",
            summary=" and ".join(what) if what else "in sync",
            origin=Side.HUBSPOT,
            hubspot_id=pid,
            qbo_id=link.qbo_id,
            **labels,
        )
    if not payment.applications and inp.settings.sales_receipts.enabled:
        return plan_sales_receipt(inp, payment, pid, (fee_op, refund_op))
    apps = [a for a in payment.applications if a.invoice_id not in inp.excluded_invoices]
    if not apps:
        message = (
            "The payment's invoices are excluded from sync"
            if payment.applications
            else "The payment is not associated with an invoice (sales receipts are off)"
        )
        return Plan(
            key,
            Decision(SyncStatus.EXCLUDED, message),
            origin=Side.HUBSPOT,
            hubspot_id=pid,
            **labels,
        )
    qbo_apps: list[PaymentApplication] = []
    customer_id: str | None = None
    amounts = _application_amounts(payment, apps)
    missing = [
        a.invoice_id
        for a in apps
        if (inv := inp.invoice_links.get(a.invoice_id)) is None or not inv.qbo_id
    ]
    if missing:
        # An invoice still on its way first: it is woken, and the payment looks again. Only
        # then one that failed to sync, noting the payment's invoices already in QBO.
        pending = [i for i in missing if i not in inp.failed_invoices]
        context = {"origin": Side.HUBSPOT, "hubspot_id": pid, **labels}
        others = [
            inv.qbo_id
            for a in apps
            if (inv := inp.invoice_links.get(a.invoice_id)) is not None and inv.qbo_id
        ]
        if pending:
            return _blocked(inp, pending[0], Side.HUBSPOT, context)
        return _blocked(inp, missing[0], Side.HUBSPOT, context, others)
    for app, amount in zip(apps, amounts, strict=True):
        inv_link = inp.invoice_links.get(app.invoice_id)
        if inv_link is None or not inv_link.qbo_id:
            continue  # not reached: every invoice is in QBO (above)
        qbo_apps.append(PaymentApplication(inv_link.qbo_id, amount))
        customer_id = customer_id or inv_link.extra.get("customer_qbo_id")
    outgoing = replace(
        payment,
        applications=tuple(qbo_apps),
        id=None,
        version=None,
        amount=sum((a.amount for a in qbo_apps), Decimal(0)),
    )
    op = CreateLedgerPayment(outgoing, customer_id, pid, ledger_payment_key(pid))
    return Plan(
        key,
        Decision(SyncStatus.SYNCED),
        tuple(x for x in (op, fee_op, refund_op) if x is not None),
        action="create",
        summary="record the QuickBooks payment",
        origin=Side.HUBSPOT,
        hubspot_id=pid,
        **labels,
    )


def _credit_op(link: Link, pid: str) -> ApplyLedgerCredit | None:
    """The credit a recorded HubSpot payment left unapplied in QBO, to apply where it owes."""
    left = {k: Decimal(v) for k, v in (link.extra.get(UNAPPLIED_CREDIT) or {}).items()}
    left = {k: v for k, v in left.items() if v > 0}
    if not left or not link.qbo_id:
        return None
    return ApplyLedgerCredit(link.qbo_id, left, pid)


def _application_amounts(payment: Payment, apps: list[PaymentApplication]) -> list[Decimal]:
    """Each invoice's share: as given when the shares add up, else pro rata to the cent."""
    currency = payment.currency
    given = [quantize(a.amount, currency) for a in apps]
    total = quantize(payment.amount, currency)
    if all(a > 0 for a in given) and sum(given, Decimal(0)) <= total:
        return given
    if len(apps) == 1:
        return [total]
    return split_pro_rata(total, [a.amount for a in apps], currency)
