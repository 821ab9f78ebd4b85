"""Money and line arithmetic, property-based: splits that sum to the cent, rounding once."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.domain import Discount, Invoice, LineItem
from ledgerbridge.domain.money import minor_units, quantize
from ledgerbridge.engine.money_splits import allocate_payment, split_pro_rata, totals_match

CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "KWD"])
cents = st.integers(min_value=0, max_value=10**9)
quantities = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=3)
prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=4)


def money(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-minor_units(currency))


@given(
    units=cents,
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
    currency=CURRENCIES,
)
def test_pro_rata_split_sums_exactly(units: int, weights: list[int], currency: str) -> None:
    amount = money(units, currency)
    parts = split_pro_rata(amount, [Decimal(w) for w in weights], currency)
    assert len(parts) == len(weights)
    assert sum(parts, Decimal(0)) == amount
    unit = Decimal(1).scaleb(-minor_units(currency))
    for part in parts:
        assert part >= 0
        assert part == quantize(part, currency)  # whole minor units
    # each part is within one minor unit of its exact share
    total = sum(weights) or len(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = amount * Decimal(weight if sum(weights) else 1) / Decimal(total)
        assert abs(part - exact) < unit


@given(
    units=st.integers(min_value=-(10**7), max_value=10**7), n=st.integers(min_value=1, max_value=12)
)
def test_even_split_of_negative_and_positive_amounts(units: int, n: int) -> None:
    amount = money(units, "USD")
    parts = split_pro_rata(amount, [Decimal(1)] * n)
    assert sum(parts, Decimal(0)) == amount
    assert max(parts) - min(parts) <= Decimal("0.01")


def test_split_is_deterministic_and_favours_earliest_on_ties() -> None:
    assert split_pro_rata(Decimal("0.10"), [Decimal(1)] * 3) == [
        Decimal("0.04"),
        Decimal("0.03"),
        Decimal("0.03"),
    ]
    assert split_pro_rata(Decimal("100"), []) == []


@given(payment=cents, balances=st.lists(cents, min_size=0, max_size=20))
def test_payment_allocation_never_overpays_and_sums(payment: int, balances: list[int]) -> None:
    amount = money(payment, "USD")
    bal = [money(b, "USD") for b in balances]
    applied, rest = allocate_payment(amount, bal)
    assert sum(applied, Decimal(0)) + rest == amount
    assert all(0 <= a <= b for a, b in zip(applied, bal, strict=True))
    assert rest >= 0
    if rest > 0:
        assert applied == bal  # something is left only when every invoice is fully paid


@given(lines=st.lists(st.tuples(quantities, prices), min_size=1, max_size=15), currency=CURRENCIES)
def test_subtotal_is_sum_of_rounded_lines(
    lines: list[tuple[Decimal, Decimal]], currency: str
) -> None:
    inv = Invoice(currency=currency, lines=tuple(LineItem("x", q, p) for q, p in lines))
    expected = sum((quantize(q * p, currency) for q, p in lines), Decimal(0))
    assert inv.subtotal == expected
    assert inv.total == quantize(expected, currency)
    assert inv.subtotal == quantize(inv.subtotal, currency)  # rounding once keeps whole units


@given(
    lines=st.lists(st.tuples(quantities, prices), min_size=1, max_size=10),
    percent=st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2),
)
def test_percent_discount_rounds_once_and_never_goes_negative(
    lines: list[tuple[Decimal, Decimal]], percent: Decimal
) -> None:
    inv = Invoice(
        currency="USD",
        lines=tuple(LineItem("x", q, p) for q, p in lines),
        discount=Discount("percent", percent),
    )
    assert inv.discount_amount == quantize(inv.subtotal * percent / 100)
    assert inv.total == inv.subtotal - inv.discount_amount
    assert inv.total >= 0
    assert inv.total == quantize(inv.total)


@given(lines=st.lists(st.tuples(quantities, prices), min_size=1, max_size=10), paid=cents)
def test_balance_is_total_minus_paid(lines: list[tuple[Decimal, Decimal]], paid: int) -> None:
    inv = Invoice(
        currency="USD",
        lines=tuple(LineItem("x", q, p) for q, p in lines),
        amount_paid=money(paid, "USD"),
    )
    assert inv.computed_balance == inv.total - inv.amount_paid


def test_totals_match_to_the_cent() -> None:
    a = Invoice(currency="USD", lines=(LineItem("x", Decimal("3"), Decimal("0.335")),))
    b = Invoice(currency="USD", lines=(LineItem("x", Decimal("1"), Decimal("1.01")),))
    assert a.total == Decimal("1.01")  # 1.005 rounds half up
    assert totals_match(a, b)
    c = Invoice(currency="USD", lines=(LineItem("x", Decimal("1"), Decimal("1.00")),))
    assert not totals_match(a, c)
