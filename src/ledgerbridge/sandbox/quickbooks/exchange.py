"""ExchangeRate: a multicurrency company's rates, home-currency units per one foreign unit.

QBO's surface, as python-quickbooks uses it (`ExchangeRate.where(...)`, `.save()`):
- `GET  /v3/company/{realm}/exchangerate?sourcecurrencycode=EUR[&asofdate=YYYY-MM-DD]`: the
  rate as of that date (default today): the company's own rate for the latest date on or
  before it, else QBO's daily feed;
- `POST /v3/company/{realm}/exchangerate` `{SourceCurrencyCode, Rate, AsOfDate?, ...}`: set the
  company's rate for a date (an update without Id; `TargetCurrencyCode` is always the home
  currency);
- `SELECT * FROM ExchangeRate [WHERE SourceCurrencyCode = 'EUR'] [AND AsOfDate = '...']`:
  the rates the company set, newest date first.

Offline there is no feed: a fixed table stands in (`FEED_USD`, USD per unit; cross rates for
another home currency). Transactions that give no ExchangeRate use the same answer, so a rate
read from here is the rate a transaction would get. With multicurrency off every call is a
business-rule fault, as in QBO.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company, Env
from ledgerbridge.sandbox.quickbooks.wire import plain, to_decimal

ENTITY = "ExchangeRate"
# USD per one unit (the emulator's stand-in for QBO's rate feed).
FEED_USD: dict[str, Decimal] = {
    "USD": Decimal(1),
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
    "BHD": Decimal("2.65"),
    "KWD": Decimal("3.25"),
}
RATE_PLACES = Decimal("0.0000000001")  # QBO keeps rates to 10 decimal places at most


def _code(value: Any, element: str) -> str:
    code = str(value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise errors.invalid_reference(element)
    return code


def _date(value: Any, default: dt.date) -> dt.date:
    if value in (None, ""):
        return default
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            f"AsOfDate is not a date: {value!r}",
            element="AsOfDate",
        ) from exc


def _require_multicurrency(company: Company) -> None:
    if not company.multicurrency:
        raise errors.business(
            "Multicurrency is not enabled for this company; exchange rates are not available "
            f"(home currency {company.home_currency})."
        )


def feed_rate(home: str, source: str) -> Decimal:
    """The stand-in feed: home units per one `source` unit (1 for a currency it lacks)."""
    a, b = FEED_USD.get(source), FEED_USD.get(home)
    if a is None or b is None:
        return Decimal(1)
    return (a / b).quantize(RATE_PLACES).normalize()


def rate_for(company: Company, source: str, on: dt.date) -> Decimal:
    """The rate a transaction in `source` dated `on` gets when it gives none."""
    stored = _stored(company, source, on)
    if stored is not None:
        return Decimal(str(stored["Rate"]))
    return feed_rate(company.home_currency, source)


def _stored(company: Company, source: str, on: dt.date) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for record in company.all(ENTITY):
        if record["SourceCurrencyCode"] != source or record["AsOfDate"] > on.isoformat():
            continue
        if best is None or record["AsOfDate"] > best["AsOfDate"]:
            best = record
    return best


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "Id" and not k.startswith("_")}


def read(env: Env, params: dict[str, str]) -> dict[str, Any]:
    company = env.company
    _require_multicurrency(company)
    if not params.get("sourcecurrencycode"):
        raise errors.required("sourcecurrencycode")
    source = _code(params.get("sourcecurrencycode"), "sourcecurrencycode")
    on = _date(params.get("asofdate"), env.today)
    stored = _stored(company, source, on)
    if stored is not None:
        return _public(stored)
    return {
        "SourceCurrencyCode": source,
        "TargetCurrencyCode": company.home_currency,
        "Rate": feed_rate(company.home_currency, source),
        "AsOfDate": on.isoformat(),
        "SyncToken": "0",
        "MetaData": {"LastUpdatedTime": env.meta_now},
    }


def write(env: Env, data: dict[str, Any]) -> dict[str, Any]:
    company = env.company
    _require_multicurrency(company)
    if not isinstance(data, dict) or not data.get("SourceCurrencyCode"):
        raise errors.required("SourceCurrencyCode")
    source = _code(data.get("SourceCurrencyCode"), "SourceCurrencyCode")
    home = company.home_currency
    target = _code(data.get("TargetCurrencyCode") or home, "TargetCurrencyCode")
    if source == home or target != home:
        raise errors.business(
            f"An exchange rate converts a foreign currency into the home currency {home}; "
            f"{source} to {target} cannot be set."
        )
    rate = to_decimal(data.get("Rate"))
    if rate is None or rate <= 0:
        raise errors.required("Rate")
    on = _date(data.get("AsOfDate"), env.today)
    key = f"{source}-{on.isoformat()}"
    existing = company.get(ENTITY, key)
    token = str(data.get("SyncToken") or "0")
    if existing is not None and token != existing["SyncToken"]:
        raise errors.stale()
    record = {
        "Id": key,
        "SourceCurrencyCode": source,
        "TargetCurrencyCode": home,
        "Rate": plain(rate.quantize(RATE_PLACES)),
        "AsOfDate": on.isoformat(),
        "SyncToken": str(int(existing["SyncToken"]) + 1) if existing is not None else "0",
        "MetaData": {"LastUpdatedTime": env.meta_now},
    }
    company.put(ENTITY, record)
    return _public(record)


_FROM = re.compile(r"\bfrom\s+exchangerate\b", re.IGNORECASE)
_WHERE = re.compile(r"(\w+)\s*=\s*'([^']*)'", re.IGNORECASE)


def is_query(text: str) -> bool:
    return bool(_FROM.search(text))


def query(env: Env, text: str) -> dict[str, Any]:
    """`SELECT * FROM ExchangeRate` with `=` conditions on SourceCurrencyCode / AsOfDate."""
    company = env.company
    _require_multicurrency(company)
    parts = re.split(r"\bwhere\b", text, maxsplit=1, flags=re.IGNORECASE)
    where = parts[1] if len(parts) > 1 else ""
    where = re.split(r"\b(?:order\s+by|startposition|maxresults)\b", where, flags=re.I)[0]
    wanted: dict[str, str] = {}
    for name, value in _WHERE.findall(where):
        field = {"sourcecurrencycode": "SourceCurrencyCode", "asofdate": "AsOfDate"}.get(
            name.lower()
        )
        if field is None:
            raise errors.QboFault(
                "4001",
                "Invalid query",
                f"QueryValidationError: property '{name}' is not queryable",
                element=None,
            )
        wanted[field] = value.upper() if field == "SourceCurrencyCode" else value
    rows = [
        _public(r)
        for r in company.all(ENTITY)
        if all(str(r.get(k)) == v for k, v in wanted.items())
    ]
    rows.sort(key=lambda r: (r["SourceCurrencyCode"], r["AsOfDate"]), reverse=True)
    if not rows:
        return {}
    return {ENTITY: rows, "startPosition": 1, "maxResults": len(rows)}
