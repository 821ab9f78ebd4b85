"""Deal roll-ups: a HubSpot deal's properties kept current from its invoices.

From the most recently updated invoice: status, number, QBO number, amount billed, balance due
and due date. Across all of the deal's invoices (voided ones left out): total invoiced, paid,
outstanding, and how many. Totals add up invoices in the latest invoice's currency only (a deal
billed in two currencies has no single total); the others are counted in `other_currency`.
Pure arithmetic here; `refresh_deals` reads and writes through the CRM port.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.domain import Invoice, InvoiceStatus
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.ports import CrmPort
from ledgerbridge.errors import SyncError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DealRollup:
    """What a deal shows about its invoices."""

    invoice_count: int
    currency: str | None = None
    latest_invoice_id: str | None = None
    latest_status: str | None = None
    latest_number: str | None = None
    latest_qbo_number: str | None = None
    latest_amount_billed: Decimal | None = None
    latest_balance_due: Decimal | None = None
    latest_due_date: str | None = None
    total_invoiced: Decimal = Decimal(0)
    total_paid: Decimal = Decimal(0)
    total_outstanding: Decimal = Decimal(0)
    other_currency: int = 0  # invoices left out of the totals (another currency)


def rollup(invoices: Sequence[Invoice]) -> DealRollup:
    live = [i for i in invoices if i.status is not InvoiceStatus.DRAFT]
    if not live:
        return DealRollup(invoice_count=0)
    latest = max(live, key=lambda i: (_version_key(i.version), i.id or ""))
    currency = latest.currency
    counted = [i for i in live if i.status is not InvoiceStatus.VOIDED]
    same = [i for i in counted if i.currency == currency]
    invoiced = sum((_billed(i) for i in same), Decimal(0))
    paid = sum((i.amount_paid for i in same), Decimal(0))
    return DealRollup(
        invoice_count=len(counted),
        currency=currency,
        latest_invoice_id=latest.id,
        latest_status=_status(latest),
        latest_number=latest.number,
        latest_qbo_number=latest.context.get("invoice.qbo_doc_number"),
        latest_amount_billed=_billed(latest),
        latest_balance_due=_balance(latest),
        latest_due_date=latest.due_date.isoformat() if latest.due_date else None,
        total_invoiced=quantize(invoiced, currency),
        total_paid=quantize(paid, currency),
        total_outstanding=quantize(sum((_balance(i) for i in same), Decimal(0)), currency),
        other_currency=len(counted) - len(same),
    )


async def refresh_deals(crm: CrmPort, invoice_ids: Sequence[str]) -> int:
    """Recompute and write the roll-up of every deal these HubSpot invoices belong to; returns
    how many deals were written. A failure is logged and left for the next change: deal
    properties are a convenience, never a reason to fail an invoice's sync."""
    if not invoice_ids:
        return 0
    try:
        by_invoice = await crm.invoice_deals(list(dict.fromkeys(invoice_ids)))
        deals = list(dict.fromkeys(d for ids in by_invoice.values() for d in ids))
        for deal_id in deals:
            ids = await crm.deal_invoice_ids(deal_id)
            invoices = await crm.get_invoices(ids) if ids else []
            await crm.set_deal_rollup(deal_id, rollup(invoices))
        return len(deals)
    except SyncError as exc:
        log.warning("deal roll-ups not refreshed: %s", exc.message)
        return 0


def _status(invoice: Invoice) -> str:
    if invoice.status is InvoiceStatus.OPEN and invoice.amount_paid > 0:
        return "partially_paid"
    return invoice.status.value


def _billed(invoice: Invoice) -> Decimal:
    billed = invoice.context.get("invoice.hs_amount_billed")
    return quantize(Decimal(billed), invoice.currency) if billed else invoice.total


def _balance(invoice: Invoice) -> Decimal:
    if invoice.status is InvoiceStatus.VOIDED:
        return Decimal(0)
    if invoice.balance_due is not None:
        return quantize(invoice.balance_due, invoice.currency)
    return invoice.computed_balance


def _version_key(version: str | None) -> tuple[int, str]:
    """hs_lastmodifieddate as HubSpot sends it: epoch milliseconds or ISO 8601."""
    if not version:
        return (0, "")
    return (1, version.zfill(20)) if version.isdigit() else (2, version)
