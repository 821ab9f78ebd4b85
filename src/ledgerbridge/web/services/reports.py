"""The payments report: payments received and invoices issued in a date range, with processing
fees and platform fees summed and totals per currency. Read from HubSpot's search API (paged,
200 per request), so it reports what HubSpot reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.hubspot.translate_payments import GONE_NOTES
from ledgerbridge.web.formatting import (
    PAYMENT_LATEST_STATUS,
    decimal_or_zero,
    label,
    plain_amount,
    to_date,
)

PAGE = 200
MAX_ROWS = 10_000  # the search API's cap per query
PAYMENT_PROPS = (
    "hs_initial_amount",
    "hs_initiated_date",
    "hs_currency_code",
    "hs_fees_amount",
    "hs_platform_fee",
    "hs_refunds_amount",
    "hs_latest_status",
    "hs_processor_type",
    "hs_payment_method_type",
    "hs_reference_number",
    "hs_customer_email",
    "hs_internal_comment",
)
INVOICE_PROPS = (
    "hs_number",
    "hs_currency",
    "hs_amount_billed",
    "hs_amount_paid",
    "hs_balance_due",
    "hs_invoice_status",
    "hs_invoice_date",
)
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


async def _search_all(
    api: HubSpotApi,
    object_type: str,
    prop: str,
    date_from: dt.date,
    date_to: dt.date,
    properties: tuple[str, ...],
) -> tuple[list[dict[str, Any]], bool]:
    body: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": prop,
                        "operator": "GTE",
                        "value": f"{date_from.isoformat()}T00:00:00.000Z",
                    },
                    {
                        "propertyName": prop,
                        "operator": "LTE",
                        "value": f"{date_to.isoformat()}T23:59:59.999Z",
                    },
                ]
            }
        ],
        "properties": list(properties),
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "limit": PAGE,
    }
    out: list[dict[str, Any]] = []
    while True:
        data = await api.search(object_type, body)
        out.extend(data.get("results") or [])
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not after or len(out) >= MAX_ROWS:
            return out, bool(after)
        body["after"] = after


async def payments_report(api: HubSpotApi, date_from: dt.date, date_to: dt.date) -> PaymentsReport:
    payments, capped_p = await _search_all(
        api, "commerce_payments", "hs_initiated_date", date_from, date_to, PAYMENT_PROPS
    )
    invoices, capped_i = await _search_all(
        api, "invoices", "hs_invoice_date", date_from, date_to, INVOICE_PROPS
    )
    ids = [str(p["id"]) for p in payments]
    links = await api.associations("commerce_payments", "invoices", ids) if ids else {}
    linked_ids = list(dict.fromkeys(i for v in links.values() for i in v))
    numbers = (
        await api.batch_read(
            "invoices", linked_ids, ["hs_number", "hs_invoice_latest_company_name"]
        )
        if linked_ids
        else {}
    )
    lines = []
    for record in payments:
        p = record.get("properties") or {}
        invoice_ids = links.get(str(record["id"]), [])
        lines.append(
            PaymentLine(
                id=str(record["id"]),
                date=to_date(p.get("hs_initiated_date")),
                invoices=[
                    (
                        i,
                        str(
                            ((numbers.get(i) or {}).get("properties") or {}).get("hs_number")
                            or f"#{i}"
                        ),
                    )
                    for i in invoice_ids
                ],
                # The customer's name (the invoice's company) where known; the email otherwise.
                customer=next(
                    (
                        str(name)
                        for i in invoice_ids
                        if (
                            name := ((numbers.get(i) or {}).get("properties") or {}).get(
                                "hs_invoice_latest_company_name"
                            )
                        )
                    ),
                    str(p.get("hs_customer_email") or ""),
                ),
                processor=str(p.get("hs_processor_type") or ""),
                method=str(p.get("hs_payment_method_type") or ""),
                status=str(p.get("hs_latest_status") or ""),
                reference=str(p.get("hs_reference_number") or ""),
                currency=str(p.get("hs_currency_code") or "USD").upper(),
                amount=decimal_or_zero(p.get("hs_initial_amount")),
                processing_fee=decimal_or_zero(p.get("hs_fees_amount")),
                platform_fee=decimal_or_zero(p.get("hs_platform_fee")),
                refunds=decimal_or_zero(p.get("hs_refunds_amount")),
                comment=str(p.get("hs_internal_comment") or ""),
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
    for record in invoices:
        p = record.get("properties") or {}
        if p.get("hs_invoice_status") in ("draft", "voided"):
            continue
        invoice_count += 1
        t = totals.setdefault(
            str(p.get("hs_currency") or "USD").upper(),
            CurrencyTotals(str(p.get("hs_currency") or "USD").upper()),
        )
        t.invoices += 1
        t.billed += decimal_or_zero(p.get("hs_amount_billed"))
        t.invoice_paid += decimal_or_zero(p.get("hs_amount_paid"))
        t.outstanding += decimal_or_zero(p.get("hs_balance_due"))
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
            "Customer email",
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
