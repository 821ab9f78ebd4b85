"""Refund receipts made in QuickBooks by hand reach the HubSpot payment they refund.

A RefundReceipt names a customer, an amount, the account the money was paid from and, often,
a reference; it names no invoice and (in QBO's own forms) no payment. The engine ties one to a
payment only when a single payment can be meant, and reports the rest:

1. A receipt ledgerbridge created itself (any ledgerbridge marker in its PrivateNote, e.g.
   `hubspot-refund:`) is HubSpot's refund, already counted there: nothing to do.
2. The candidates are the customer's QBO payments that HubSpot knows: a HubSpot payment the
   sync recorded in QBO, or each invoice share of a QBO payment copied to HubSpot.
3. A receipt that names a payment (`LinkedTxn`) keeps that payment's candidates; one with a
   reference (`PaymentRefNum`) keeps the payments with that reference (one left: that one,
   whatever its amount, so that too large a refund is refused, not re-matched); then those not
   voided, in the receipt's currency, dated on or before the receipt, with at least the
   receipt's amount left unrefunded in HubSpot. When several are left, the ones deposited to
   the account the refund was paid from are preferred (a payment left in Undeposited Funds
   may be refunded from any bank account, so the account alone never rules one out).
   A QBO payment of the customer whose copies HubSpot does not hold yet (its own step has
   not finished) and that the receipt may refund comes first: the receipt is `blocked` on it
   and decided once it is there (the payment's step re-queues it), whichever step ran first.
4. Exactly one left: the HubSpot payment's refunded total goes up by the receipt's amount, its
   status becomes partially refunded or refunded, and its internal comment names the receipt.
   None or several: the receipt is `failed` (`refund_unmatched` / `refund_ambiguous`) with what
   to do; nothing is guessed.

Idempotent: the receipt's own link keeps the payment it was tied to, the amount applied and the
HubSpot total aimed at before HubSpot is written, so a replay writes the same total. A receipt
changed later (amount edited, voided, deleted) applies only the difference. The receipt is also
added to the HubSpot payment's refund bookkeeping (`refunded_in_qbo`, `refund_ids`), so the
HubSpot → QBO refund rule sees QBO already holding it and books nothing again, and "synced" for
the payment (HubSpot's refunded total = QBO's receipts) holds. A refund larger than what is
left on the payment is refused on the receipt (`refund_too_large`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Payment, Side, SyncStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.decisions import Decision, Plan, blocked, failed, skipped
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.payments import (
    REFUND_IDS,
    REFUNDED_IN_QBO,
    booked_refunds,
    share_key,
)
from ledgerbridge.engine.ports import (
    LEDGER_REFUND,
    PAYMENT,
    REFUND,
    CrmPort,
    FieldDifference,
    LedgerPaymentFacts,
    LedgerPort,
    Link,
    RecordKey,
    RefundReceiptRead,
    StorePort,
)
from ledgerbridge.engine.state_book import StepResult
from ledgerbridge.engine.verify import DIFFERENCES
from ledgerbridge.errors import Invalid

# In the receipt's link extra.
APPLIED = "applied"  # the receipt amount already counted in HubSpot
TARGET = "target"  # the HubSpot refunded total a write in progress aims at
TARGET_AMOUNT = "target_amount"  # the receipt amount that total counts
WRITTEN = "written"
KIND = "kind"  # "payment" (a HubSpot payment recorded in QBO) | "copy" (a share of a QBO one)
QBO_PAYMENT = "qbo_payment_id"


@dataclass(frozen=True)
class Candidate:
    """A HubSpot payment a receipt may refund."""

    hubspot_id: str
    kind: str  # "payment" | "copy"
    qbo: LedgerPaymentFacts
    hubspot: Payment


class LedgerRefundStep:
    """One QBO refund receipt's step (LEDGER_REFUND keys, QuickBooks side)."""

    def __init__(
        self,
        connection_id: int,
        crm: CrmPort,
        ledger: LedgerPort,
        store: StorePort,
        settings: SyncSettings,
        record_state: Callable[..., Any],
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.settings = settings
        self.record_state = record_state

    async def run(self, key: RecordKey) -> StepResult | None:
        receipt = await self.ledger.get_refund_receipt(key.source_id)
        if receipt is not None and receipt.marker:
            return None  # booked by ledgerbridge (a refund HubSpot already holds)
        link = self.store.get_link(
            self.connection_id, LEDGER_REFUND, Side.QUICKBOOKS, key.source_id
        )
        if not self.settings.payments.qbo_to_hubspot:
            return self._finish(key, skipped(key, "payments from QuickBooks are not synced"))
        if link is None or not link.hubspot_id:
            if receipt is None or receipt.voided or receipt.amount <= 0:
                return None  # never tied, and nothing to give back any more
            chosen = await self._match(key, receipt)
            if isinstance(chosen, Plan):
                return self._finish(key, chosen)
            link = Link(
                self.connection_id,
                LEDGER_REFUND,
                chosen.hubspot_id,
                receipt.id,
                extra={KIND: chosen.kind, QBO_PAYMENT: chosen.qbo.id, APPLIED: "0"},
            )
        return await self._apply(key, receipt, link)

    # ---- tying a receipt to a payment --------------------------------------------------------
    async def _match(self, key: RecordKey, receipt: RefundReceiptRead) -> Candidate | Plan:
        what = _describe(receipt)
        context = {"origin": Side.QUICKBOOKS, "qbo_id": receipt.id, "label": f"Refund {receipt.id}"}
        candidates, waiting = await self._candidates(receipt)
        if receipt.payment_ids:
            candidates = [c for c in candidates if c.qbo.id in receipt.payment_ids]
            waiting = [w for w in waiting if w.id in receipt.payment_ids]
        if receipt.reference:
            candidates = [c for c in candidates if (c.qbo.reference or "") == receipt.reference]
            waiting = [w for w in waiting if (w.reference or "") == receipt.reference]
        if (receipt.payment_ids or receipt.reference) and len(candidates) == 1:
            return candidates[0]  # named by the receipt: too large a refund is refused later
        waiting = [w for w in waiting if _may_fit(w, receipt)]
        if waiting:
            # A payment this receipt may refund is on its way to HubSpot: decide once it is
            # there (whichever step the change feed runs first, the outcome is the same).
            on = RecordKey(self.connection_id, PAYMENT, Side.QUICKBOOKS, waiting[0].id)
            return blocked(
                key,
                on,
                f"{what} waits for QuickBooks payment {waiting[0].id}, which it may refund, to "
                "reach HubSpot",
                **context,
            )
        fits = [c for c in candidates if _fits(c, receipt)]
        same_account = [
            c
            for c in fits
            if receipt.deposit_account_id and c.qbo.deposit_account_id == receipt.deposit_account_id
        ]
        if len(fits) > 1 and len(same_account) == 1:
            fits = same_account
        if len(fits) == 1:
            return fits[0]
        if not fits:
            return failed(
                key,
                Invalid(
                    f"{what} matches no payment HubSpot knows of this customer",
                    hint="Record the refund on the HubSpot payment instead (the console's Refund), "
                    "or give the receipt the payment's reference number (Ref no.) in QuickBooks "
                    "and retry; nothing was written to HubSpot",
                    code="refund_unmatched",
                ),
                context,
            )
        names = ", ".join(f"{c.hubspot_id} ({c.qbo.reference or c.qbo.date})" for c in fits)
        return failed(
            key,
            Invalid(
                f"{what} could refund several HubSpot payments: {names}",
                hint="Give the receipt the refunded payment's reference number (Ref no.) in "
                "QuickBooks, then retry; or record the refund on the HubSpot payment from the "
                "console. Nothing was written to HubSpot",
                code="refund_ambiguous",
            ),
            context,
        )

    async def _candidates(
        self, receipt: RefundReceiptRead
    ) -> tuple[list[Candidate], list[LedgerPaymentFacts]]:
        """The customer's payments HubSpot knows, dated on or before the receipt and not voided
        (one HubSpot read per HubSpot payment, one batch read for all copies); and the
        customer's QBO payments whose copies HubSpot does not hold yet because their own step
        has not finished (no state yet, pending or blocked), which the receipt may be for."""
        if not receipt.customer_id:
            return [], []
        out: list[Candidate] = []
        shares: dict[str, LedgerPaymentFacts] = {}
        for facts in await self.ledger.customer_payments(receipt.customer_id):
            if facts.gone or facts.date > receipt.date:
                continue
            marker = facts.marker or ""
            if marker.startswith("hubspot-payment:"):
                link = self.store.get_link(self.connection_id, PAYMENT, Side.QUICKBOOKS, facts.id)
                hubspot_id = (link.hubspot_id if link else None) or marker.split(":", 1)[1]
                payment = await self.crm.get_payment(hubspot_id)
                if payment is not None:
                    out.append(Candidate(hubspot_id, PAYMENT, facts, payment))
                continue
            shares.update({share_key(facts.id, invoice): facts for invoice in facts.invoice_ids})
        copies = await self.crm.find_ledger_payments(list(shares)) if shares else {}
        for key, copy in copies.items():
            if copy.id and key in shares:
                out.append(Candidate(copy.id, "copy", shares[key], copy))
        missing = {facts.id: facts for key, facts in shares.items() if key not in copies}
        waiting = [facts for facts in missing.values() if self._in_progress(facts.id)]
        return out, waiting

    def _in_progress(self, qbo_payment_id: str) -> bool:
        key = RecordKey(self.connection_id, PAYMENT, Side.QUICKBOOKS, qbo_payment_id)
        state = self.store.get_state(key)
        return state is None or state.status in (SyncStatus.PENDING, SyncStatus.BLOCKED)

    # ---- writing HubSpot ---------------------------------------------------------------------
    async def _apply(
        self, key: RecordKey, receipt: RefundReceiptRead | None, link: Link
    ) -> StepResult:
        hubspot_id = str(link.hubspot_id)
        amount = Decimal(0) if receipt is None or receipt.voided else receipt.amount
        applied = Decimal(str(link.extra.get(APPLIED) or "0"))
        payment = await self.crm.get_payment(hubspot_id)
        context = {
            "origin": Side.QUICKBOOKS,
            "qbo_id": key.source_id,
            "hubspot_id": hubspot_id,
            "label": f"Refund {key.source_id}",
        }
        if payment is None:
            return self._finish(
                key,
                failed(
                    key,
                    Invalid(
                        f"The HubSpot payment {hubspot_id} this refund receipt was recorded on "
                        "no longer exists",
                        hint="Nothing was changed in QuickBooks; record the refund elsewhere in "
                        "HubSpot if it is needed there",
                        code="refund_payment_gone",
                    ),
                    context,
                ),
            )
        currency = payment.currency
        pending = link.extra.get(TARGET) is not None and not link.extra.get(WRITTEN)
        if pending:
            # A write whose answer was lost: the same total, for the amount it was made for.
            target = Decimal(str(link.extra[TARGET]))
            amount = Decimal(str(link.extra.get(TARGET_AMOUNT) or amount))
        else:
            target = quantize(payment.refunded + amount - applied, currency)
        delta = amount - applied
        if delta != 0 or pending:
            if target > quantize(payment.amount, currency) or target < 0:
                left = quantize(payment.amount - payment.refunded, currency)
                return self._finish(
                    key,
                    failed(
                        key,
                        Invalid(
                            f"{_describe(receipt)} is more than what is left to refund on "
                            f"HubSpot payment {hubspot_id} ({left} {currency})",
                            hint="Correct the refund receipt's amount in QuickBooks (or void "
                            "it), then retry; nothing was written to HubSpot",
                            code="refund_too_large",
                        ),
                        context,
                    ),
                )
            if not pending:
                # Intent first, with the payment's refund bookkeeping, in one transaction: a
                # replay after a lost answer writes the same total again, booked once.
                with self.store.unit_of_work():
                    link = self._save(
                        link,
                        {
                            TARGET: format(target, "f"),
                            TARGET_AMOUNT: format(amount, "f"),
                            WRITTEN: False,
                        },
                    )
                    self._book(link, receipt, delta)
            note = (
                f"Refund receipt {key.source_id} in QuickBooks: {amount} {currency}"
                if amount
                else f"Refund receipt {key.source_id} removed in QuickBooks"
            )
            payment = await self.crm.set_payment_refund(hubspot_id, target, note)
            link = self._save(link, {APPLIED: format(amount, "f"), WRITTEN: True})
        expected = Decimal(str(link.extra.get(TARGET) or payment.refunded))
        differences = (
            []
            if quantize(payment.refunded, currency) == quantize(expected, currency)
            else [FieldDifference("refunded", str(payment.refunded), str(expected))]
        )
        decision = (
            Decision(
                SyncStatus.DIVERGED,
                f"HubSpot payment {hubspot_id} shows {payment.refunded} {currency} refunded, "
                f"not {expected} {currency}",
                "HubSpot's refunded amount was changed meanwhile: correct it, or retry",
                "diverged",
            )
            if differences
            else Decision(SyncStatus.SYNCED)
        )
        plan = Plan(
            key,
            decision,
            action="update" if delta else "none",
            summary=f"refund receipt {key.source_id}: {amount} {currency} on payment {hubspot_id}",
            amount=amount,
            currency=currency,
            extra={DIFFERENCES: tuple(differences)},
            **context,  # type: ignore[arg-type]
        )
        return self._finish(key, plan)

    def _save(self, link: Link, changes: dict[str, Any]) -> Link:
        link = replace(link, extra={**dict(link.extra), **changes})
        self.store.save_link(link)
        return link

    def _book(self, link: Link, receipt: RefundReceiptRead | None, delta: Decimal) -> None:
        """Count the receipt in the HubSpot payment's refund bookkeeping, so the HubSpot → QBO
        refund rule sees QBO already holding this refund."""
        hubspot_id = str(link.hubspot_id)
        kind = PAYMENT if link.extra.get(KIND) == PAYMENT else REFUND
        own = self.store.get_link(self.connection_id, kind, Side.HUBSPOT, hubspot_id)
        if kind == PAYMENT and own is None:
            return
        base = own or Link(
            self.connection_id,
            REFUND,
            hubspot_id,
            None,
            extra={"origin": Side.QUICKBOOKS.value, QBO_PAYMENT: link.extra.get(QBO_PAYMENT)},
        )
        ids = [str(i) for i in (base.extra.get(REFUND_IDS) or [])]
        receipt_id = str(link.qbo_id)
        if receipt_id not in ids:
            ids.append(receipt_id)
        booked = booked_refunds(base) + delta
        self.store.save_link(
            replace(
                base,
                extra={
                    **dict(base.extra),
                    REFUNDED_IN_QBO: format(max(booked, Decimal(0)), "f"),
                    REFUND_IDS: ids,
                },
            )
        )

    def _finish(self, key: RecordKey, plan: Plan) -> StepResult:
        self.record_state(key, plan, None)
        return StepResult(key, plan)


def _may_fit(payment: LedgerPaymentFacts, receipt: RefundReceiptRead) -> bool:
    """A QBO payment not in HubSpot yet that the receipt could refund, by _fits' rules."""
    if payment.gone or payment.currency != receipt.currency or payment.date > receipt.date:
        return False
    return max((amount for _, amount in payment.shares), default=Decimal(0)) >= receipt.amount


def _fits(candidate: Candidate, receipt: RefundReceiptRead) -> bool:
    qbo, hs = candidate.qbo, candidate.hubspot
    if qbo.gone or qbo.currency != receipt.currency or qbo.date > receipt.date:
        return False
    return hs.amount - hs.refunded >= receipt.amount


def _describe(receipt: RefundReceiptRead | None) -> str:
    if receipt is None:
        return "The deleted refund receipt"
    who = f" to {receipt.customer_name}" if receipt.customer_name else ""
    return (
        f"QuickBooks refund receipt {receipt.id} ({receipt.amount} {receipt.currency}{who}, "
        f"{receipt.date.isoformat()})"
    )
