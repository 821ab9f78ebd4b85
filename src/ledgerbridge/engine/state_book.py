"""Sync states: what each record's state says after a step, stored and shown on HubSpot.

An invoice's state lives on its primary key (the side it was created on), whichever side's key
woke the step; a payment's on its own key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.apply import Applied
from ledgerbridge.engine.decisions import Plan
from ledgerbridge.engine.ports import (
    INVOICE,
    CrmPort,
    Link,
    RecordKey,
    StoredSyncState,
    StorePort,
)
from ledgerbridge.engine.verify import plan_differences
from ledgerbridge.errors import SyncError


@dataclass(frozen=True)
class StepResult:
    key: RecordKey  # the key the state was recorded on (the record's primary key)
    plan: Plan
    applied: Applied | None = None


# Set by the outcome policy around one claimed key's step: called with the step's result inside
# the transaction that records it, so the dirty key is released in that same transaction (one
# commit, and the release can never be lost between the two). Returns nothing; the policy
# remembers that the key is released.
ON_COMMIT: ContextVar[Callable[[StepResult], None] | None] = ContextVar(
    "ledgerbridge_on_commit", default=None
)


class StateBook:
    """Mixin of the Stepper: records outcomes and errors. The attributes are the Stepper's."""

    connection_id: int
    crm: CrmPort
    store: StorePort
    clock: Callable[[], dt.datetime]

    def record_state(
        self,
        key: RecordKey,
        plan: Plan,
        applied: Applied | None,
        previous: StoredSyncState | None = None,
        *,
        read: bool = True,
    ) -> None:
        """`previous`: the stored state when the caller already read it (`read=False`: the
        caller read it, and None means there is none)."""
        if plan.decision.status is None:
            return
        if previous is None and read:
            previous = self.store.get_state(key)
        state = self.build_state(key, plan, applied, previous)
        if state is not None:
            self.store.set_state(state)

    def build_state(
        self,
        key: RecordKey,
        plan: Plan,
        applied: Applied | None,
        previous: StoredSyncState | None,
    ) -> StoredSyncState | None:
        """The state a step's outcome records (None when it records nothing)."""
        decision = plan.decision
        if decision.status is None:
            return None
        attempts = (
            0
            if decision.status in (SyncStatus.SYNCED, SyncStatus.EXCLUDED, SyncStatus.DIVERGED)
            else ((previous.attempts if previous else 0) + 1)
        )
        counterpart = (
            applied.qbo_id
            if applied and key.side is Side.HUBSPOT
            else applied.hubspot_id
            if applied
            else None
        )
        if counterpart is None:
            counterpart = plan.qbo_id if key.side is Side.HUBSPOT else plan.hubspot_id
        number = applied.qbo_number if applied else None
        return StoredSyncState(
            key=key,
            status=decision.status,
            category=decision.category,
            message=decision.message,
            hint=decision.hint,
            attempts=attempts,
            last_attempt_at=self.clock(),
            blocked_on=decision.blocked_on.as_text() if decision.blocked_on else None,
            counterpart_id=counterpart or (previous.counterpart_id if previous else None),
            counterpart_number=number or (previous.counterpart_number if previous else None),
            label=plan.label,
            amount=plan.amount,
            currency=plan.currency,
            differences=plan_differences(plan),
        )

    def record_error(
        self,
        key: RecordKey,
        status: SyncStatus,
        category: str,
        message: str,
        hint: str | None,
        next_attempt_at: dt.datetime | None,
    ) -> int:
        """Record a failed attempt (transient or not); returns the attempt count."""
        previous = self.store.get_state(key)
        attempts = (previous.attempts if previous else 0) + 1
        self.store.set_state(
            StoredSyncState(
                key=key,
                status=status,
                category=category,
                message=message,
                hint=hint,
                attempts=attempts,
                last_attempt_at=self.clock(),
                next_attempt_at=next_attempt_at,
                counterpart_id=previous.counterpart_id if previous else None,
                counterpart_number=previous.counterpart_number if previous else None,
            )
        )
        return attempts

    async def fail(
        self,
        key: RecordKey,
        status: SyncStatus,
        category: str,
        message: str,
        hint: str | None,
        next_attempt_at: dt.datetime | None,
    ) -> int:
        """Record an error raised mid-step on the record's primary key, and, for a failed
        invoice, on the HubSpot invoice too (best effort: the store has the truth)."""
        primary = self.primary_key(key)
        previous = self.store.get_state(primary)
        attempts = self.record_error(primary, status, category, message, hint, next_attempt_at)
        unchanged = previous is not None and (previous.status, previous.message, previous.hint) == (
            status,
            message,
            hint,
        )
        if status is SyncStatus.FAILED and failure_changed(previous, message):
            # Records waiting for it say why they wait (and stop retrying until it changes).
            self.requeue_waiting(primary, "dependency failed")
        # Writing the same failure again would only bump the invoice's modification date, and
        # the change feed would wake the record for nothing.
        if status is SyncStatus.FAILED and key.object_type == INVOICE and not unchanged:
            link = self.store.get_link(self.connection_id, INVOICE, key.side, key.source_id)
            hs_id = (
                link.hubspot_id if link else (key.source_id if key.side is Side.HUBSPOT else None)
            )
            if hs_id:
                text = f"{message}. Fix: {hint}" if hint else message
                with contextlib.suppress(SyncError):
                    await self.crm.set_sync_state(
                        hs_id,
                        SyncStatus.FAILED,
                        text,
                        link.qbo_id if link else None,
                        link.extra.get("doc_number") if link else None,
                    )
        return attempts

    def requeue_waiting(self, dependency: RecordKey, reason: str) -> None:
        """Re-queue the records blocked on `dependency`, which changed state."""
        for waiting in self.store.blocked_on(dependency):
            self.store.mark_dirty(waiting, reason)

    def primary_key(self, key: RecordKey) -> RecordKey:
        """The key an invoice's state lives on (its origin side), for errors raised mid-step."""
        if key.object_type != INVOICE:
            return key
        return self.primary_of(
            key, self.store.get_link(self.connection_id, INVOICE, key.side, key.source_id)
        )

    def primary_of(self, key: RecordKey, link: Link | None) -> RecordKey:
        """primary_key, given the invoice's link as already read."""
        if key.object_type != INVOICE or link is None:
            return key
        origin = Side(link.extra.get("origin", Side.HUBSPOT.value))
        source = link.hubspot_id if origin is Side.HUBSPOT else link.qbo_id
        return RecordKey(self.connection_id, INVOICE, origin, source) if source else key


def failure_changed(previous: StoredSyncState | None, message: str | None) -> bool:
    """A record turns failed, or fails for another reason: the records blocked on it are
    re-queued to say so (engine/payments.py blocks them on the failure, without retrying)."""
    return previous is None or (previous.status, previous.message) != (SyncStatus.FAILED, message)


def error_text(plan: Plan) -> str | None:
    decision = plan.decision
    if not decision.message:
        return None
    if decision.hint:
        return f"{decision.message}. Fix: {decision.hint}"
    return decision.message
