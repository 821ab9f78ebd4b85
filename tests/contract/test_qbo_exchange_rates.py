"""ExchangeRate and a customer's CurrencyRef, driven with python-quickbooks over a real socket:
rates read as of a date (the company's own, else the feed), set without an Id, queried, used
by a transaction that gives no rate; a customer's currency is fixed once set."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from qbo_harness import Company, Served, serve
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import EmailAddress, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.exchangerate import ExchangeRate


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _multicurrency(served: Served, co: Company) -> None:
    flipped = httpx.put(
        f"{served.base_url}/_sandbox/preferences",
        json={"realmId": co.realm, "MultiCurrencyEnabled": True},
    )
    assert flipped.status_code == 200, flipped.text


def _rate(code: str, rate: str, as_of: str) -> ExchangeRate:
    fx = ExchangeRate()
    fx.SourceCurrencyCode = code
    fx.Rate = Decimal(rate)
    fx.AsOfDate = as_of
    return fx


def test_exchange_rates_need_multicurrency(co: Company) -> None:
    with pytest.raises(QuickbooksException) as refused:
        ExchangeRate.where("SourceCurrencyCode = 'EUR'", qb=co.qb)
    assert refused.value.error_code == 6000 and "Multicurrency" in refused.value.detail
    answer = co.http.get("/exchangerate", params={"sourcecurrencycode": "EUR"}).json()
    assert answer["Fault"]["Error"][0]["code"] == "6000"


def test_set_query_and_read_rates_as_of_a_date(served: Served, co: Company) -> None:
    _multicurrency(served, co)
    assert ExchangeRate.filter(SourceCurrencyCode="EUR", qb=co.qb) == []
    feed = co.http.get(
        "/exchangerate", params={"sourcecurrencycode": "EUR", "asofdate": "2026-11-01"}
    ).json()["ExchangeRate"]
    assert feed["TargetCurrencyCode"] == "USD" and Decimal(str(feed["Rate"])) == Decimal("1.08")

    saved = _rate("EUR", "1.0931", "2026-11-01").save(qb=co.qb)
    assert saved.SourceCurrencyCode == "EUR" and saved.TargetCurrencyCode == "USD"
    assert Decimal(str(saved.Rate)) == Decimal("1.0931") and saved.SyncToken == "0"
    _rate("EUR", "1.1002", "2026-11-20").save(qb=co.qb)

    rows = ExchangeRate.filter(SourceCurrencyCode="EUR", qb=co.qb)
    assert [(r.AsOfDate, Decimal(str(r.Rate))) for r in rows] == [
        ("2026-11-20", Decimal("1.1002")),
        ("2026-11-01", Decimal("1.0931")),
    ]
    assert [r.AsOfDate for r in ExchangeRate.where("AsOfDate = '2026-11-01'", qb=co.qb)] == [
        "2026-11-01"
    ]

    def as_of(day: str) -> Decimal:
        row = co.http.get(
            "/exchangerate", params={"sourcecurrencycode": "EUR", "asofdate": day}
        ).json()["ExchangeRate"]
        return Decimal(str(row["Rate"]))

    assert as_of("2026-10-31") == Decimal("1.08")  # before any rate of the company: the feed
    assert as_of("2026-11-15") == Decimal("1.0931")  # the latest rate on or before the date
    assert as_of("2026-11-20") == Decimal("1.1002")

    # Updating a date's rate needs its SyncToken, like any other entity.
    stale = _rate("EUR", "1.2", "2026-11-01")
    stale.SyncToken = "7"
    with pytest.raises(QuickbooksException) as conflict:
        stale.save(qb=co.qb)
    assert conflict.value.error_code == 5010
    fresh = _rate("EUR", "1.0950", "2026-11-01")
    fresh.SyncToken = "0"
    assert fresh.save(qb=co.qb).SyncToken == "1"

    # The home currency has no rate to set.
    with pytest.raises(QuickbooksException) as home:
        _rate("USD", "1", "2026-11-01").save(qb=co.qb)
    assert home.value.error_code == 6000


def test_a_transaction_without_a_rate_uses_the_rate_of_its_date(
    served: Served, co: Company
) -> None:
    _multicurrency(served, co)
    _rate("GBP", "1.2612", "2026-11-01").save(qb=co.qb)
    customer = Customer()
    customer.DisplayName = "Thistle Ltd (GBP)"
    customer.PrimaryEmailAddr = EmailAddress()
    customer.PrimaryEmailAddr.Address = "ap@thistle.example"
    customer.CurrencyRef = Ref()
    customer.CurrencyRef.value = "GBP"
    saved = customer.save(qb=co.qb)
    assert saved.CurrencyRef.value == "GBP"

    # A customer's currency cannot change once set.
    saved.CurrencyRef.value = "USD"
    with pytest.raises(QuickbooksException) as fixed:
        saved.save(qb=co.qb)
    assert fixed.value.error_code == 6000

    item = co.http.post(
        "/query", content="select * from Item", headers={"Content-Type": "application/text"}
    ).json()["QueryResponse"]["Item"][0]
    body = {
        "CustomerRef": {"value": saved.Id},
        "CurrencyRef": {"value": "GBP"},
        "TxnDate": "2026-11-04",
        "Line": [
            {
                "Amount": 900,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
            }
        ],
    }
    invoice = co.http.post("/invoice", json=body).json()["Invoice"]
    assert Decimal(str(invoice["ExchangeRate"])) == Decimal("1.2612")
    assert Decimal(str(invoice["HomeTotalAmt"])) == Decimal("1135.08")


def test_zero_and_three_decimal_currencies_round_at_their_minor_unit(
    served: Served, co: Company
) -> None:
    _multicurrency(served, co)
    item = co.http.post(
        "/query", content="select * from Item", headers={"Content-Type": "application/text"}
    ).json()["QueryResponse"]["Item"][0]
    totals = {}
    for code, price in (("JPY", "1234"), ("BHD", "12.345")):
        customer = co.http.post(
            "/customer", json={"DisplayName": f"Buyer {code}", "CurrencyRef": {"value": code}}
        ).json()["Customer"]
        body = {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": Decimal(price) * 3,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 3,
                        "UnitPrice": price,
                    },
                },
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                },
            ],
        }
        invoice = co.http.post("/invoice", content=_dumps(body)).json()
        totals[code] = str(invoice["Invoice"]["TotalAmt"])
    # 3 x 1234 = 3702 yen, 10 % off = 370.2 -> 370 yen; 37.035 BHD, 10 % off = 3.7035 -> 3.704.
    assert totals == {"JPY": "3332", "BHD": "33.331"}


def _dumps(body: dict[str, object]) -> str:
    import json

    return json.dumps(body, default=str)
