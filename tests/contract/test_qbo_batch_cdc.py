"""Batch, change data capture and requestid replay, with python-quickbooks where it has helpers
(batch_create/batch_delete, change_data_capture, save(request_id=...))."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.batch import batch_create, batch_delete
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _invoice_body(customer_id: str, item_id: str, amount: int = 10) -> dict:
    return {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
            }
        ],
    }


def test_batch_of_30_with_per_item_faults(co: Company) -> None:
    customers = []
    for n in range(30):
        customer = Customer()
        customer.DisplayName = f"Batch {n}" if n != 7 else "Batch 3"  # item 7 collides with item 3
        customers.append(customer)
    result = batch_create(customers, qb=co.qb)
    assert len(result.successes) == 29 and len(result.faults) == 1
    assert result.faults[0].Error[0].code == "6240"
    assert Customer.count(qb=co.qb) == 29
    cleanup = batch_delete(result.successes[:2], qb=co.qb)  # names cannot be deleted
    assert len(cleanup.faults) == 2


def test_batch_limits_and_mixed_items(co: Company) -> None:
    too_many = co.http.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {"bId": str(n), "Query": "select * from Customer"} for n in range(31)
            ]
        },
    )
    assert too_many.status_code == 400 and too_many.json()["Fault"]["Error"][0]["code"] == "1040"
    customer, item = co.customer("Mixed"), co.item("Mix", "300")
    invoice = co.create("Invoice", _invoice_body(customer["Id"], item["Id"], 350))
    response = co.http.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {
                    "bId": "bid1",
                    "operation": "create",
                    "Vendor": {"DisplayName": "Boraski Family Store"},
                },
                {"bId": "bid2", "operation": "delete", "Invoice": {"Id": "129", "SyncToken": "0"}},
                {
                    "bId": "bid3",
                    "operation": "update",
                    "Invoice": {
                        "sparse": True,
                        "Id": invoice["Id"],
                        "SyncToken": "9",
                        "PrivateNote": "x",
                    },
                },
                {"bId": "bid4", "Query": "select * from Invoice where TotalAmt > '300.00'"},
                {
                    "bId": "bid5",
                    "operation": "create",
                    "Customer": {"DisplayName": "Batch Child", "ParentRef": {"value": "1"}},
                },
            ]
        },
    )
    assert response.status_code == 200
    items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
    assert items["bid1"]["Vendor"]["DisplayName"] == "Boraski Family Store"
    assert items["bid2"]["Fault"]["Error"][0]["code"] == "610"
    assert items["bid3"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["bid4"]["QueryResponse"]["Invoice"][0]["Id"] == invoice["Id"]
    assert items["bid5"]["Customer"]["FullyQualifiedName"] == "Mixed:Batch Child"


def test_batch_items_do_not_see_objects_created_earlier_in_the_batch(co: Company) -> None:
    response = co.http.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Fresh"}},
                {"bId": "b", "Query": "select * from Customer where DisplayName = 'Fresh'"},
            ]
        },
    ).json()["BatchItemResponse"]
    assert "Customer" in response[0] and response[1]["QueryResponse"] == {}
    assert Customer.filter(DisplayName="Fresh", qb=co.qb)  # visible once the batch is done


def test_batch_void_payment_with_options_data(co: Company) -> None:
    customer, item = co.customer("Batch payer"), co.item("BP", "20")
    invoice = co.create("Invoice", _invoice_body(customer["Id"], item["Id"], 20))
    payment = co.create(
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": Decimal("20"),
            "Line": [
                {
                    "Amount": Decimal("20"),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )
    assert co.get("Invoice", invoice["Id"])["Balance"] == 0
    response = co.http.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {
                    "bId": "v",
                    "operation": "update",
                    "optionsData": "void",
                    "Payment": {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
                }
            ]
        },
    ).json()
    assert response["BatchItemResponse"][0]["Payment"]["TotalAmt"] == 0
    assert co.get("Invoice", invoice["Id"])["Balance"] == Decimal("20.00")


def test_cdc_returns_changes_and_deleted_stubs(co: Company) -> None:
    since = co.state.clock() - dt.timedelta(minutes=1)
    customer, item = co.customer("CDC Customer"), co.item("CDC Item", "5")
    kept = co.create("Invoice", _invoice_body(customer["Id"], item["Id"]))
    gone = co.create("Invoice", _invoice_body(customer["Id"], item["Id"]))
    co.http.post(
        "/invoice", params={"operation": "delete"}, json={"Id": gone["Id"], "SyncToken": "0"}
    )
    # python-quickbooks formats changedSince without an offset: QBO reads it as company time
    local_since = since.astimezone(co.state.tz).replace(tzinfo=None)
    result = change_data_capture([Invoice, Payment, Customer], local_since, qb=co.qb)
    invoices = {i.Id: i for i in result.Invoice}
    assert invoices[kept["Id"]].TotalAmt == Decimal("10.00")
    assert invoices[gone["Id"]].status == "Deleted"
    assert [c.DisplayName for c in result.Customer] == ["CDC Customer"]
    assert not hasattr(result, "Payment")  # no change: an empty QueryResponse
    raw = co.http.get(
        "/cdc", params={"entities": "Invoice,Payment", "changedSince": since.isoformat()}
    ).json()
    assert raw["CDCResponse"][0]["QueryResponse"][1] == {}
    stub = next(
        i for i in raw["CDCResponse"][0]["QueryResponse"][0]["Invoice"] if i["Id"] == gone["Id"]
    )
    assert set(stub) == {"domain", "status", "Id", "MetaData"}
    later = co.http.get("/cdc", params={"entities": "Invoice", "changedSince": raw["time"]}).json()
    assert later["CDCResponse"][0]["QueryResponse"] == [{}]


def test_cdc_window_and_cap(co: Company) -> None:
    old = (co.state.clock() - dt.timedelta(days=31)).isoformat()
    refused = co.http.get("/cdc", params={"entities": "Customer", "changedSince": old})
    assert (
        refused.status_code == 400
        and "older than fixed days" in refused.json()["Fault"]["Error"][0]["Detail"]
    )
    since = co.state.clock() - dt.timedelta(seconds=1)
    for n in range(1005):
        co.customer(f"Cap {n}")
    response = co.http.get(
        "/cdc", params={"entities": "Customer", "changedSince": since.isoformat()}
    ).json()
    customers = response["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert len(customers) == 1000 and customers[0]["DisplayName"] == "Cap 0"  # the oldest first
    with pytest.raises(QuickbooksException):
        co.qb.change_data_capture("TaxCode", since.isoformat())


def test_request_id_replays_the_first_response(co: Company) -> None:
    customer, item = co.customer("Idempotent"), co.item("I", "10")
    invoice = Invoice.from_json(_invoice_body(customer["Id"], item["Id"]))
    first = invoice.save(qb=co.qb, request_id="hs-inv-42-gen-1")
    invoice.Id = None
    again = invoice.save(qb=co.qb, request_id="hs-inv-42-gen-1")
    assert again.Id == first.Id and again.DocNumber == first.DocNumber
    assert Invoice.count(qb=co.qb) == 1
    different = co.http.post(
        "/invoice",
        params={"requestid": "hs-inv-42-gen-1"},
        json=_invoice_body(customer["Id"], item["Id"], 99),
    )
    assert different.json()["Fault"]["Error"][0]["code"] == "600"
    failing = co.http.post("/invoice", params={"requestid": "bad-1"}, json={"Nope": 1})
    replayed = co.http.post("/invoice", params={"requestid": "bad-1"}, json={"Nope": 1})
    assert failing.status_code == replayed.status_code == 400 and failing.json() == replayed.json()
    assert (
        co.http.post(
            "/invoice",
            params={"requestid": "x" * 51},
            json=_invoice_body(customer["Id"], item["Id"]),
        ).json()["Fault"]["Error"][0]["code"]
        == "2050"
    )
