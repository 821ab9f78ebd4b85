"""The QBO sandbox's indexed queries and CDC answer exactly what a scan of every record answers,
on random companies (customers, items, invoices, payments, updates, deletions, inactive names)
and random queries on the properties clients filter on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerbridge.sandbox.quickbooks import cdc, query
from ledgerbridge.sandbox.quickbooks.errors import QboFault
from ledgerbridge.sandbox.quickbooks.state import SandboxState

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NAMES = ["Acme", "acme ", "Blue Co", "Cedar", "Dune's"]
DOCS = ["1001", "1002", "A-7", "a-7", None]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _build(draw: Any) -> tuple[SandboxState, Clock, list[dt.datetime]]:
    clock = Clock()
    state = SandboxState(clock=clock)
    realm = state.default_realm_id
    customers: list[str] = []
    invoices: list[str] = []
    items: list[str] = []
    moments = [clock.now]
    baseline = [0, 1, 2, 3, 3, 4, 5, 6, 4, 5, 6, 7, 9, 8]  # every kind of record, then random
    for step in baseline + draw(st.lists(st.integers(0, 9), max_size=30)):
        clock.now += dt.timedelta(seconds=draw(st.sampled_from([0, 0.25, 1, 61])))
        moments.append(clock.now)
        try:
            if step <= 2 or not customers:
                customers.append(
                    state.create_entity(
                        realm, "Customer", {"DisplayName": f"{draw(st.sampled_from(NAMES))}{step}"}
                    )["Id"]
                )
            elif step == 3 or not items:
                items.append(
                    state.create_entity(
                        realm,
                        "Item",
                        {
                            "Name": f"Item {len(items)}",
                            "Sku": draw(st.sampled_from(["S-1", "s-1", "S-2"])),
                            "Type": "Service",
                            "IncomeAccountRef": {"value": "1"},
                        },
                    )["Id"]
                )
            elif step <= 6:
                body: dict[str, Any] = {
                    "CustomerRef": {"value": draw(st.sampled_from(customers))},
                    "Line": [
                        {
                            "DetailType": "SalesItemLineDetail",
                            "Amount": Decimal(draw(st.sampled_from(["10", "25.50"]))),
                            "SalesItemLineDetail": {"ItemRef": {"value": items[0]}},
                        }
                    ],
                }
                doc = draw(st.sampled_from(DOCS))
                if doc:
                    body["DocNumber"] = doc
                invoices.append(state.create_entity(realm, "Invoice", body)["Id"])
            elif step == 7 and invoices:
                inv = state.get_entity(realm, "Invoice", draw(st.sampled_from(invoices)))
                if inv is not None:
                    state.create_entity(
                        realm,
                        "Payment",
                        {
                            "CustomerRef": inv["CustomerRef"],
                            "TotalAmt": Decimal("5"),
                            "Line": [
                                {
                                    "Amount": Decimal("5"),
                                    "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}],
                                }
                            ],
                        },
                    )
            elif step == 8 and customers:
                cust = state.get_entity(realm, "Customer", draw(st.sampled_from(customers)))
                if cust is not None:
                    state.update_entity(
                        realm,
                        "Customer",
                        {
                            "Id": cust["Id"],
                            "SyncToken": cust["SyncToken"],
                            "sparse": True,
                            "Active": draw(st.booleans()),
                        },
                    )
            elif invoices:
                inv = state.get_entity(realm, "Invoice", draw(st.sampled_from(invoices)))
                if inv is not None:
                    state.update_entity(
                        realm,
                        "Invoice",
                        {
                            "Id": inv["Id"],
                            "SyncToken": inv["SyncToken"],
                            "sparse": True,
                            "DocNumber": draw(st.sampled_from(["1001", "B-9", "1002"])),
                        },
                    )
        except QboFault:
            pass  # a rule refused it (duplicate name, overpayment...): the company is unchanged
    return state, clock, moments


def _stamp(draw: Any, moments: list[dt.datetime]) -> str:
    when = draw(st.sampled_from(moments)) + dt.timedelta(
        seconds=draw(st.sampled_from([-1, 0, 0, 1]))
    )
    return when.astimezone(dt.timezone(dt.timedelta(hours=-8))).strftime("%Y-%m-%dT%H:%M:%S%z")


def _condition(draw: Any, moments: list[dt.datetime], entity: str) -> str:
    time_op = draw(st.sampled_from([">", ">=", "<", "<="]))
    options = {
        "Invoice": [
            f"DocNumber = '{draw(st.sampled_from(['1001', '1002', 'a-7', 'B-9']))}'",
            f"DocNumber IN ('1001', '{draw(st.sampled_from(['A-7', 'x']))}')",
            f"CustomerRef = '{draw(st.integers(1, 6))}'",
            f"MetaData.LastUpdatedTime {time_op} '{_stamp(draw, moments)}'",
            f"MetaData.CreateTime {time_op} '{_stamp(draw, moments)}'",
            f"Id = '{draw(st.integers(1, 6))}'",
            "TotalAmt > '5'",
        ],
        "Customer": [
            f"DisplayName = '{draw(st.sampled_from(NAMES)).replace(chr(39), chr(92) + chr(39))}{draw(st.integers(0, 2))}'",
            "Active IN (true, false)",
            "Active = false",
            f"MetaData.LastUpdatedTime {time_op} '{_stamp(draw, moments)}'",
            "DisplayName LIKE 'a%'",
        ],
        "Item": [
            f"Sku = '{draw(st.sampled_from(['S-1', 'S-2']))}'",
            f"Name = 'Item {draw(st.integers(0, 2))}'",
            f"MetaData.LastUpdatedTime {time_op} '{_stamp(draw, moments)}'",
        ],
    }
    return draw(st.sampled_from(options[entity]))


@st.composite
def company_and_query(draw: Any) -> tuple[SandboxState, str]:
    state, _, moments = _build(draw)
    entity = draw(st.sampled_from(["Invoice", "Customer", "Item"]))
    conds = [_condition(draw, moments, entity) for _ in range(draw(st.integers(0, 3)))]
    select = draw(st.sampled_from(["*", "count(*)"]))
    text = f"SELECT {select} FROM {entity}"
    if conds:
        text += " WHERE " + " AND ".join(conds)
    if draw(st.booleans()):
        text += draw(
            st.sampled_from(
                [" ORDERBY MetaData.LastUpdatedTime", " ORDER BY Id DESC", " ORDERBY DocNumber"]
                if entity == "Invoice"
                else [" ORDERBY MetaData.LastUpdatedTime DESC", " ORDERBY Id"]
            )
        )
    text += f" STARTPOSITION {draw(st.integers(1, 4))} MAXRESULTS {draw(st.integers(1, 5))}"
    return state, text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company_and_query())
def test_indexed_query_equals_full_scan(case: tuple[SandboxState, str]) -> None:
    state, text = case
    company = state.companies[state.default_realm_id]
    parsed = query.parse(text, company)
    scanned = query.run(parsed, company, state.tz, use_index=False)
    assert query.run(parsed, company, state.tz) == scanned


@st.composite
def company_and_since(draw: Any) -> tuple[SandboxState, dt.datetime, str, int]:
    state, clock, moments = _build(draw)
    since = draw(st.sampled_from(moments)) + dt.timedelta(seconds=draw(st.sampled_from([0, 1])))
    entities = ",".join(
        draw(st.lists(st.sampled_from(["Invoice", "Customer", "Payment"]), min_size=1))
    )
    return state, clock.now, f"{since.isoformat()}|{entities}", draw(st.integers(1, 6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company_and_since())
def test_indexed_cdc_equals_full_scan(case: tuple[SandboxState, dt.datetime, str, int]) -> None:
    state, now, spec, cap = case
    since, entities = spec.split("|")
    company = state.companies[state.default_realm_id]
    args = (company, entities, since, now, state.tz)
    assert cdc.run(*args, cap=cap) == cdc.run(*args, cap=cap, use_index=False)
