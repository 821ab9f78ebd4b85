"""Refund receipts and credit memos with python-quickbooks: create, read, query, CDC, void and
delete; a credit memo applied to an invoice through a zero-amount Payment lowers the invoice's
balance and the memo's remaining credit, and a refund from the memo uses that credit up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.account import Account
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine
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
    line.SalesItemLineDetail.Qty = Decimal(1)
    line.SalesItemLineDetail.UnitPrice = Decimal(amount)
    return line


def _bank(co: Company) -> str:
    accounts = Account.all(qb=co.qb, max_results=1000)
    return next(a.Id for a in accounts if a.AccountSubType == "Checking")


def _refund(co: Company, customer_id: str, item_id: str, amount: str, memo: str) -> RefundReceipt:
    refund = RefundReceipt()
    refund.CustomerRef = _ref(customer_id)
    refund.DepositToAccountRef = _ref(_bank(co))
    refund.PrivateNote = memo
    refund.Line.append(_line(item_id, amount))
    return refund.save(qb=co.qb)


def _credit_memo(co: Company, customer_id: str, item_id: str, amount: str) -> CreditMemo:
    memo = CreditMemo()
    memo.CustomerRef = _ref(customer_id)
    memo.Line.append(_line(item_id, amount))
    return memo.save(qb=co.qb)


def _apply(co: Company, customer_id: str, links: list[tuple[str, str, str]]) -> Payment:
    """A zero-amount Payment that applies a credit memo to an invoice (the way QBO links them)."""
    payment = Payment()
    payment.CustomerRef = _ref(customer_id)
    payment.TotalAmt = Decimal(0)
    for txn_id, txn_type, amount in links:
        line = PaymentLine()
        line.Amount = Decimal(amount)
        link = LinkedTxn()
        link.TxnId, link.TxnType = txn_id, txn_type
        line.LinkedTxn.append(link)
        payment.Line.append(line)
    return payment.save(qb=co.qb)


def test_refund_receipt_create_read_query_and_required_bank_account(co: Company) -> None:
    customer, item = co.customer("Refunded Ltd"), co.item("Refunded service", "100")
    saved = _refund(co, customer["Id"], item["Id"], "30.00", "Refund: damaged goods")
    assert saved.Id and saved.SyncToken == "0"
    assert saved.TotalAmt == Decimal("30.00") and saved.Balance == 0
    assert saved.DepositToAccountRef.value == _bank(co)
    fetched = RefundReceipt.get(saved.Id, qb=co.qb)
    assert fetched.PrivateNote == "Refund: damaged goods"
    assert fetched.CustomerRef.value == customer["Id"]
    assert fetched.DocNumber == saved.DocNumber
    found = RefundReceipt.filter(CustomerRef=customer["Id"], qb=co.qb)
    assert [r.Id for r in found] == [saved.Id]
    assert found[0].TotalAmt == Decimal("30.00")
    no_bank = RefundReceipt()
    no_bank.CustomerRef = _ref(customer["Id"])
    no_bank.Line.append(_line(item["Id"], "5"))
    with pytest.raises(QuickbooksException):
        no_bank.save(qb=co.qb)
    assert len(RefundReceipt.all(qb=co.qb)) == 1


def test_refund_receipt_void_and_delete(co: Company) -> None:
    customer, item = co.customer("Void Refund Co"), co.item("VR", "50")
    kept = _refund(co, customer["Id"], item["Id"], "50.00", "to void")
    response = co.http.post(
        "/refundreceipt",
        params={"operation": "void"},
        json={"Id": kept.Id, "SyncToken": kept.SyncToken},
    )
    assert response.status_code == 200, response.text
    voided = RefundReceipt.get(kept.Id, qb=co.qb)
    assert voided.TotalAmt == 0 and voided.PrivateNote.startswith("Voided")
    assert voided.SyncToken == "1"
    gone = _refund(co, customer["Id"], item["Id"], "20.00", "to delete")
    result = gone.delete(qb=co.qb)
    assert result["RefundReceipt"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        RefundReceipt.get(gone.Id, qb=co.qb)


def test_credit_memo_applied_to_invoice_lowers_its_balance(co: Company) -> None:
    customer, item = co.customer("Credited Inc"), co.item("Credited service", "100")
    invoice = Invoice()
    invoice.CustomerRef = _ref(customer["Id"])
    invoice.Line.append(_line(item["Id"], "100"))
    invoice = invoice.save(qb=co.qb)
    memo = _credit_memo(co, customer["Id"], item["Id"], "40")
    assert memo.TotalAmt == Decimal("40.00") and memo.RemainingCredit == Decimal("40.00")
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("60.00")
    applied = _apply(
        co, customer["Id"], [(invoice.Id, "Invoice", "25"), (memo.Id, "CreditMemo", "25")]
    )
    assert applied.TotalAmt == 0
    assert Invoice.get(invoice.Id, qb=co.qb).Balance == Decimal("75.00")
    after = CreditMemo.get(memo.Id, qb=co.qb)
    assert after.RemainingCredit == Decimal("15.00")
    # python-quickbooks leaves a credit memo's LinkedTxn as plain dicts
    assert [(x["TxnId"], x["TxnType"]) for x in after.LinkedTxn] == [(applied.Id, "Payment")]
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("60.00")
    found = CreditMemo.filter(CustomerRef=customer["Id"], qb=co.qb)
    assert [(m.Id, m.TotalAmt) for m in found] == [(memo.Id, Decimal("40.00"))]
    with pytest.raises(QuickbooksException):
        # more than the memo has left
        _apply(co, customer["Id"], [(invoice.Id, "Invoice", "20"), (memo.Id, "CreditMemo", "20")])
    applied.delete(qb=co.qb)
    assert Invoice.get(invoice.Id, qb=co.qb).Balance == Decimal("100.00")
    assert CreditMemo.get(memo.Id, qb=co.qb).RemainingCredit == Decimal("40.00")


def test_credit_memo_void_and_delete(co: Company) -> None:
    customer, item = co.customer("Memo Voider"), co.item("MV", "10")
    memo = _credit_memo(co, customer["Id"], item["Id"], "10")
    response = co.http.post(
        "/creditmemo",
        params={"operation": "void"},
        json={"Id": memo.Id, "SyncToken": memo.SyncToken},
    )
    assert response.status_code == 200, response.text
    voided = CreditMemo.get(memo.Id, qb=co.qb)
    assert voided.TotalAmt == 0 and voided.RemainingCredit == 0
    assert Customer.get(customer["Id"], qb=co.qb).Balance == 0
    other = _credit_memo(co, customer["Id"], item["Id"], "10")
    assert other.delete(qb=co.qb)["CreditMemo"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        CreditMemo.get(other.Id, qb=co.qb)


def test_cdc_returns_refund_receipts_and_credit_memos(co: Company) -> None:
    since = co.state.clock() - dt.timedelta(minutes=1)
    customer, item = co.customer("CDC Refunds"), co.item("CDC R", "10")
    refund = _refund(co, customer["Id"], item["Id"], "10", "cdc")
    memo = _credit_memo(co, customer["Id"], item["Id"], "7")
    gone = _credit_memo(co, customer["Id"], item["Id"], "3")
    gone.delete(qb=co.qb)
    local_since = since.astimezone(co.state.tz).replace(tzinfo=None)
    result = change_data_capture([RefundReceipt, CreditMemo], local_since, qb=co.qb)
    assert [(r.Id, r.TotalAmt) for r in result.RefundReceipt] == [(refund.Id, Decimal("10.00"))]
    memos = {m.Id: m for m in result.CreditMemo}
    assert memos[memo.Id].TotalAmt == Decimal("7.00")
    assert memos[gone.Id].status == "Deleted"
