"""The deal properties ledgerbridge keeps current from a deal's invoices (engine/deals.py),
and how a roll-up is written onto them."""

from __future__ import annotations

from typing import Any

from ledgerbridge.engine.deals import DealRollup

GROUP = "ledgerbridge"


def _prop(name: str, label: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "groupName": GROUP,
        "description": description,
        "type": kind,
        "fieldType": "number" if kind == "number" else "text",
    }


DEAL_ROLLUP_PROPERTIES: list[dict[str, Any]] = [
    _prop(
        "ledgerbridge_invoice_status",
        "Latest invoice status",
        "Status of the deal's most recently updated invoice.",
    ),
    _prop(
        "ledgerbridge_invoice_number",
        "Latest invoice number",
        "HubSpot number of the deal's most recently updated invoice.",
    ),
    _prop(
        "ledgerbridge_qbo_invoice_number",
        "Latest QuickBooks invoice number",
        "QuickBooks number of the deal's most recently updated invoice.",
    ),
    _prop(
        "ledgerbridge_invoice_amount",
        "Latest invoice amount",
        "Amount billed on the deal's most recently updated invoice.",
        "number",
    ),
    _prop(
        "ledgerbridge_invoice_balance",
        "Latest invoice balance due",
        "Balance due on the deal's most recently updated invoice.",
        "number",
    ),
    _prop(
        "ledgerbridge_invoice_due_date",
        "Latest invoice due date",
        "Due date (YYYY-MM-DD) of the deal's most recently updated invoice.",
    ),
    _prop("ledgerbridge_invoice_currency", "Invoice currency", "Currency of the totals."),
    _prop(
        "ledgerbridge_total_invoiced",
        "Total invoiced",
        "Sum billed on the deal's invoices (voided ones left out).",
        "number",
    ),
    _prop("ledgerbridge_total_paid", "Total paid", "Sum paid on the deal's invoices.", "number"),
    _prop(
        "ledgerbridge_total_outstanding",
        "Total outstanding",
        "Sum still due on the deal's invoices.",
        "number",
    ),
    _prop(
        "ledgerbridge_invoice_count",
        "Number of invoices",
        "Invoices on the deal (voided ones left out).",
        "number",
    ),
]


def deal_properties(rollup: DealRollup) -> dict[str, str]:
    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {
        "ledgerbridge_invoice_status": text(rollup.latest_status),
        "ledgerbridge_invoice_number": text(rollup.latest_number),
        "ledgerbridge_qbo_invoice_number": text(rollup.latest_qbo_number),
        "ledgerbridge_invoice_amount": text(rollup.latest_amount_billed),
        "ledgerbridge_invoice_balance": text(rollup.latest_balance_due),
        "ledgerbridge_invoice_due_date": text(rollup.latest_due_date),
        "ledgerbridge_invoice_currency": text(rollup.currency),
        "ledgerbridge_total_invoiced": text(rollup.total_invoiced),
        "ledgerbridge_total_paid": text(rollup.total_paid),
        "ledgerbridge_total_outstanding": text(rollup.total_outstanding),
        "ledgerbridge_invoice_count": str(rollup.invoice_count),
    }
