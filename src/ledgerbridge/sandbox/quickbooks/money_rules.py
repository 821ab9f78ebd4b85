"""Currency rules: names QBO shows in CurrencyRef, and which currency a transaction may use.

With multicurrency off (a new company's default) every name and transaction is in the home
currency and anything else is refused. With it on, a transaction must be in its customer's
currency; when the client gives no ExchangeRate the emulator uses the company's ExchangeRate for
the transaction date, else a fixed table standing in for QBO's daily feed (exchange.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.currencies import minor_unit
from ledgerbridge.sandbox.quickbooks import errors, exchange
from ledgerbridge.sandbox.quickbooks.company import Company
from ledgerbridge.sandbox.quickbooks.wire import HOME_UNIT, MINOR_UNIT, to_decimal

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
    "BHD": "Bahraini Dinar",
    "KWD": "Kuwaiti Dinar",
}


def currency_ref(code: str) -> dict[str, Any]:
    return {"value": code, "name": NAMES.get(code, code)}


def txn_currency(
    company: Company, data: dict[str, Any], customer: dict[str, Any] | None
) -> tuple[str, Decimal | None]:
    """(currency code, exchange rate or None when multicurrency is off). Amounts of the rest
    of the request are rounded at that currency's minor unit (wire.MINOR_UNIT)."""
    home = company.home_currency
    customer_cur = (customer or {}).get("CurrencyRef", {}).get("value", home)
    wanted = str((data.get("CurrencyRef") or {}).get("value") or customer_cur).upper()
    if len(wanted) != 3 or not wanted.isalpha():
        raise errors.invalid_reference("CurrencyRef")
    MINOR_UNIT.set(minor_unit(wanted))
    HOME_UNIT.set(minor_unit(home))
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
        # The company's rate for the transaction date, else the feed (see exchange.py).
        on = _txn_date(data.get("TxnDate")) or dt.datetime.now(dt.UTC).date()
        rate = exchange.rate_for(company, wanted, on)
    return wanted, rate


def _txn_date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
