"""The payments report: payments received and invoices issued in a date range, with processing
fees and platform fees summed and totals per currency. Read from HubSpot's search API through
the HubSpot read model (paged, 200 per request), so it reports what HubSpot reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

from ledgerbridge.connectors.hubspot.read_model import HubSpotReadModel
from ledgerbridge.connectors.hubspot.translate_payments import GONE_NOTES
from ledgerbridge.web.formatting import PAYMENT_LATEST_STATUS, label, plain_amount

# Payments whose money did not arrive are listed but not counted.
NOT_RECEIVED = {"failed", "processing", "disputed_lost"}


@dataclass
class PaymentLine:
    id: str
    date: dt.date | None
    invoices: list[tuple[str, str]]  # (invoice id, number)
    customer: str
    processor: str
    method: str
    status: str
    reference: str
    currency: str
    amount: Decimal
    processing_fee: Decimal
    platform_fee: Decimal
    refunds: Decimal
    comment: str = ""

    @property
    def status_label(self) -> str:
        """A copy of a QBO payment that QBO voided or deleted says so ("Voided in QuickBooks");
        the rest show HubSpot's status."""
        first = self.comment.splitlines()[0] if self.comment else ""
        if self.processor == "quickbooks" and first in GONE_NOTES.values():
            return first
        return label(PAYMENT_LATEST_STATUS, self.status)

    @property
    def counted(self) -> bool:
        return self.status not in NOT_RECEIVED

    @property
    def net(self) -> Decimal:
        return self.amount - self.processing_fee - self.platform_fee - self.refunds


@dataclass
class CurrencyTotals:
    currency: str
    payments: int = 0
    received: Decimal = Decimal(0)
    processing_fees: Decimal = Decimal(0)
    platform_fees: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)
    invoices: int = 0
    billed: Decimal = Decimal(0)
    invoice_paid: Decimal = Decimal(0)
    outstanding: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.received - self.processing_fees - self.platform_fees - self.refunds


@dataclass
class PaymentsReport:
    date_from: dt.date
    date_to: dt.date
    payments: list[PaymentLine]
    totals: list[CurrencyTotals]
    invoice_count: int
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


async def payments_report(
    reads: HubSpotReadModel, date_from: dt.date, date_to: dt.date
) -> PaymentsReport:
    payments, capped_p = await reads.payments_between(date_from, date_to)
    invoices, capped_i = await reads.invoices_between(date_from, date_to)
    links = await reads.payment_invoice_ids([p.id for p in payments])
    linked = await reads.invoices(list(dict.fromkeys(i for v in links.values() for i in v)))
    lines = []
    for payment in payments:
        invoice_ids = links.get(payment.id, [])
        lines.append(
            PaymentLine(
                id=payment.id,
                date=payment.date,
                invoices=[
                    (i, (linked[i].number if i in linked else "") or f"#{i}") for i in invoice_ids
                ],
                # The customer's name (the invoice's company) where known; the email otherwise.
                customer=next(
                    (
                        linked[i].company_name
                        for i in invoice_ids
                        if i in linked and linked[i].company_name
                    ),
                    payment.customer_email,
                ),
                processor=payment.processor,
                method=payment.method,
                status=payment.status,
                reference=payment.reference,
                currency=payment.currency,
                amount=payment.amount,
                processing_fee=payment.processing_fee,
                platform_fee=payment.platform_fee,
                refunds=payment.refunds,
                comment=payment.comment,
            )
        )
    totals: dict[str, CurrencyTotals] = {}
    for line in lines:
        if not line.counted:
            continue
        t = totals.setdefault(line.currency, CurrencyTotals(line.currency))
        t.payments += 1
        t.received += line.amount
        t.processing_fees += line.processing_fee
        t.platform_fees += line.platform_fee
        t.refunds += line.refunds
    invoice_count = 0
    for invoice in invoices:
        if invoice.status in ("draft", "voided"):
            continue
        invoice_count += 1
        t = totals.setdefault(invoice.currency, CurrencyTotals(invoice.currency))
        t.invoices += 1
        t.billed += invoice.amount_billed
        t.invoice_paid += invoice.amount_paid
        t.outstanding += invoice.balance_due
    report = PaymentsReport(
        date_from,
        date_to,
        lines,
        sorted(totals.values(), key=lambda t: t.currency),
        invoice_count,
        truncated=capped_p or capped_i,
    )
    if report.truncated:
        report.notes.append(
            "More than 10,000 records fall in this range; narrow the dates to see them all."
        )
    return report


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...) sends the
# user's data away; @SUM... runs in older Excel). Text from HubSpot/QBO (payment references,
# emails, invoice numbers) is prefixed with an apostrophe, which shows the text as typed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str | None) -> str:
    """A text cell that a spreadsheet shows as text, never evaluates. Amounts (which may be
    negative) are written by plain_amount and do not pass through here."""
    value = text or ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def payments_csv(report: PaymentsReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "Payment id",
            "Date",
            "Invoice numbers",
            "Customer",
            "Source",
            "Method",
            "Status",
            "Reference",
            "Currency",
            "Amount",
            "Processing fee",
            "Platform fee",
            "Refunded",
            "Net",
            "Counted",
        ]
    )
    for line in report.payments:
        writer.writerow(
            [
                safe_cell(line.id),
                line.date.isoformat() if line.date else "",
                safe_cell(" ".join(n for _, n in line.invoices)),
                safe_cell(line.customer),
                safe_cell(line.processor),
                safe_cell(line.method),
                safe_cell(line.status),
                safe_cell(line.reference),
                safe_cell(line.currency),
                plain_amount(line.amount, line.currency),
                plain_amount(line.processing_fee, line.currency),
                plain_amount(line.platform_fee, line.currency),
                plain_amount(line.refunds, line.currency),
                plain_amount(line.net, line.currency),
                "yes" if line.counted else "no",
            ]
        )
    for t in report.totals:
        writer.writerow(
            [
                "TOTAL",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                safe_cell(t.currency),
                plain_amount(t.received, t.currency),
                plain_amount(t.processing_fees, t.currency),
                plain_amount(t.platform_fees, t.currency),
                plain_amount(t.refunds, t.currency),
                plain_amount(t.net, t.currency),
                "",
            ]
        )
    return out.getvalue()
