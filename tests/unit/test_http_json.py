"""The JSON writer of the connectors: Decimals as exact numbers, through the fast path or not."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from ledgerbridge.connectors.http import _encode, dumps, loads


@pytest.mark.parametrize(
    "value",
    [
        {"Amount": Decimal("12.30"), "Qty": Decimal("1E+3"), "Rate": Decimal("-0.005")},
        [Decimal("0"), None, True, False, 3, 2.5, "é", "tab\tnul\x00"],
        {"view": MappingProxyType({"k": Decimal("2")}), "tuple": ("t", Decimal("1.1"))},
        {1: "int keys become text"},
        # A string that looks like the internal Decimal mark stays a string.
        {"s": "\x00\x01lbdec:5\x00", "d": Decimal("7.25")},
        {"s": "\x00\x01lbdec:5\x00"},
    ],
)
def test_dumps_matches_the_exact_encoder(value: object) -> None:
    assert dumps(value) == _encode(value).encode("utf-8")


def test_decimals_round_trip_exactly() -> None:
    body = {"Line": [{"Amount": Decimal("1234567890.123456789")}]}
    assert loads(dumps(body)) == body


def test_non_finite_and_unknown_values_are_refused() -> None:
    with pytest.raises(ValueError):
        dumps({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        dumps({"x": object()})
