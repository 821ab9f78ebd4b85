"""Credit memos made in QuickBooks by hand, and what HubSpot shows of them.

In QBO a credit memo is the customer's credit until it is applied to invoices, which QBO does
through a Payment whose lines link the invoices and the credit memo (often for 0.00). Only then
does an invoice's balance drop, and that Payment reaches HubSpot as one "QuickBooks" payment per
invoice share (engine/payments.py), so both books show the same credit and the same balance.
A credit memo not applied to any invoice changes no balance in QBO: which invoice it is meant
for is the bookkeeper's decision, so the engine does not guess one. It reports it instead.

The step of a credit memo (LEDGER_CREDIT keys, found by CDC and webhooks):

- created by ledgerbridge (it carries a marker), voided or deleted: nothing to do;
- applied, in full or in part: verified, each invoice share of each Payment that applies it
  must be in HubSpot with the same amount (`synced`); a share not there yet is `blocked` on
  that Payment, which is woken (and re-queues it once synced); a share whose copy HubSpot
  deleted after that Payment synced is HubSpot's decision (it owns deletes of copies) and
  does not hold the step;
- credit left unapplied: `failed` (`credit_unapplied`) with the amount left and the hint to
  apply it to the invoice in QuickBooks (Receive payment); applying it re-runs the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.decisions import Decision, Plan, blocked, failed
from ledgerbridge.engine.payments import share_key
from ledgerbridge.engine.ports import (
    PAYMENT,
    CrmPort,
    FieldDifference,
    LedgerPort,
    RecordKey,
    StorePort,
)
from ledgerbridge.engine.state_book import StepResult
from ledgerbridge.engine.verify import DIFFERENCES
from ledgerbridge.errors import Invalid


class LedgerCreditStep:
    """One QBO credit memo's step (LEDGER_CREDIT keys, QuickBooks side)."""

    def __init__(
        self,
        connection_id: int,
        crm: CrmPort,
        ledger: LedgerPort,
        record_state: Callable[..., Any],
        store: StorePort | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.record_state = record_state
        self.store = store

    async def run(self, key: RecordKey) -> StepResult | None:
        memo = await self.ledger.get_credit_memo(key.source_id)
        if memo is None or memo.marker or memo.voided or not memo.customer_id:
            return None
        context: dict[str, Any] = {
            "origin": Side.QUICKBOOKS,
            "qbo_id": memo.id,
            "label": f"Credit memo {memo.id}",
            "amount": memo.amount,
            "currency": memo.currency,
        }
        applying = [
            p
            for p in await self.ledger.customer_payments(memo.customer_id)
            if memo.id in p.credit_memo_ids and not p.gone
        ]
        # Every invoice share of the Payments applying it must be in HubSpot, to the cent.
        keys = {
            share_key(p.id, invoice): (p.id, amount)
            for p in applying
            for invoice, amount in p.shares
        }
        copies = await self.crm.find_ledger_payments(list(keys)) if keys else {}
        differences: list[FieldDifference] = []
        deleted: list[str] = []  # shares whose HubSpot copy HubSpot deleted
        for share, (payment_id, amount) in keys.items():
            copy = copies.get(share)
            if copy is None:
                on = RecordKey(self.connection_id, PAYMENT, Side.QUICKBOOKS, payment_id)
                if self._settled(on):
                    # The payment's step made the copy and HubSpot archived it since: HubSpot
                    # owns the delete of a copy (docs/sync-matrix.md), it is never re-created.
                    deleted.append(share)
                    continue
                plan = blocked(
                    key,
                    on,
                    f"Waits for QuickBooks payment {payment_id}, which applies this credit, to "
                    "reach HubSpot",
                    **context,
                )
                return self._finish(key, plan)
            if quantize(copy.amount, memo.currency) != quantize(amount, memo.currency):
                differences.append(
                    FieldDifference(f"credit[{share}].amount", str(copy.amount), str(amount))
                )
        left = quantize(memo.remaining, memo.currency)
        if left > 0:
            applied = quantize(memo.amount - memo.remaining, memo.currency)
            who = f" to {memo.customer_name}" if memo.customer_name else ""
            plan = failed(
                key,
                Invalid(
                    f"QuickBooks credit memo {memo.id} ({memo.amount} {memo.currency}{who}) has "
                    f"{left} {memo.currency} not applied to any invoice ({applied} applied), "
                    "so HubSpot shows no credit for it",
                    hint="In QuickBooks, apply the credit to the invoice it is for (Receive "
                    "payment, tick the invoice and the credit memo); it then shows in HubSpot "
                    "as a credit on that invoice, with the same balance",
                    code="credit_unapplied",
                ),
                context,
            )
            return self._finish(key, plan)
        decision = (
            Decision(
                SyncStatus.DIVERGED,
                f"The credit of QuickBooks credit memo {memo.id} differs in HubSpot",
                "Retry the QuickBooks payment that applies it",
                "diverged",
            )
            if differences
            else Decision(SyncStatus.SYNCED)
        )
        hubspot_ids = ", ".join(c.id for c in copies.values() if c.id)
        gone = f" (deleted in HubSpot: {', '.join(deleted)})" if deleted else ""
        plan = Plan(
            key,
            decision,
            summary=f"credit memo {memo.id}: applied, in HubSpot as {hubspot_ids or 'none'}{gone}",
            hubspot_id=hubspot_ids or None,
            extra={DIFFERENCES: tuple(differences)},
            **context,
        )
        return self._finish(key, plan)

    def _settled(self, payment: RecordKey) -> bool:
        """The QBO payment's own step has finished: its copies were made (synced or diverged)."""
        if self.store is None:
            return False
        state = self.store.get_state(payment)
        return state is not None and state.status in (SyncStatus.SYNCED, SyncStatus.DIVERGED)

    def _finish(self, key: RecordKey, plan: Plan) -> StepResult:
        self.record_state(key, plan, None)
        return StepResult(key, plan)
