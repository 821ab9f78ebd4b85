"""RefundReceipt and CreditMemo through python-quickbooks: create, read, query, CDC, void and
delete as QBO does them; a credit memo applied to an invoice through a Payment lowers the
invoice's balance and its own RemainingCredit, and one refunded by an expense to the customer
is used up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.purchase import Purchase
from quickbooks.objects.refundreceipt import RefundReceipt


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _line(item_id: str, amount: str) -> SalesItemLine:
    line = SalesItemLine()
    line.Amount = Decimal(amount)
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref(item_id)
    line.SalesItemLineDetail.Qty = 1
    line.SalesItemLineDetail.UnitPrice = Decimal(amount)
    return line


def _account(co: Company, sub_type: str) -> str:
    for account in co.state.companies[co.realm].entities["Account"].values():
        if account.get("AccountSubType") == sub_type:
            return str(account["Id"])
    raise AssertionError(f"no {sub_type} account")


def test_refund_receipt_create_read_query_delete(co: Company) -> None:
    customer, item = co.customer("Refunded Customer"), co.item("Refunded Item", "40")
    receipt = RefundReceipt()
    receipt.CustomerRef = _ref(customer["Id"])
    receipt.DepositToAccountRef = _ref(_account(co, "Checking"))
    receipt.PrivateNote = "Refund of HubSpot payment 7: Requested by customer"
    receipt.Line = [_line(item["Id"], "30.00")]
    receipt.save(qb=co.qb)

    read = RefundReceipt.get(receipt.Id, qb=co.qb)
    assert read.TotalAmt == Decimal("30.00")
    assert read.CustomerRef.value == customer["Id"]
    assert read.PrivateNote.startswith("Refund of HubSpot payment 7")
    found = RefundReceipt.filter(CustomerRef=customer["Id"], qb=co.qb)
    assert [r.Id for r in found] == [receipt.Id]

    read.delete(qb=co.qb)
    assert co.get("RefundReceipt", receipt.Id) is None
    assert RefundReceipt.filter(CustomerRef=customer["Id"], qb=co.qb) == []


def test_refund_receipt_needs_the_account_it_is_paid_from(co: Company) -> None:
    customer, item = co.customer("No Account"), co.item("No Account Item", "10")
    receipt = RefundReceipt()
    receipt.CustomerRef = _ref(customer["Id"])
    receipt.Line = [_line(item["Id"], "10.00")]
    with pytest.raises(QuickbooksException):
        receipt.save(qb=co.qb)


def test_refund_receipt_void_zeroes_it(co: Company) -> None:
    customer, item = co.customer("Void Refund"), co.item("Void Refund Item", "25")
    receipt = RefundReceipt()
    receipt.CustomerRef = _ref(customer["Id"])
    receipt.DepositToAccountRef = _ref(_account(co, "Checking"))
    receipt.Line = [_line(item["Id"], "25.00")]
    receipt.save(qb=co.qb)
    # python-quickbooks has no void for RefundReceipt: the raw request QBO documents.
    response = co.http.post(
        "/refundreceipt",
        params={"operation": "update", "include": "void"},
        json={"Id": receipt.Id, "SyncToken": receipt.SyncToken, "sparse": True},
    )
    assert response.status_code == 200, response.text
    read = RefundReceipt.get(receipt.Id, qb=co.qb)
    assert read.TotalAmt == 0
    assert read.PrivateNote.startswith("Voided")


def test_credit_memo_applied_to_an_invoice_and_seen_by_cdc(co: Company) -> None:
    since = co.state.clock() - dt.timedelta(minutes=1)
    customer, item = co.customer("Credited Customer"), co.item("Credited Item", "100")
    invoice = co.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "100.00",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1},
                }
            ],
        },
    )
    memo = CreditMemo()
    memo.CustomerRef = _ref(customer["Id"])
    memo.Line = [_line(item["Id"], "40.00")]
    memo.save(qb=co.qb)
    read = CreditMemo.get(memo.Id, qb=co.qb)
    assert read.TotalAmt == Decimal("40.00")
    assert read.RemainingCredit == Decimal("40.00")

    # Applied through a zero-amount payment linking the invoice and the credit memo.
    applied = co.http.post(
        "/payment",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 0,
            "Line": [
                {"Amount": 40, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": 40, "LinkedTxn": [{"TxnId": memo.Id, "TxnType": "CreditMemo"}]},
            ],
        },
    )
    assert applied.status_code == 200, applied.text
    assert Decimal(str(co.get("Invoice", invoice["Id"])["Balance"])) == Decimal("60.00")
    assert CreditMemo.get(memo.Id, qb=co.qb).RemainingCredit == 0
    # A credit memo gives no more than it has left.
    again = co.http.post(
        "/payment",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 0,
            "Line": [
                {"Amount": 10, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
                {"Amount": 10, "LinkedTxn": [{"TxnId": memo.Id, "TxnType": "CreditMemo"}]},
            ],
        },
    )
    assert again.status_code == 400, again.text
    assert "remaining credit" in again.text
    assert Decimal(str(co.get("Invoice", invoice["Id"])["Balance"])) == Decimal("60.00")

    local_since = since.astimezone(co.state.tz).replace(tzinfo=None)
    result = change_data_capture([CreditMemo, RefundReceipt], local_since, qb=co.qb)
    assert [m.Id for m in result.CreditMemo] == [memo.Id]
    assert not hasattr(result, "RefundReceipt")


def test_credit_memo_delete_leaves_a_cdc_stub(co: Company) -> None:
    since = co.state.clock() - dt.timedelta(minutes=1)
    customer, item = co.customer("Deleted Credit"), co.item("Deleted Credit Item", "15")
    memo = CreditMemo()
    memo.CustomerRef = _ref(customer["Id"])
    memo.Line = [_line(item["Id"], "15.00")]
    memo.save(qb=co.qb)
    memo.delete(qb=co.qb)
    assert co.get("CreditMemo", memo.Id) is None
    local_since = since.astimezone(co.state.tz).replace(tzinfo=None)
    result = change_data_capture([CreditMemo], local_since, qb=co.qb)
    assert [(m.Id, m.status) for m in result.CreditMemo] == [(memo.Id, "Deleted")]


def test_credit_memo_refunded_by_an_expense_to_the_customer(co: Company) -> None:
    """Refunding a credit memo as QBO does it: an expense paid to the customer against Accounts
    Receivable, and a zero payment applying the credit memo to that expense (TxnType Expense):
    the memo's credit is used up and the customer owes nothing."""
    customer, item = co.customer("Refunded Credit Co"), co.item("Returned Item", "100")
    memo = CreditMemo()
    memo.CustomerRef = _ref(customer["Id"])
    memo.Line = [_line(item["Id"], "25.00")]
    memo.save(qb=co.qb)
    assert Decimal(str(co.get("Customer", customer["Id"])["Balance"])) == Decimal("-25.00")

    refund = Purchase()
    refund.PaymentType = "Cash"
    refund.AccountRef = _ref(_account(co, "UndepositedFunds"))
    refund.EntityRef = Ref()
    refund.EntityRef.value = customer["Id"]
    refund.EntityRef.type = "Customer"
    line = AccountBasedExpenseLine()
    line.Amount = Decimal("25.00")
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = _ref(_account(co, "AccountsReceivable"))
    refund.Line = [line]
    refund.save(qb=co.qb)
    assert Decimal(str(co.get("Customer", customer["Id"])["Balance"])) == 0

    def apply(amount: str) -> int:
        return co.http.post(
            "/payment",
            json={
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": 0,
                "Line": [
                    {"Amount": amount, "LinkedTxn": [{"TxnId": refund.Id, "TxnType": "Expense"}]},
                    {"Amount": amount, "LinkedTxn": [{"TxnId": memo.Id, "TxnType": "CreditMemo"}]},
                ],
            },
        ).status_code

    assert apply("25.00") == 200
    assert CreditMemo.get(memo.Id, qb=co.qb).RemainingCredit == 0
    assert Decimal(str(co.get("Customer", customer["Id"])["Balance"])) == 0
    assert Purchase.get(refund.Id, qb=co.qb).TotalAmt == Decimal("25.00")
    # Neither the credit nor the expense can be applied a second time.
    assert apply("1.00") == 400
