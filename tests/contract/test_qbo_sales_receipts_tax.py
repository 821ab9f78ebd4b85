"""SalesReceipt, TaxCode and TaxRate driven with python-quickbooks: the entities a payment not
tied to an invoice and a tax-code company need, read back the way the SDK parses them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.salesreceipt import SalesReceipt
from quickbooks.objects.tax import TxnTaxDetail
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.taxrate import TaxRate


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


def _receipt(customer_id: str, item_id: str, qty: str, price: str) -> SalesReceipt:
    receipt = SalesReceipt()
    receipt.CustomerRef = _ref(customer_id)
    line = SalesItemLine()
    line.Amount = Decimal(qty) * Decimal(price)
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = _ref(item_id)
    line.SalesItemLineDetail.Qty = Decimal(qty)
    line.SalesItemLineDetail.UnitPrice = Decimal(price)
    receipt.Line.append(line)
    return receipt


def _account(co: Company, sub_type: str) -> str:
    rows = co.qb.query(f"SELECT * FROM Account WHERE AccountSubType = '{sub_type}'")
    return str(rows["QueryResponse"]["Account"][0]["Id"])


def _method(co: Company, name: str) -> str:
    rows = co.qb.query(f"SELECT * FROM PaymentMethod WHERE Name = '{name}'")
    return str(rows["QueryResponse"]["PaymentMethod"][0]["Id"])


def test_tax_code_lists_its_rate_and_the_rate_reads_back(co: Company) -> None:
    codes = TaxCode.all(qb=co.qb)
    assert len(codes) == 1
    code = TaxCode.get(codes[0].Id, qb=co.qb)
    assert code.Name == "Sales tax" and code.Taxable is True and code.Active is True
    details = code.SalesTaxRateList.TaxRateDetail
    assert len(details) == 1 and details[0].TaxTypeApplicable == "TaxOnAmount"
    rate = TaxRate.get(details[0].TaxRateRef.value, qb=co.qb)
    assert rate.Name == "State sales tax" and Decimal(str(rate.RateValue)) == Decimal("8")
    assert [r.Id for r in TaxRate.all(qb=co.qb)] == [rate.Id]
    assert TaxCode.filter(Name="Sales tax", qb=co.qb)[0].Id == code.Id


def test_tax_codes_and_rates_are_read_only_through_the_api(co: Company) -> None:
    """QBO creates tax codes only through its TaxService; a plain POST to /taxcode is refused."""
    code = TaxCode.all(qb=co.qb)[0]
    response = co.http.post("/taxcode", json={"Name": "Made up", "Taxable": True})
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    assert TaxCode.all(qb=co.qb)[0].Id == code.Id and len(TaxCode.all(qb=co.qb)) == 1


def test_sales_receipt_with_deposit_account_method_and_reference(co: Company) -> None:
    customer = co.customer("Walk-in Buyer")
    item = co.item("Workshop seat", "120")
    receipt = _receipt(customer["Id"], item["Id"], "2", "120")
    receipt.DepositToAccountRef = _ref(_account(co, "Checking"))
    receipt.PaymentMethodRef = _ref(_method(co, "Visa"))
    receipt.PaymentRefNum = "pl_7731"
    receipt.TxnDate = "2026-11-30"
    receipt.PrivateNote = "HubSpot payment 7731"
    saved = receipt.save(qb=co.qb)
    assert saved.Id and saved.SyncToken == "0" and saved.DocNumber
    assert saved.TotalAmt == Decimal("240.00") and saved.Balance == 0
    assert saved.TxnDate == "2026-11-30" and saved.PaymentRefNum == "pl_7731"
    assert saved.DepositToAccountRef.value == _account(co, "Checking")
    assert saved.PaymentMethodRef.value == _method(co, "Visa")
    assert saved.CustomerRef.value == customer["Id"]
    fetched = SalesReceipt.get(saved.Id, qb=co.qb)
    assert fetched.TotalAmt == Decimal("240.00") and fetched.PrivateNote == "HubSpot payment 7731"
    # a sales receipt is paid on the spot: nothing reaches the customer's open balance
    assert Customer.get(customer["Id"], qb=co.qb).Balance == 0
    found = SalesReceipt.query(
        f"SELECT * FROM SalesReceipt WHERE CustomerRef = '{customer['Id']}'", qb=co.qb
    )
    assert [r.Id for r in found] == [saved.Id]


def test_sales_receipt_defaults_to_undeposited_funds(co: Company) -> None:
    customer, item = co.customer("Link Payer"), co.item("Donation", "50")
    saved = _receipt(customer["Id"], item["Id"], "1", "50").save(qb=co.qb)
    assert saved.DepositToAccountRef.value == _account(co, "UndepositedFunds")


def test_sales_receipt_with_tax_code_computes_total_tax(co: Company) -> None:
    customer = co.customer("Taxed Walk-in")
    item = co.item("Taxed thing", "100", Taxable=True)
    receipt = _receipt(customer["Id"], item["Id"], "3", "33.33")
    receipt.TxnTaxDetail = TxnTaxDetail()
    receipt.TxnTaxDetail.TxnTaxCodeRef = _ref(TaxCode.all(qb=co.qb)[0].Id)
    saved = receipt.save(qb=co.qb)
    stored = co.get("SalesReceipt", saved.Id)
    assert stored is not None
    assert stored["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "TAX"
    # 8 % of 99.99 = 7.9992, rounded half up to the cent as QBO does
    assert saved.TxnTaxDetail.TotalTax == Decimal("8.00")
    assert len(saved.TxnTaxDetail.TaxLine) == 1
    assert saved.TotalAmt == Decimal("107.99")
    assert [line.DetailType for line in saved.Line] == [
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]  # tax lives in TxnTaxDetail, never as a sales line


def test_sales_receipt_delete_and_unknown_property(co: Company) -> None:
    customer, item = co.customer("Deleted Receipt Co"), co.item("Gone", "10")
    saved = _receipt(customer["Id"], item["Id"], "1", "10").save(qb=co.qb)
    saved.delete(qb=co.qb)
    with pytest.raises(ObjectNotFoundException):
        SalesReceipt.get(saved.Id, qb=co.qb)
    response = co.http.post(
        "/salesreceipt",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
            "ExpirationDate": "2026-12-01",
        },
    )
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "2010"
    with pytest.raises(QuickbooksException):
        bad = _receipt(customer["Id"], item["Id"], "1", "10")
        bad.DepositToAccountRef = _ref("99999")
        bad.save(qb=co.qb)
