"""Create, read, full and sparse update, SyncToken, name rules and error codes, driven with
python-quickbooks (and raw HTTP where python-quickbooks cannot express the request)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.exceptions import (
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.account import Account
from quickbooks.objects.base import EmailAddress, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.employee import Employee
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.purchase import Purchase
from quickbooks.objects.vendor import Vendor


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _customer(name: str, email: str | None = None) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    if email:
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = email
    return customer


def test_new_company_has_chart_of_accounts_tax_code_and_preferences(co: Company) -> None:
    accounts = {a.AccountSubType: a for a in Account.all(qb=co.qb, max_results=1000)}
    for sub_type in (
        "ServiceFeeIncome",
        "AccountsReceivable",
        "UndepositedFunds",
        "Checking",
        "BankCharges",
    ):
        assert sub_type in accounts
    prefs = co.qb.get_single_object("Preferences", "")["Preferences"]
    assert prefs["CurrencyPrefs"] == {
        "MultiCurrencyEnabled": False,
        "HomeCurrency": {"value": "USD"},
    }
    labels = [
        f["StringValue"]
        for group in prefs["SalesFormsPrefs"]["CustomField"]
        for f in group["CustomField"]
        if f["Type"] == "StringType"
    ]
    assert labels == ["PO Number", "Sales Rep", "Project"]
    info = co.qb.get_single_object("CompanyInfo", co.realm)["CompanyInfo"]
    assert info["Country"] == "US" and info["CompanyName"]
    codes = co.qb.query("SELECT * FROM TaxCode")["QueryResponse"]["TaxCode"]
    assert codes and codes[0]["Active"] is True


def test_create_read_full_update_with_python_quickbooks_defaults(co: Company) -> None:
    saved = _customer("Amy's Bird Sanctuary", "birds@example.com").save(qb=co.qb)
    assert saved.SyncToken == "0" and saved.Id
    assert saved.Taxable is True and saved.FullyQualifiedName == "Amy's Bird Sanctuary"
    assert saved.CurrencyRef.value == "USD"
    fetched = Customer.get(saved.Id, qb=co.qb)
    fetched.CompanyName = "Amy's Birds LLC"
    updated = fetched.save(qb=co.qb)  # a full update carrying every python-quickbooks default
    assert updated.SyncToken == "1"
    assert updated.CompanyName == "Amy's Birds LLC"
    assert updated.PrimaryEmailAddr.Address == "birds@example.com"
    # a full update clears what it leaves out
    raw = co.http.post(
        "/customer", json={"Id": saved.Id, "SyncToken": "1", "DisplayName": "Amy's Bird Sanctuary"}
    )
    assert raw.status_code == 200
    assert (
        "PrimaryEmailAddr" not in raw.json()["Customer"]
        and raw.json()["Customer"]["SyncToken"] == "2"
    )


def test_sparse_update_changes_only_what_is_sent(co: Company) -> None:
    saved = _customer("Sparse Co", "a@sparse.example").save(qb=co.qb)
    patch = Customer()
    patch.Id, patch.SyncToken, patch.sparse = saved.Id, saved.SyncToken, True
    response = co.http.post(
        "/customer", json={"Id": saved.Id, "SyncToken": "0", "sparse": True, "Notes": "VIP"}
    ).json()["Customer"]
    assert (
        response["Notes"] == "VIP" and response["PrimaryEmailAddr"]["Address"] == "a@sparse.example"
    )
    assert response["SyncToken"] == "1"
    unchanged = co.http.post(
        "/customer", json={"Id": saved.Id, "SyncToken": "1", "sparse": True, "Notes": "VIP"}
    ).json()["Customer"]
    assert unchanged["SyncToken"] == "1"  # nothing changed: no new version


def test_stale_synctoken_is_5010_and_missing_is_2020(co: Company) -> None:
    saved = _customer("Stale Co").save(qb=co.qb)
    first = Customer.get(saved.Id, qb=co.qb)
    second = Customer.get(saved.Id, qb=co.qb)
    first.Notes = "one"
    first.save(qb=co.qb)
    second.Notes = "two"
    with pytest.raises(QuickbooksException) as stale:
        second.save(qb=co.qb)
    assert stale.value.error_code == 5010 and stale.value.message == "Stale Object Error"
    missing = co.http.post("/customer", json={"Id": saved.Id, "sparse": True, "Notes": "x"})
    assert missing.status_code == 400
    assert missing.json()["Fault"]["Error"][0]["code"] == "2020"


def test_display_name_unique_across_customers_vendors_employees_even_inactive(co: Company) -> None:
    vendor = Vendor()
    vendor.DisplayName = "Robertson & Associates"
    vendor = vendor.save(qb=co.qb)
    with pytest.raises(QuickbooksException) as dup:
        _customer("robertson & associates").save(qb=co.qb)
    assert dup.value.error_code == 6240
    employee = Employee()
    employee.GivenName, employee.FamilyName = "Emily", "Platt"
    employee = employee.save(qb=co.qb)
    assert employee.DisplayName == "Emily Platt" and employee.PrintOnCheckName == "Emily Platt"
    employee.Active = False
    inactive = employee.save(qb=co.qb)
    assert inactive.Active is False and inactive.DisplayName == "Emily Platt (deleted)"
    with pytest.raises(QuickbooksException) as held:
        _customer("Emily Platt").save(qb=co.qb)
    assert held.value.error_code == 6240
    inactive.Active = True
    assert inactive.save(qb=co.qb).DisplayName == "Emily Platt"


def test_customer_with_open_balance_cannot_be_deactivated(co: Company) -> None:
    customer = co.customer("Owes Money")
    item = co.item("Hour", "50")
    co.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": Decimal("50"),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    fresh = Customer.get(customer["Id"], qb=co.qb)
    assert fresh.Balance == Decimal("50.00")
    fresh.Active = False
    with pytest.raises(QuickbooksException) as blocked:
        fresh.save(qb=co.qb)
    assert blocked.value.error_code == 6000 and "non-zero balance" in blocked.value.detail


def test_names_are_not_deleted(co: Company) -> None:
    saved = _customer("Undeletable").save(qb=co.qb)
    response = co.http.post(
        "/customer",
        params={"operation": "delete"},
        json={"Id": saved.Id, "SyncToken": saved.SyncToken},
    )
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "500"


def test_items_need_income_account_and_unique_names(co: Company) -> None:
    item = Item()
    item.Name, item.Type, item.UnitPrice, item.Sku = (
        "Consulting hour",
        "Service",
        Decimal("150"),
        "CONS-HR",
    )
    with pytest.raises(ValidationException) as missing:
        item.save(qb=co.qb)
    assert missing.value.error_code == 2020
    item.IncomeAccountRef = Ref()
    item.IncomeAccountRef.value = "1"
    saved = item.save(qb=co.qb)
    assert saved.Sku == "CONS-HR" and saved.IncomeAccountRef.name == "Services"
    found = Item.query("SELECT *, Sku FROM Item WHERE Sku = 'CONS-HR'", qb=co.qb)
    assert [i.Id for i in found] == [saved.Id]
    again = Item()
    again.Name, again.Type, again.IncomeAccountRef = (
        "CONSULTING HOUR",
        "Service",
        item.IncomeAccountRef,
    )
    with pytest.raises(QuickbooksException) as dup:
        again.save(qb=co.qb)
    assert dup.value.error_code == 6240


def test_unknown_property_is_2010_at_any_depth(co: Company) -> None:
    top = co.http.post("/invoice", json={"BadJson": True})
    assert top.status_code == 400
    error = top.json()["Fault"]["Error"][0]
    assert error["code"] == "2010" and "BadJson" in error["Detail"]
    assert top.json()["Fault"]["type"] == "ValidationFault"
    nested = co.http.post(
        "/invoice",
        json={
            "CustomerRef": {"value": "1"},
            "Line": [
                {
                    "Amount": 1,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Colour": "red"},
                }
            ],
        },
    )
    assert nested.json()["Fault"]["Error"][0]["code"] == "2010"
    assert "SalesItemLineDetail" in nested.json()["Fault"]["Error"][0]["Detail"]


def test_required_fields_and_bad_references(co: Company) -> None:
    item = co.item("Widget")
    invoice = Invoice()
    with pytest.raises(ValidationException) as no_customer:
        invoice.save(qb=co.qb)
    assert no_customer.value.error_code == 2020
    body = {
        "CustomerRef": {"value": "999"},
        "Line": [
            {
                "Amount": 10,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    bad_customer = co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]
    assert bad_customer["code"] == "2500" and bad_customer["element"] == "CustomerRef"
    customer = co.customer("Ref Checks")
    body["CustomerRef"] = {"value": customer["Id"]}
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "4242"}
    assert co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]["code"] == "2500"
    co.state.update_entity(
        co.realm, "Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False}
    )
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": item["Id"]}
    inactive = co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]
    assert inactive["code"] == "610" and "inactive" in inactive["Detail"]
    body["Line"][0].pop("DetailType")
    assert co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]["code"] == "2020"


def test_read_missing_is_610_and_bad_ids_are_2030(co: Company) -> None:
    with pytest.raises(ObjectNotFoundException) as missing:
        Customer.get("987654", qb=co.qb)
    assert missing.value.error_code == 610
    with pytest.raises(ValidationException) as bad:
        Customer.get("1.5", qb=co.qb)
    assert bad.value.error_code == 2030
    odd = co.http.get("/customer/1/5")
    assert (
        odd.status_code == 400
        and odd.json()["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    )


def test_foreign_currency_refused_until_multicurrency_is_on(co: Company, served: Served) -> None:
    euro = _customer("Euro Client")
    euro.CurrencyRef = Ref()
    euro.CurrencyRef.value = "EUR"
    with pytest.raises(QuickbooksException) as refused:
        euro.save(qb=co.qb)
    assert refused.value.error_code == 6000 and "Multicurrency" in refused.value.detail
    item = co.item("Export service")
    usd_customer = co.customer("Dollar Client")
    body = {
        "CustomerRef": {"value": usd_customer["Id"]},
        "CurrencyRef": {"value": "EUR"},
        "Line": [
            {
                "Amount": 10,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    assert co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]["code"] == "6000"
    import httpx

    flipped = httpx.put(
        f"{served.base_url}/_sandbox/preferences",
        json={"realmId": co.realm, "MultiCurrencyEnabled": True},
    )
    assert flipped.json()["Preferences"]["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    saved = euro.save(qb=co.qb)
    body["CustomerRef"] = {"value": saved.Id}
    invoice = co.http.post("/invoice", json=body).json()["Invoice"]
    assert invoice["CurrencyRef"]["value"] == "EUR"
    assert Decimal(str(invoice["HomeTotalAmt"])) == Decimal(str(invoice["TotalAmt"])) * Decimal(
        str(invoice["ExchangeRate"])
    )
    body["CustomerRef"] = {"value": usd_customer["Id"]}
    mismatch = co.http.post("/invoice", json=body).json()["Fault"]["Error"][0]
    assert mismatch["code"] == "6000" and "customer's currency" in mismatch["Detail"]


def test_purchase_needs_payment_type_and_account_even_sparse(co: Company) -> None:
    expense = Purchase()
    expense.PaymentType = "Cash"
    expense.AccountRef = Ref()
    expense.AccountRef.value = "6"
    from quickbooks.objects.detailline import AccountBasedExpenseLine, AccountBasedExpenseLineDetail

    line = AccountBasedExpenseLine()
    line.Amount = Decimal("2.95")
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = Ref()
    line.AccountBasedExpenseLineDetail.AccountRef.value = "13"
    expense.Line.append(line)
    saved = expense.save(qb=co.qb)
    assert saved.TotalAmt == Decimal("2.95")
    sparse = co.http.post(
        "/purchase",
        json={"Id": saved.Id, "SyncToken": saved.SyncToken, "sparse": True, "PrivateNote": "fee"},
    )
    assert sparse.json()["Fault"]["Error"][0]["code"] == "2020"


def test_preferences_and_company_info_through_python_quickbooks(co: Company) -> None:
    from quickbooks.objects.company_info import CompanyInfo
    from quickbooks.objects.preferences import Preferences

    info = CompanyInfo.get(co.realm, qb=co.qb)
    assert info.Id == "1" and info.CompanyName.startswith("Sandbox Company")
    prefs = Preferences.get(qb=co.qb)
    groups = prefs.SalesFormsPrefs.CustomField  # python-quickbooks keeps these groups as dicts
    label = next(
        f
        for g in groups
        for f in g["CustomField"]
        if f["Name"] == "SalesFormsPrefs.SalesCustomName2"
    )
    label["StringValue"] = "Account Manager"
    prefs.CurrencyPrefs.MultiCurrencyEnabled = True  # only QBO's UI can do this: ignored
    saved = prefs.save(qb=co.qb)
    assert saved.SyncToken == "1"
    assert saved.CurrencyPrefs.MultiCurrencyEnabled is False
    customer, item = co.customer("Labels"), co.item("Label item")
    invoice = co.create(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 5,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                }
            ],
        },
    )
    assert [f["Name"] for f in invoice["CustomField"]] == [
        "PO Number",
        "Account Manager",
        "Project",
    ]
