"""The model test's oracle flags every compared field, and only the documented exceptions."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from oracle import Side, day, differences

pytestmark = pytest.mark.model

BASE = Side(
    customer="ada@example.com",
    lines=((Decimal(2), Decimal("19.95")),),
    other_lines=Decimal("5.00"),
    discount=Decimal("3.99"),
    due_date="2026-12-01",
    po="PO-1",
    memo="thanks",
    voided=False,
    total=Decimal("40.96"),
    paid=Decimal("10.00"),
    balance=Decimal("30.96"),
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer", "bob@example.com"),
        ("lines", ((Decimal(3), Decimal("19.95")),)),
        ("other_lines", Decimal("0.00")),
        ("discount", Decimal("4.00")),
        ("due_date", "2026-12-02"),
        ("po", None),
        ("memo", "other"),
        ("total", Decimal("40.97")),
    ],
)
def test_each_field_that_differs_is_named(field: str, value: object) -> None:
    other = dataclasses.replace(BASE, **{field: value})
    assert set(differences(BASE, other)) == {field}
    assert differences(BASE, BASE) == {}


def test_paid_and_balance_differ_only_by_refunds_hubspot_owns() -> None:
    qbo = dataclasses.replace(BASE, paid=Decimal("20.00"), balance=Decimal("20.96"))
    assert set(differences(BASE, qbo)) == {"amount_paid", "balance"}
    assert differences(BASE, qbo, hubspot_owned_refunds=Decimal("10.00")) == {}
    # Exactly: neither less nor more than the refunds explain.
    for owned in (Decimal("9.99"), Decimal("10.01")):
        assert set(differences(BASE, qbo, hubspot_owned_refunds=owned)) == {
            "amount_paid",
            "balance",
        }
    # QBO counting less than HubSpot is never a HubSpot-owned refund.
    assert set(differences(qbo, BASE, hubspot_owned_refunds=Decimal("10.00"))) == {
        "amount_paid",
        "balance",
    }


def test_a_refund_of_a_payment_partly_kept_as_credit_differs_by_the_refund_less_the_credit() -> (
    None
):
    # HubSpot refunded 12 of a payment QBO applied only partly (3 kept as credit): QBO counts
    # 9 more paid than HubSpot.
    qbo = dataclasses.replace(BASE, paid=Decimal("19.00"), balance=Decimal("21.96"))
    gap = {"hubspot_owned_refunds": Decimal("12.00"), "hubspot_credit": Decimal("3.00")}
    assert differences(BASE, qbo, **gap) == {}
    assert set(differences(BASE, qbo, hubspot_owned_refunds=Decimal("12.00"))) == {
        "amount_paid",
        "balance",
    }


def test_credit_alone_explains_nothing_but_an_overpayment() -> None:
    # HubSpot counts 3 more paid than QBO, which keeps 3 of a HubSpot payment as credit while
    # its invoice still owes: a disagreement (the sync matrix), not a documented difference.
    qbo = dataclasses.replace(BASE, paid=Decimal("7.00"), balance=Decimal("33.96"))
    assert set(differences(BASE, qbo, hubspot_credit=Decimal("3.00"))) == {
        "amount_paid",
        "balance",
    }


def test_a_payment_after_a_full_refund_kept_whole_as_credit() -> None:
    # Seed 47: 99.75 paid and refunded in full in HubSpot (QBO still counts it paid), then
    # 24.94 paid again, all of it credit in QBO (its invoice was paid there).
    hs = dataclasses.replace(
        BASE, total=Decimal("99.75"), paid=Decimal("24.94"), balance=Decimal("74.81")
    )
    qbo = dataclasses.replace(hs, paid=Decimal("99.75"), balance=Decimal("0.00"))
    gap = {"hubspot_owned_refunds": Decimal("99.75"), "hubspot_credit": Decimal("24.94")}
    assert differences(hs, qbo, **gap) == {}
    assert set(differences(hs, qbo, hubspot_owned_refunds=Decimal("99.75"))) == {
        "amount_paid",
        "balance",
    }


def test_a_voided_invoice_compares_only_voided() -> None:
    voided = dataclasses.replace(BASE, voided=True, total=Decimal(0), balance=Decimal(0))
    assert differences(voided, dataclasses.replace(voided, memo="x")) == {}
    assert set(differences(BASE, voided)) == {"voided"}


def test_dates_from_either_side_compare_as_days() -> None:
    assert day("2026-12-01T00:00:00Z") == day("2026-12-01") == "2026-12-01"
    assert day("1796083200000") == "2026-12-01"
    assert day("") is None


def test_the_invariants_catch_a_synced_invoice_whose_sides_differ() -> None:
    """Not vacuous: an edit in QBO the engine has not seen yet makes a synced record differ."""
    from invariants import check
    from test_convergence import Machine

    machine = Machine()
    try:
        machine.base_data()
        machine.hs_create_invoice(
            contact=0,
            lines=[(0, 2)],
            discount="10",
            po="PO-1",
            memo="hello",
            due_days=5,
            finish=True,
        )
        machine.run(machine.quiesce())
        machine.run(check(machine.world, machine.hs, machine.qbo, machine.books))  # agree
        qbo_id = machine.books.qbo_copies(machine.world)[0]
        machine.run(machine.qbo.sparse("Invoice", qbo_id, {"CustomerMemo": {"value": "changed"}}))
        with pytest.raises(
            AssertionError,
            match=r"(?s)synced while the sides differ.*memo.*engine.compare finds.*memo",
        ):
            machine.run(check(machine.world, machine.hs, machine.qbo, machine.books))
    finally:
        machine.run(machine.world.close())
        machine.loop.close()
