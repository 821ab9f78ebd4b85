"""Currency rules: names QBO shows in CurrencyRef, and which currency a transaction may use.

With multicurrency off (a new company's default) every name and transaction is in the home
currency and anything else is refused. With it on, a transaction must be in its customer's
currency; when the client gives no ExchangeRate the emulator uses a fixed table (QBO would use
its daily rate feed, which is not available offline).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company
from ledgerbridge.sandbox.quickbooks.wire import to_decimal

NAMES = {
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "MXN": "Mexican Peso",
    "INR": "Indian Rupee",
    "NZD": "New Zealand Dollar",
    "SEK": "Swedish Krona",
    "NOK": "Norwegian Krone",
    "DKK": "Danish Krone",
}
# Home-currency units per foreign unit, for a USD home currency.
USD_RATES = {
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "JPY": Decimal("0.0067"),
    "CHF": Decimal("1.13"),
    "MXN": Decimal("0.058"),
    "INR": Decimal("0.012"),
    "NZD": Decimal("0.61"),
    "SEK": Decimal("0.095"),
    "NOK": Decimal("0.093"),
    "DKK": Decimal("0.145"),
}


def currency_ref(code: str) -> dict[str, Any]:
    return {"value": code, "name": NAMES.get(code, code)}


def txn_currency(
    company: Company, data: dict[str, Any], customer: dict[str, Any] | None
) -> tuple[str, Decimal | None]:
    """(currency code, exchange rate or None when multicurrency is off)."""
    home = company.home_currency
    customer_cur = (customer or {}).get("CurrencyRef", {}).get("value", home)
    wanted = str((data.get("CurrencyRef") or {}).get("value") or customer_cur).upper()
    if len(wanted) != 3 or not wanted.isalpha():
        raise errors.invalid_reference("CurrencyRef")
    if not company.multicurrency:
        if wanted != home:
            raise errors.business(
                f"Multicurrency is not enabled for this company; a transaction in {wanted} cannot "
                f"be saved (home currency {home})."
            )
        return wanted, None
    if customer is not None and wanted != customer_cur:
        raise errors.business(
            f"The transaction currency {wanted} must match the customer's currency {customer_cur}."
        )
    if wanted == home:
        return wanted, Decimal(1)
    rate = to_decimal(data.get("ExchangeRate"))
    if rate is None or rate <= 0:
        rate = USD_RATES.get(wanted, Decimal(1)) if home == "USD" else Decimal(1)
    return wanted, rate
