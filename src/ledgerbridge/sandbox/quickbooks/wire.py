"""Wire helpers: JSON with Decimal money, QBO time formats, small value coercions.

QBO sends money as JSON numbers with two decimals (`"TotalAmt":100.00`) and zero as `0`; the
standard library cannot write a Decimal as a JSON number, so `dumps` serialises by hand.
Incoming JSON is parsed with `parse_float=Decimal` so no amount ever passes through a float.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CENT = Decimal("0.01")


def company_tz() -> dt.tzinfo:
    """Sandbox companies live in US Pacific time, like Intuit's sandbox companies."""
    try:
        return ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no tz database on this machine: a fixed PST offset
        return dt.timezone(dt.timedelta(hours=-8))


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


# A Decimal goes through the C encoder as a marked string, then the marks are cut away so it
# lands as a bare number: the same text as `_write`, several times faster on big bodies (a /batch
# answer of 30 invoices). A string that merely looks like a mark sends it down the slow path.
_DECIMAL_MARK = "\x00\x01qbodec:"
_ESCAPED_MARK = "\\u0000\\u0001qbodec:"
_MARKED = re.compile(r'"\\u0000\\u0001qbodec:(-?[0-9.]+)\\u0000"')


def dumps(value: Any) -> str:
    marked = 0

    def mark(item: Any) -> str:
        nonlocal marked
        if isinstance(item, Decimal):
            marked += 1
            return f"{_DECIMAL_MARK}{decimal_text(item)}\x00"
        raise TypeError(f"cannot serialise {type(item).__name__}")

    try:
        text = json.dumps(value, default=mark, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = ""
    else:
        if marked or _ESCAPED_MARK in text:
            text, cut = _MARKED.subn(r"\1", text)
            if cut != marked or _ESCAPED_MARK in text:
                text = ""
    if text:
        return text
    parts: list[str] = []  # the exact path decides (and explains an error)
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json.dumps(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialise {type(value).__name__}")


def decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("non-finite amount")
    if value == 0:
        return "0"
    text = format(value, "f")
    return text


def to_decimal(value: Any) -> Decimal | None:
    """Lenient number coercion: QBO accepts numbers and numeric strings ("300.00")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# The minor unit of the transaction being written (see money_rules.txn_currency): the cent
# unless a transaction in a 0- or 3-decimal currency (JPY, BHD) set it for this request.
MINOR_UNIT: ContextVar[Decimal] = ContextVar("qbo_minor_unit", default=CENT)
# ... and of the company's home currency, for the home amounts (HomeTotalAmt, HomeBalance).
HOME_UNIT: ContextVar[Decimal] = ContextVar("qbo_home_unit", default=CENT)


def home_money(value: Decimal | int) -> Decimal:
    """A home-currency amount (total x exchange rate), rounded at the home minor unit."""
    return Decimal(value).quantize(HOME_UNIT.get(), rounding=ROUND_HALF_UP)


def money(value: Decimal | int) -> Decimal:
    """Round at the minor unit (the cent, for most currencies), the way QBO stores amounts."""
    return Decimal(value).quantize(MINOR_UNIT.get(), rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> Decimal:
    """A quantity or rate as QBO echoes it: no trailing zeros (4.5, 75)."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return normal.quantize(Decimal(1))
    return normal


def meta_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """MetaData times: seconds precision with the company's offset, e.g. 2020-09-29T05:58:07-07:00."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def response_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """The envelope's `time`: milliseconds and the company's offset."""
    local = moment.astimezone(tz)
    return local.isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=16384)  # queries compare every row's stored time strings
def parse_time(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    """Parse a date or datetime as clients send it (with or without offset; offsets like -0700).
    A value without an offset is read in the company's time zone."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        else:
            candidate = text.replace("Z", "+00:00")
            if len(candidate) > 5 and candidate[-5] in "+-" and candidate[-3] != ":":
                candidate = candidate[:-2] + ":" + candidate[-2:]
            parsed = dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
