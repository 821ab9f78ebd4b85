"""Money arithmetic the engine relies on: splits that sum to the cent, and parity checks.

Everything is Decimal at the currency's minor unit; nothing here ever rounds twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from ledgerbridge.domain import Invoice
from ledgerbridge.domain.money import minor_units, quantize


def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def split_pro_rata(
    amount: Decimal, weights: Sequence[Decimal], currency: str = "USD"
) -> list[Decimal]:
    """Split `amount` in proportion to `weights`; the parts sum exactly to `amount` (rounded).

    Largest-remainder method: every part is rounded down to the minor unit, then the leftover
    units go one each to the parts with the largest remainders (earliest first on ties), so the
    split is deterministic and never off by a cent.
    """
    total = quantize(amount, currency)
    if not weights:
        return []
    unit = _unit(currency)
    clean = [max(w, Decimal(0)) for w in weights]
    weight_sum = sum(clean, Decimal(0))
    if weight_sum == 0:
        clean = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    sign = Decimal(-1) if total < 0 else Decimal(1)
    magnitude = abs(total)
    exact = [magnitude * w / weight_sum for w in clean]
    floors = [e.quantize(unit, rounding=ROUND_DOWN) for e in exact]
    leftover_units = int(((magnitude - sum(floors, Decimal(0))) / unit).to_integral_value())
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover_units]:
        floors[i] += unit
    return [sign * part for part in floors]


def allocate_payment(
    amount: Decimal, balances: Sequence[Decimal], currency: str = "USD"
) -> tuple[list[Decimal], Decimal]:
    """Apply a payment to invoices in order, each up to its balance.

    Returns (the amount applied to each invoice, the unapplied remainder). Applied amounts plus
    the remainder equal the payment exactly; no invoice gets more than its balance.
    """
    remaining = quantize(amount, currency)
    applied: list[Decimal] = []
    for balance in balances:
        share = min(max(quantize(balance, currency), Decimal(0)), max(remaining, Decimal(0)))
        applied.append(share)
        remaining -= share
    return applied, remaining


def amounts_match(a: Decimal, b: Decimal, currency: str = "USD") -> bool:
    """Two amounts agree once rounded to the currency's minor unit."""
    return quantize(a, currency) == quantize(b, currency)


def totals_match(a: Invoice, b: Invoice) -> bool:
    """Both sides agree on the invoice total to the minor unit (the rounding parity check)."""
    return a.currency == b.currency and amounts_match(a.total, b.total, a.currency)
