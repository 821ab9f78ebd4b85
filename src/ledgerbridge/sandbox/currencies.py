"""ISO 4217 minor units, as both emulators round amounts in a currency.

Most currencies have cents (2 places); the yen and a few others have none, the Gulf dinars
three. Both systems round amounts at the currency's minor unit (half up), not at the cent.
"""

from __future__ import annotations

from decimal import Decimal

_PLACES = {
    **dict.fromkeys(
        ("JPY", "KRW", "VND", "CLP", "ISK", "XOF", "XAF", "UGX", "PYG", "RWF", "KMF", "GNF"), 0
    ),
    **dict.fromkeys(("VUV", "XPF", "DJF"), 0),
    **dict.fromkeys(("BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"), 3),
}


def minor_unit(currency: str | None) -> Decimal:
    """The smallest amount of `currency` (0.01 for most, 1 for JPY, 0.001 for BHD)."""
    places = _PLACES.get((currency or "USD").upper(), 2)
    return Decimal(1).scaleb(-places)
