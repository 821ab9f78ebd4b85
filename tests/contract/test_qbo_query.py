"""The query language through python-quickbooks (which POSTs queries as application/text) and
through GET ?query= (as other clients send it)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.exceptions import ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture(scope="module")
def co(served: Served) -> Company:
    """One company with 1,205 customers (to page past the 1,000 cap), a few inactive, and
    invoices of different amounts."""
    company = served.company()
    for n in range(1, 1201):
        company.customer(f"Customer {n:04d}", PrimaryEmailAddr={"Address": f"c{n}@example.com"})
    company.customer("Amy's Bird Sanctuary")
    company.customer("Robertson & Associates")
    for name in ("Gone One", "Gone Two", "Gone Three"):
        created = company.customer(name)
        company.state.update_entity(
            company.realm,
            "Customer",
            {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Active": False},
        )
    item = company.item("Hour", "10")
    for n, amount in enumerate(("100", "250.50", "300", "301", "999.99"), start=1):
        company.create(
            "Invoice",
            {
                "CustomerRef": {"value": str(n)},
                "Line": [
                    {
                        "Amount": Decimal(amount),
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
                    }
                ],
            },
        )
    return company


def test_count_and_active_filtering(co: Company) -> None:
    assert Customer.count(qb=co.qb) == 1202
    assert Customer.count("Active = false", qb=co.qb) == 3
    assert Customer.count("Active IN (true, false)", qb=co.qb) == 1205
    inactive = Customer.filter(Active=False, qb=co.qb)  # python-quickbooks sends Active = 'False'
    assert sorted(c.DisplayName for c in inactive) == [
        "Gone One (deleted)",
        "Gone Three (deleted)",
        "Gone Two (deleted)",
    ]


def test_paging_past_the_cap(co: Company) -> None:
    first = co.qb.query("SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 5000")["QueryResponse"]
    assert (
        first["maxResults"] == 1000
        and len(first["Customer"]) == 1000
        and first["startPosition"] == 1
    )
    second = co.qb.query("select * from Customer startposition 1001 maxresults 1000")[
        "QueryResponse"
    ]
    assert second["maxResults"] == 202
    ids = [c["Id"] for c in first["Customer"] + second["Customer"]]
    assert len(set(ids)) == 1202
    assert co.qb.query("SELECT * FROM Customer STARTPOSITION 5000")["QueryResponse"] == {}
    default = co.qb.query("SELECT * FROM Customer")["QueryResponse"]
    assert default["maxResults"] == 100
    # names come back in name order (Amy's Bird Sanctuary first); MAXRESULTS may come first
    swapped = co.http.get(
        "/query", params={"query": "SELECT * FROM Customer MAXRESULTS 2 STARTPOSITION 3"}
    )
    assert [c["DisplayName"] for c in swapped.json()["QueryResponse"]["Customer"]] == [
        "Customer 0002",
        "Customer 0003",
    ]


def test_where_operators_and_escapes(co: Company) -> None:
    amy = Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=co.qb)
    assert [c.DisplayName for c in amy] == ["Amy's Bird Sanctuary"]
    raw = co.http.get(
        "/query",
        params={"query": "SELECT * FROM Customer WHERE DisplayName = 'Robertson & Associates'"},
    )
    assert raw.json()["QueryResponse"]["maxResults"] == 1
    like = Customer.where("DisplayName LIKE 'Customer 119%'", qb=co.qb)
    assert len(like) == 10
    chosen = Customer.choose(["3", "5", "7"], qb=co.qb)
    assert sorted(c.Id for c in chosen) == ["3", "5", "7"]
    by_email = Customer.where("PrimaryEmailAddr = 'c42@example.com'", qb=co.qb)
    assert [c.DisplayName for c in by_email] == ["Customer 0042"]
    big = Invoice.where("TotalAmt > '300.00' AND TotalAmt <= '999.99'", qb=co.qb)
    assert sorted(i.TotalAmt for i in big) == [Decimal("301.00"), Decimal("999.99")]
    assert Invoice.count("CustomerRef = '2'", qb=co.qb) == 1
    recent = Invoice.where("MetaData.LastUpdatedTime > '2000-01-01T00:00:00-08:00'", qb=co.qb)
    assert len(recent) == 5


def test_order_by_both_spellings(co: Company) -> None:
    desc = Invoice.where("", order_by="TotalAmt DESC", qb=co.qb)  # ORDERBY
    assert [i.TotalAmt for i in desc][:2] == [Decimal("999.99"), Decimal("301.00")]
    asc = co.qb.query("SELECT * FROM Invoice ORDER BY TotalAmt ASC MAXRESULTS 2")["QueryResponse"][
        "Invoice"
    ]
    assert [Decimal(str(i["TotalAmt"])) for i in asc] == [Decimal("100.00"), Decimal("250.50")]
    names = Customer.all(order_by="DisplayName DESC", max_results=1, qb=co.qb)
    assert names[0].DisplayName == "Robertson & Associates"


def test_unsupported_grammar_and_unknown_names_are_faults(co: Company) -> None:
    with pytest.raises(ValidationException) as or_query:
        co.qb.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'")
    assert or_query.value.error_code == 4000
    with pytest.raises(ValidationException) as entity:
        co.qb.query("SELECT * FROM Custmoer")
    assert entity.value.error_code == 4001 and "Custmoer" in entity.value.detail
    with pytest.raises(ValidationException) as field:
        co.qb.query("SELECT * FROM Customer WHERE ShoeSize = '9'")
    assert field.value.error_code == 4001


def test_projection_and_company_singletons(co: Company) -> None:
    rows = co.qb.query("SELECT Id, DisplayName FROM Customer MAXRESULTS 1")["QueryResponse"][
        "Customer"
    ]
    assert set(rows[0]) <= {"Id", "DisplayName", "domain", "sparse"}
    info = co.qb.query("select * from CompanyInfo")["QueryResponse"]["CompanyInfo"]
    assert len(info) == 1
