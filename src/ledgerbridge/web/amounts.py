"""Amounts typed into console forms, parsed with the user's locale (babel), strictly.

`5,00.00` used to become 500.00 (commas were stripped) and `1e309` raised a 500. Now only the
locale's own digits layout is accepted: misplaced group separators (`5,00.00`, European `5,00`
in an en_US console) are refused as ambiguous, with what the user may have meant; exponents,
NaN and infinities are refused; so are more decimals than the currency has and amounts past
what either API stores.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol, parse_decimal

from ledgerbridge.web.formatting import LOCALE

# QBO stores amounts up to 15 digits in total; HubSpot's number properties hold more.
MAX_AMOUNT = Decimal("9999999999999.99")


class AmountError(ValueError):
    """The text is not an amount the user can mean unambiguously; the message says why."""


def parse_amount(text: str, *, locale: str = LOCALE, decimals: int = 2) -> Decimal:
    raw = (text or "").strip()
    example = f"25{get_decimal_symbol(locale)}00"
    if not raw:
        raise AmountError(f"Enter an amount, for example {example}.")
    group, point = get_group_symbol(locale), get_decimal_symbol(locale)
    allowed = "0-9" + re.escape(group) + re.escape(point)
    if group == "\u00a0" or group == "\u202f":  # French-style spaces group digits too
        allowed += " "
    if not re.fullmatch(f"-?[{allowed}]+", raw):
        raise AmountError(
            f"{raw!r} is not a number: use digits and {point!r} for decimals, "
            f"for example {example}."
        )
    try:
        value = parse_decimal(raw, locale=locale, strict=True)
    except NumberFormatError as exc:
        meant = (
            f" Did you mean {exc.suggestions[0]!r}?" if getattr(exc, "suggestions", None) else ""
        )
        raise AmountError(f"{raw!r} is ambiguous: check the separators.{meant}") from None
    if not value.is_finite():
        raise AmountError(f"{raw!r} is not an amount.")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -decimals:
        raise AmountError(f"{raw!r} has more than {decimals} decimals.")
    if abs(value) > MAX_AMOUNT:
        raise AmountError(f"{raw!r} is larger than the largest amount allowed.")
    return value
