"""The payments report: payments received and invoices issued in a date range, with processing
fees and platform fees summed and totals per currency. Read from HubSpot's search API through
the HubSpot read model (paged, 200 per request), so it reports what HubSpot reports.

Payout periods: a processor pays out the payments it settled together, and HubSpot records
the day on each payment (`hs_payout_date`), so the payments with one payout date (and
currency) are one period, "Payout 2026-11-08". Payments HubSpot has no payout date for
(QuickBooks, manual, or not paid out yet) are grouped by the week of their date, Monday to
Sunday, "Week of 2026-11-02". Each period sums gross, fees and net of its counted payments.

Each payment row links the QuickBooks expense (Purchase) the sync booked its fees as, from the
payment's link (`fee_expense_id`, engine/payments.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot.read_model import HubSpotReadModel
from ledgerbridge.connectors.hubspot.summaries import PaymentSummary
from ledgerbridge.connectors.hubspot.translate_payments import GONE_NOTES
from ledgerbridge.engine.ports import Link
from ledgerbridge.web.formatting import PAYMENT_LATEST_STATUS, label, plain_amount
from ledgerbridge.web.services.links import payment_kind_label, payment_page, qbo_payment_id

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
    # The QBO record the sync keeps for this payment: a Payment or a SalesReceipt (a payment
    # tied to no invoice), with its id and "View in QuickBooks" address.
    qbo_kind: str = ""  # "payment" | "sales receipt" | "" (none)
    qbo_id: str | None = None
    qbo_url: str | None = None
    payout_date: dt.date | None = None
    fee_expense_id: str | None = None  # the QBO Purchase booking the fees
    fee_expense_link: str | None = None

    @property
    def fees(self) -> Decimal:
        return self.processing_fee + self.platform_fee

    @property
    def period(self) -> tuple[dt.date, bool]:
        """(the period's day, paid out): the payout date, else the Monday of the payment's
        week."""
        if self.payout_date is not None:
            return self.payout_date, True
        day = self.date or dt.date.min
        return day - dt.timedelta(days=day.weekday()), False

    @property
    def period_label(self) -> str:
        day, paid_out = self.period
        return f"{'Payout' if paid_out else 'Week of'} {day.isoformat()}"

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
class PayoutPeriod:
    """The counted payments of one payout (or, without a payout date, one week) and currency."""

    day: dt.date  # the payout date, or the Monday of the week
    paid_out: bool
    currency: str
    payments: int = 0
    gross: Decimal = Decimal(0)
    processing_fees: Decimal = Decimal(0)
    platform_fees: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)

    @property
    def label(self) -> str:
        return f"{'Payout' if self.paid_out else 'Week of'} {self.day.isoformat()}"

    @property
    def fees(self) -> Decimal:
        return self.processing_fees + self.platform_fees

    @property
    def net(self) -> Decimal:
        return self.gross - self.fees - self.refunds


@dataclass
class PaymentsReport:
    date_from: dt.date
    date_to: dt.date
    payments: list[PaymentLine]
    totals: list[CurrencyTotals]
    invoice_count: int
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    periods: list[PayoutPeriod] = field(default_factory=list)


def payout_periods(lines: list[PaymentLine]) -> list[PayoutPeriod]:
    """Counted payments summed per payout period and currency, oldest first (see the module
    docstring)."""
    periods: dict[tuple[dt.date, bool, str], PayoutPeriod] = {}
    for line in lines:
        if not line.counted:
            continue
        day, paid_out = line.period
        period = periods.setdefault(
            (day, paid_out, line.currency), PayoutPeriod(day, paid_out, line.currency)
        )
        period.payments += 1
        period.gross += line.amount
        period.processing_fees += line.processing_fee
        period.platform_fees += line.platform_fee
        period.refunds += line.refunds
    return sorted(periods.values(), key=lambda p: (p.day, not p.paid_out, p.currency))


def _contact_name(contact: Mapping[str, Any] | None) -> str:
    if not contact:
        return ""
    person = " ".join(str(contact.get(k) or "").strip() for k in ("firstname", "lastname"))
    return (
        str(contact.get("company") or "").strip()
        or person.strip()
        or str(contact.get("email") or "").strip()
    )


# {HubSpot payment id: its link} for the given ids (the store's payment links).
PaymentLinks = Callable[[Sequence[str]], Mapping[str, Link]]
# (page kind, QBO id) -> "View in QuickBooks" address (web/services/links.py qbo_url).
QboUrl = Callable[[str, str], str | None]


async def payments_report(
    reads: HubSpotReadModel,
    date_from: dt.date,
    date_to: dt.date,
    payment_links: PaymentLinks | None = None,
    qbo_link: QboUrl | None = None,
    *,
    fee_expenses: Callable[[list[str]], Mapping[str, tuple[str, str | None]]] | None = None,
) -> PaymentsReport:
    """`fee_expenses`: HubSpot payment ids → {payment id: (QBO Purchase id, its link)} for the
    payments whose fees the sync booked."""
    payments, capped_p = await reads.payments_between(date_from, date_to)
    invoices, capped_i = await reads.invoices_between(date_from, date_to)
    links = await reads.payment_invoice_ids([p.id for p in payments])
    linked = await reads.invoices(list(dict.fromkeys(i for v in links.values() for i in v)))
    # Invoices with no company (e.g. brought in from QuickBooks for a customer HubSpot knows
    # as a contact only): their contact names the customer.
    nameless = [i for i, inv in linked.items() if not inv.company_name]
    contacts = await reads.invoice_contacts(nameless) if nameless else {}
    expenses = fee_expenses([p.id for p in payments]) if fee_expenses and payments else {}
    lines = []
    for payment in payments:
        invoice_ids = links.get(payment.id, [])
        names = [
            linked[i].company_name or _contact_name(contacts.get(i)) or linked[i].contact_email
            for i in invoice_ids
            if i in linked
        ]
        expense_id, expense_link = expenses.get(payment.id, (None, None))
        lines.append(
            PaymentLine(
                id=payment.id,
                date=payment.date,
                invoices=[
                    (i, (linked[i].number if i in linked else "") or f"#{i}") for i in invoice_ids
                ],
                # The customer's name (the invoice's company, else its contact) where known;
                # the payment's email otherwise.
                customer=next((n for n in names if n), payment.customer_email),
                payout_date=payment.payout_date,
                fee_expense_id=expense_id,
                fee_expense_link=expense_link,
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
    if payment_links is not None:
        _attach_qbo_records(lines, payments, payment_links, qbo_link)
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
        periods=payout_periods(lines),
    )
    if report.truncated:
        report.notes.append(
            "More than 10,000 records fall in this range; narrow the dates to see them all."
        )
    return report


def _attach_qbo_records(
    lines: list[PaymentLine],
    payments: Sequence[PaymentSummary],
    payment_links: PaymentLinks,
    qbo_link: QboUrl | None,
) -> None:
    """Which QBO record each payment is: a copy of a QBO payment names it in its key; a HubSpot
    payment the sync recorded has a link saying whether QBO holds it as a Payment or a
    SalesReceipt (their ids can be equal, so the kind decides the page)."""
    keys = {p.id: p.payment_key for p in payments}
    links = payment_links([line.id for line in lines if not qbo_payment_id(keys.get(line.id))])
    for line in lines:
        copied = qbo_payment_id(keys.get(line.id))
        link = links.get(line.id)
        if copied:
            line.qbo_kind, line.qbo_id, page = "payment", copied, "payment"
        elif link is not None and link.qbo_id:
            page = payment_page(link.qbo_kind)
            line.qbo_kind, line.qbo_id = payment_kind_label(link.qbo_kind), link.qbo_id
        else:
            continue
        line.qbo_url = qbo_link(page, line.qbo_id) if qbo_link else None


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
            "QuickBooks record",
            "Payout period",
            "QuickBooks fee expense",
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
                f"{line.qbo_kind} {line.qbo_id}" if line.qbo_id else "",
                line.period_label,
                safe_cell(line.fee_expense_id),
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
                "",
                "",
            ]
        )
    return out.getvalue()
