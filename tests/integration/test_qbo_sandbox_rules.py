"""Business rules of the QBO sandbox beyond invoices (in-process): credit memos applied through
payments, sales receipts and refund receipts, estimates, shared numbering, jobs, no-op writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.quickbooks import create_app
from ledgerbridge.sandbox.quickbooks.wire import dumps, loads


class Api:
    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client, self.base = client, base

    async def post(self, path: str, body: dict[str, Any], **params: str) -> tuple[int, Any]:
        response = await self.client.post(
            f"{self.base}/{path}",
            content=dumps(body),
            params=params,
            headers={"Content-Type": "application/json"},
        )
        return response.status_code, loads(response.text)

    async def ok(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        status, data = await self.post(path, body, **params)
        assert status == 200, data
        return next(v for k, v in data.items() if k != "time")

    async def code(self, path: str, body: dict[str, Any], **params: str) -> str:
        status, data = await self.post(path, body, **params)
        assert status == 400, data
        return str(data["Fault"]["Error"][0]["code"])

    async def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.base}/{entity.lower()}/{entity_id}")
        return loads(response.text)[entity]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    app = create_app()
    realm = app.state.sandbox.default_realm_id
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://qbo",
        headers={"Authorization": "Bearer qbo-sandbox-token"},
    ) as client:
        yield Api(client, f"/v3/company/{realm}")


def _lines(item_id: str, amount: str) -> list[dict[str, Any]]:
    return [
        {
            "Amount": Decimal(amount),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
        }
    ]


async def _setup(api: Api) -> tuple[str, str]:
    customer = await api.ok("customer", {"DisplayName": "Rules Customer"})
    item = await api.ok("item", {"Name": "Rules Item", "IncomeAccountRef": {"value": "1"}})
    return customer["Id"], item["Id"]


async def test_credit_memo_applied_through_a_zero_payment(api: Api) -> None:
    customer, item = await _setup(api)
    invoice = await api.ok(
        "invoice", {"CustomerRef": {"value": customer}, "Line": _lines(item, "100")}
    )
    memo = await api.ok(
        "creditmemo", {"CustomerRef": {"value": customer}, "Line": _lines(item, "30")}
    )
    assert memo["RemainingCredit"] == Decimal("30.00") and memo["Balance"] == Decimal("30.00")
    assert (await api.get("Customer", customer))["Balance"] == Decimal("70.00")
    payment = await api.ok(
        "payment",
        {
            "CustomerRef": {"value": customer},
            "TotalAmt": 0,
            "Line": [
                {
                    "Amount": Decimal("30"),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                },
                {
                    "Amount": Decimal("30"),
                    "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}],
                },
            ],
        },
    )
    assert payment["UnappliedAmt"] == 0
    assert (await api.get("Invoice", invoice["Id"]))["Balance"] == Decimal("70.00")
    assert (await api.get("CreditMemo", memo["Id"]))["RemainingCredit"] == 0
    assert (await api.get("Customer", customer))["Balance"] == Decimal("70.00")


async def test_sales_forms_share_numbering_and_receipts_are_paid(api: Api) -> None:
    customer, item = await _setup(api)
    invoice = await api.ok(
        "invoice", {"CustomerRef": {"value": customer}, "Line": _lines(item, "10")}
    )
    receipt = await api.ok(
        "salesreceipt",
        {
            "CustomerRef": {"value": customer},
            "Line": _lines(item, "10"),
            "PaymentMethodRef": {"value": "2"},
        },
    )
    assert (invoice["DocNumber"], receipt["DocNumber"]) == ("1001", "1002")
    assert receipt["Balance"] == 0 and receipt["DepositToAccountRef"]["name"] == "Undeposited Funds"
    assert receipt["PaymentMethodRef"]["name"] == "Check"
    assert (
        await api.code("salesreceipt", {"DocNumber": "1001", "Line": _lines(item, "1")}) == "6140"
    )
    voided = await api.ok(
        "salesreceipt",
        {"Id": receipt["Id"], "SyncToken": "0", "sparse": True},
        operation="update",
        include="void",
    )
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
    assert (
        await api.code(
            "refundreceipt", {"CustomerRef": {"value": customer}, "Line": _lines(item, "5")}
        )
        == "2020"
    )
    refund = await api.ok(
        "refundreceipt",
        {
            "CustomerRef": {"value": customer},
            "Line": _lines(item, "5"),
            "DepositToAccountRef": {"value": "6"},
        },
    )
    assert refund["DepositToAccountRef"]["name"] == "Checking" and refund["TotalAmt"] == Decimal(
        "5.00"
    )


async def test_estimates_keep_their_status_and_may_repeat_numbers(api: Api) -> None:
    customer, item = await _setup(api)
    first = await api.ok(
        "estimate",
        {"CustomerRef": {"value": customer}, "Line": _lines(item, "50"), "DocNumber": "E-1"},
    )
    again = await api.ok(
        "estimate",
        {"CustomerRef": {"value": customer}, "Line": _lines(item, "50"), "DocNumber": "E-1"},
    )
    assert first["TxnStatus"] == "Pending" and again["DocNumber"] == "E-1"
    assert "Balance" not in first and "DueDate" not in first


async def test_jobs_nest_under_their_parent(api: Api) -> None:
    parent = await api.ok("customer", {"DisplayName": "Freeman Sporting Goods"})
    job = await api.ok(
        "customer",
        {
            "DisplayName": "55 Twin Lane",
            "ParentRef": {"value": parent["Id"]},
            "BillWithParent": True,
        },
    )
    assert job["FullyQualifiedName"] == "Freeman Sporting Goods:55 Twin Lane"
    assert job["Job"] is True and job["Level"] == 1
    twin = await api.ok(
        "customer", {"DisplayName": "55 Twin Lane"}
    )  # same name, top level: allowed
    assert twin["FullyQualifiedName"] == "55 Twin Lane"
    assert await api.code("customer", {"DisplayName": "55 twin lane"}) == "6240"
    _, item = await _setup(api)
    await api.ok("invoice", {"CustomerRef": {"value": job["Id"]}, "Line": _lines(item, "85")})
    assert (await api.get("Customer", parent["Id"]))["BalanceWithJobs"] == Decimal("85.00")
    assert (await api.get("Customer", parent["Id"]))["Balance"] == 0


async def test_unchanged_write_keeps_version_and_tax_follows_apply_after_discount(api: Api) -> None:
    customer, _ = await _setup(api)
    item = await api.ok(
        "item",
        {"Name": "Taxable", "Taxable": True, "UnitPrice": 100, "IncomeAccountRef": {"value": "1"}},
    )
    body = {
        "CustomerRef": {"value": customer},
        "ApplyTaxAfterDiscount": True,
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "1"}},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 2},
            },
            {
                "DetailType": "DiscountLineDetail",
                "Amount": Decimal("50"),
                "DiscountLineDetail": {"PercentBased": False},
            },
        ],
    }
    invoice = await api.ok("invoice", body)
    assert invoice["Line"][0]["Amount"] == Decimal("200.00")  # price from the item
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("12.00")  # 8 % of (200 - 50)
    assert invoice["TotalAmt"] == Decimal("162.00")
    same = await api.ok(
        "invoice",
        {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "ApplyTaxAfterDiscount": True},
    )
    assert same["SyncToken"] == "0" and same["MetaData"] == invoice["MetaData"]
