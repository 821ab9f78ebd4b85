"""Browser test: the payments report's totals match the data in HubSpot, on the page and in the
CSV export."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack

DATE_FROM, DATE_TO = "2026-08-01", "2026-11-30"
NOT_RECEIVED = {"failed", "processing", "disputed_lost"}


def _payments_in_range(stack: ConsoleStack) -> list[dict[str, Any]]:
    body: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_initiated_date",
                        "operator": "GTE",
                        "value": f"{DATE_FROM}T00:00:00.000Z",
                    },
                    {
                        "propertyName": "hs_initiated_date",
                        "operator": "LTE",
                        "value": f"{DATE_TO}T23:59:59.999Z",
                    },
                ]
            }
        ],
        "properties": [
            "hs_initial_amount",
            "hs_fees_amount",
            "hs_refunds_amount",
            "hs_latest_status",
            "hs_currency_code",
        ],
        "limit": 100,
    }
    out: list[dict[str, Any]] = []
    with stack.hubspot_client() as hs:
        while True:
            page = hs.post("/crm/v3/objects/commerce_payments/search", json=body).json()
            out += page["results"]
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return out
            body["after"] = after


def _expected(stack: ConsoleStack) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for record in _payments_in_range(stack):
        p = record["properties"]
        if p.get("hs_latest_status") in NOT_RECEIVED:
            continue
        t = totals[(p.get("hs_currency_code") or "USD").upper()]
        t["payments"] += 1
        t["received"] += Decimal(p.get("hs_initial_amount") or 0)
        t["fees"] += Decimal(p.get("hs_fees_amount") or 0)
        t["refunds"] += Decimal(p.get("hs_refunds_amount") or 0)
    return totals


def _money(value: Decimal, currency: str) -> str:
    return format_currency(value.quantize(Decimal("0.01")), currency, locale="en_US")


def test_payments_report_totals_match_the_data(page: Page, stack: ConsoleStack) -> None:
    # Processing fees on a few payments, as a payment processor would report them.
    payments = [
        r
        for r in _payments_in_range(stack)
        if r["properties"].get("hs_latest_status") == "succeeded"
    ]
    assert len(payments) >= 3
    with stack.hubspot_client() as hs:
        for record, fee in zip(payments[:3], ("2.90", "14.35", "0.75"), strict=False):
            hs.patch(
                f"/crm/v3/objects/commerce_payments/{record['id']}",
                json={"properties": {"hs_fees_amount": fee}},
            )

    page.goto("/reports/payments")
    page.fill("#from", DATE_FROM)
    page.fill("#to", DATE_TO)
    page.get_by_role("button", name="Run report").click()
    expect(page).to_have_url(f"{stack.console_url}/reports/payments?from={DATE_FROM}&to={DATE_TO}")

    expected = _expected(stack)
    assert expected["USD"]["fees"] >= Decimal("18.00")
    for currency, t in expected.items():
        card = page.locator(f"#report-totals [data-currency='{currency}']")
        expect(card.locator("[data-total=payments]")).to_have_text(str(t["payments"]))
        expect(card.locator("[data-total=received]")).to_have_text(_money(t["received"], currency))
        expect(card.locator("[data-total=processing_fees]")).to_have_text(
            _money(t["fees"], currency)
        )
        expect(card.locator("[data-total=refunds]")).to_have_text(_money(t["refunds"], currency))
        net = t["received"] - t["fees"] - t["refunds"]
        expect(card.locator("[data-total=net]")).to_have_text(_money(net, currency))
    listed = sum(int(t["payments"]) for t in expected.values())
    assert page.locator("#report-payments tbody tr:not(.not-counted)").count() == listed

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    totals = {r["Currency"]: r for r in rows if r["Payment id"] == "TOTAL"}
    assert set(totals) == set(expected)
    for currency, t in expected.items():
        assert Decimal(totals[currency]["Amount"]) == t["received"]
        assert Decimal(totals[currency]["Processing fee"]) == t["fees"]
        assert Decimal(totals[currency]["Net"]) == t["received"] - t["fees"] - t["refunds"]
    assert len([r for r in rows if r["Payment id"] != "TOTAL" and r["Counted"] == "yes"]) == listed
    # Each row names the customer as the page does (a company name where known: the column
    # is "Customer", not an email address).
    for r in rows:
        if r["Payment id"] != "TOTAL":
            cell = page.locator(f"#report-payments tr[data-payment-id='{r['Payment id']}'] td")
            expect(cell.nth(2)).to_have_text(r["Customer"])
