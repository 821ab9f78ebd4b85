"""Money is Decimal plus an ISO 4217 currency. Round once, at the currency's minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Currencies whose minor unit is not 2 digits (ISO 4217). Everything else: 2.
_MINOR_UNITS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "XOF": 0,
    "XAF": 0,
    "UGX": 0,
    "PYG": 0,
    "RWF": 0,
    "KMF": 0,
    "GNF": 0,
    "VUV": 0,
    "XPF": 0,
    "DJF": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "LYD": 3,
    "IQD": 3,
}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def to_decimal(value: object) -> Decimal:
    """Parse a wire value (str, int, Decimal; never float) into a Decimal.

    Floats are accepted only through their shortest repr (what JSON parsers produce), so
    0.1 becomes Decimal("0.1"), not 0.1000000000000000055...
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            raise ValueError("empty number")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
        if not result.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return result
    raise ValueError(f"not a number: {value!r}")


def quantize(amount: Decimal, currency: str = "USD") -> Decimal:
    """Round half up to the currency's minor unit (what QBO and HubSpot both do)."""
    exp = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exp, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount (Decimal) in a currency; arithmetic refuses to mix currencies."""

    amount: Decimal
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", self.currency.upper())

    def rounded(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __str__(self) -> str:
        return f"{quantize(self.amount, self.currency)} {self.currency}"
