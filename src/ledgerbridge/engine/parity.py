"""The rounding parity check: QBO's own total must equal what HubSpot billed.

QBO recomputes what it considers its own arithmetic (Qty x UnitPrice, percent discounts, tax)
and rounds it its own way; HubSpot does the same on its side. When the two disagree by even a
cent, the customer is billed one amount in the CRM and owes another in the books. Such a record
is never "synced": it fails with category `validation`, naming both totals, and the decision is
written to the audit log.

Checked after every write of an invoice to QBO (the total QBO answered with), and on every
later step of a HubSpot-origin invoice that writes nothing (the total QBO reports when read), so
a mismatch stays visible until someone fixes it, and a retry alone cannot hide it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from ledgerbridge.domain import Invoice, InvoiceStatus, Side, SyncStatus
from ledgerbridge.domain.money import quantize, to_decimal
from ledgerbridge.engine.decisions import CreateLedgerInvoice, Decision, Plan, UpdateLedgerInvoice
from ledgerbridge.engine.money_splits import amounts_match
from ledgerbridge.engine.ports import INVOICE, LEDGER_TOTAL, StorePort

CODE = "total_mismatch"
HINT = (
    "Check how tax and discounts are rounded: QuickBooks computes percent discounts and sales "
    "tax itself. Use a fixed-amount discount, or adjust the line or tax rounding settings so "
    "both totals agree, then retry"
)

AuditSink = Callable[[str, Decimal, Decimal], None]  # (hubspot invoice id, billed, ledger total)


def _maybe_decimal(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return to_decimal(value)
    except ValueError:
        return None


def billed_total(hs: Invoice) -> Decimal:
    """What HubSpot billed: its own hs_amount_billed when the connector reported it, else the
    canonical total of the invoice as read."""
    reported = _maybe_decimal(hs.context.get("invoice.hs_amount_billed"))
    return quantize(reported if reported is not None else hs.total, hs.currency)


def ledger_total(invoice: Invoice) -> Decimal | None:
    """The total QBO computed, as the QBO connector reports it on an invoice it read."""
    return _maybe_decimal(invoice.context.get(LEDGER_TOTAL))


def mismatch(ledger: Decimal, billed: Decimal, currency: str) -> Decision | None:
    """The failed decision for two totals that differ at the minor unit, else None."""
    if amounts_match(ledger, billed, currency):
        return None
    message = (
        f"QuickBooks computed {quantize(ledger, currency)}, "
        f"HubSpot billed {quantize(billed, currency)}"
    )
    return Decision(SyncStatus.FAILED, message, hint=HINT, category="validation", code=CODE)


def _written(plan: Plan) -> Invoice | None:
    for op in plan.ops:
        if isinstance(op, (CreateLedgerInvoice, UpdateLedgerInvoice)):
            return op.invoice
    return None


def check(
    plan: Plan,
    ledger_written_total: Decimal | None,
    hs: Invoice | None,
    ledger: Invoice | None,
    audit: AuditSink | None = None,
) -> Plan:
    """The plan, with a failed decision when QBO's total and HubSpot's billed total differ.

    `ledger_written_total`: the total QBO answered the step's create/update with (None when the
    step did not write the QBO invoice, or QBO did not say). `hs`/`ledger`: both invoices as read
    before the step. `audit` is called with the totals when the step wrote QBO and they differ.
    """
    if plan.decision.status is not SyncStatus.SYNCED or hs is None:
        return plan
    written = _written(plan)
    if written is not None:
        if ledger_written_total is None:
            return plan
        total = ledger_written_total
    else:
        # A step that writes HubSpot makes it follow QBO: the HubSpot invoice read is stale.
        if plan.writes or ledger is None or (plan.origin or hs.origin) is not Side.HUBSPOT:
            return plan
        if InvoiceStatus.VOIDED in (hs.status, ledger.status):
            return plan  # a void zeroes QBO's total on purpose
        read_total = ledger_total(ledger)
        if read_total is None:
            return plan
        total = read_total
    billed = billed_total(hs)
    decision = mismatch(total, billed, hs.currency)
    if decision is None:
        return plan
    if written is not None and audit is not None and hs.id:
        audit(hs.id, billed, total)
    return replace(plan, decision=decision, summary=decision.message or plan.summary)


def auditor(store: StorePort, connection_id: int) -> AuditSink:
    """An AuditSink writing the mismatch to the store's audit log, on the HubSpot invoice."""

    def write(hubspot_id: str, billed: Decimal, ledger: Decimal) -> None:
        store.audit(
            connection_id,
            INVOICE,
            hubspot_id,
            "total",
            str(billed),
            str(ledger),
            "none (rounding parity check failed: the invoice is marked failed, not synced)",
        )

    return write
