"""Sync filters: which invoices are eligible to sync.

A filter is a list of rules; an invoice is eligible when every enabled rule that applies to its
origin matches. The first rule that does not match is the one reported as having excluded it,
with a sentence a finance person can read ("Currency is any of USD, CAD (this invoice: EUR)").

Rules are pydantic models so the console can edit them and the store can keep them as JSON.
Values are strings (or lists of strings) on the wire; they are parsed per field type here:
amounts as Decimal, dates as ISO dates, everything else compared case-insensitively as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledgerbridge.domain import Invoice, Side


class FilterOp(StrEnum):
    """A sync-filter comparison."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"  # inclusive; value is [low, high]
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


# Fields a rule can test, besides "contact.<prop>", "company.<prop>", "deal.<prop>" (read from
# Invoice.context, which the HubSpot connector fills) and "custom.<prop>" (Invoice.custom_fields).
BUILTIN_FIELDS: dict[str, str] = {
    "status": "Status",
    "currency": "Currency",
    "amount": "Amount",
    "subtotal": "Subtotal",
    "issue_date": "Invoice date",
    "due_date": "Due date",
    "number": "Invoice number",
    "customer.email": "Contact email",
    "deal.pipeline": "Deal pipeline",
    "deal.dealstage": "Deal stage",
}
_DECIMAL_FIELDS = {"amount", "subtotal"}
_DATE_FIELDS = {"issue_date", "due_date"}
_CONTEXT_PREFIXES = ("contact.", "company.", "deal.")

# The words for each operator, HubSpot's own ("is any of", "is known"): the console shows
# these in the filter editor and the engine in the reason an invoice was excluded.
OP_TEXT: dict[FilterOp, str] = {
    FilterOp.EQ: "is",
    FilterOp.NE: "is not",
    FilterOp.IN: "is any of",
    FilterOp.NOT_IN: "is none of",
    FilterOp.GT: "is greater than",
    FilterOp.GTE: "is at least",
    FilterOp.LT: "is less than",
    FilterOp.LTE: "is at most",
    FilterOp.BETWEEN: "is between",
    FilterOp.CONTAINS: "contains",
    FilterOp.EXISTS: "is known",
    FilterOp.NOT_EXISTS: "is unknown",
}


class FilterRule(BaseModel):
    """One condition an invoice must meet to sync."""

    model_config = ConfigDict(frozen=True)

    field: str
    op: FilterOp
    value: str | list[str] | None = None
    label: str | None = None  # the user's own name for the rule, shown instead of the sentence
    enabled: bool = True
    # Which invoices the rule screens: those created in HubSpot (the usual case), those created
    # in QuickBooks, or both. Deal/contact/company fields only exist on HubSpot invoices.
    applies_to: Literal["hubspot", "quickbooks", "both"] = "hubspot"

    def describe(self) -> str:
        if self.label:
            return self.label
        name = field_label(self.field)
        verb = OP_TEXT[self.op]
        if self.op in (FilterOp.EXISTS, FilterOp.NOT_EXISTS):
            return f"{name} {verb}"
        if self.op is FilterOp.BETWEEN and len(_values(self.value)) == 2:
            low, high = _pair(self.value)
            return f"{name} {verb} {low} and {high}"
        return f"{name} {verb} {_value_text(self.value)}"

    def applies(self, origin: Side) -> bool:
        return self.enabled and self.applies_to in ("both", origin.value)


class SyncFilters(BaseModel):
    """The rules an invoice must pass to start syncing (all must hold)."""

    model_config = ConfigDict(frozen=True)

    rules: list[FilterRule] = Field(default_factory=list)


@dataclass(frozen=True)
class FilterResult:
    """Whether an invoice may sync and, if not, the rule and the reason in words."""

    eligible: bool
    rule: FilterRule | None = None  # the rule that excluded the invoice
    reason: str | None = None  # human-readable, e.g. "Currency is USD (this invoice: EUR)"


def field_label(name: str) -> str:
    if name in BUILTIN_FIELDS:
        return BUILTIN_FIELDS[name]
    head, _, prop = name.partition(".")
    return f"{head.capitalize()} property '{prop}'" if prop else name


def evaluate(
    rules: Sequence[FilterRule], invoice: Invoice, origin: Side = Side.HUBSPOT
) -> FilterResult:
    """Eligible when every applicable rule matches; otherwise the first rule that did not."""
    for rule in rules:
        if not rule.applies(origin):
            continue
        actual = field_value(invoice, rule.field)
        if not _matches(rule, actual):
            shown = "not set" if actual is None else str(actual)
            return FilterResult(False, rule, f"{rule.describe()} (this invoice: {shown})")
    return FilterResult(True)


def field_value(invoice: Invoice, name: str) -> str | Decimal | dt.date | None:
    if name == "status":
        return invoice.status.value
    if name == "currency":
        return invoice.currency.upper()
    if name == "amount":
        return invoice.total
    if name == "subtotal":
        return invoice.subtotal
    if name == "issue_date":
        return invoice.issue_date
    if name == "due_date":
        return invoice.due_date
    if name == "number":
        return invoice.number
    if name == "customer.email":
        return invoice.customer.match_email if invoice.customer else None
    if name.startswith("custom."):
        return _blank_to_none(invoice.custom_fields.get(name.removeprefix("custom.")))
    if name.startswith(_CONTEXT_PREFIXES):
        return _blank_to_none(invoice.context.get(name))
    return _blank_to_none(invoice.context.get(name))


def validate_rule(rule: FilterRule) -> list[str]:
    """Problems with a rule as the console would show them (empty list: fine)."""
    problems: list[str] = []
    known = rule.field in BUILTIN_FIELDS or rule.field.startswith((*_CONTEXT_PREFIXES, "custom."))
    if not known:
        problems.append(f"unknown field '{rule.field}'")
    if rule.op in (FilterOp.EXISTS, FilterOp.NOT_EXISTS):
        return problems
    if rule.value is None or rule.value == "" or rule.value == []:
        problems.append("a value is required")
        return problems
    if rule.op is FilterOp.BETWEEN and (not isinstance(rule.value, list) or len(rule.value) != 2):
        problems.append("'between' needs two values")
    parsed: list[Comparable] = []
    for raw in _values(rule.value):
        try:
            parsed.append(_parse(rule.field, raw))
        except ValueError as exc:
            problems.append(str(exc))
    if rule.op is FilterOp.BETWEEN and len(parsed) == 2:
        low, high = parsed
        try:
            if _lt(high, low):
                problems.append(f"'between' needs the lower value first ({low}, {high})")
        except TypeError:
            pass
    return problems


# ----------------------------------------------------------------------------------------------
def _matches(rule: FilterRule, actual: str | Decimal | dt.date | None) -> bool:
    op = rule.op
    if op is FilterOp.EXISTS:
        return actual is not None
    if op is FilterOp.NOT_EXISTS:
        return actual is None
    if actual is None:
        # A missing value never equals anything: it passes only the negative tests.
        return op in (FilterOp.NE, FilterOp.NOT_IN)
    actual_n = _normalize(actual)
    try:
        if op in (FilterOp.EQ, FilterOp.NE):
            equal = actual_n == _parse(rule.field, _single(rule.value))
            return equal if op is FilterOp.EQ else not equal
        if op in (FilterOp.IN, FilterOp.NOT_IN):
            inside = actual_n in {_parse(rule.field, v) for v in _values(rule.value)}
            return inside if op is FilterOp.IN else not inside
        if op is FilterOp.CONTAINS:
            return str(_parse("", _single(rule.value))) in str(actual_n)
        if op is FilterOp.BETWEEN:
            low, high = (_parse(rule.field, v) for v in _pair(rule.value))
            return _le(low, actual_n) and _le(actual_n, high)
        target = _parse(rule.field, _single(rule.value))
        if op is FilterOp.GT:
            return _lt(target, actual_n)
        if op is FilterOp.GTE:
            return _le(target, actual_n)
        if op is FilterOp.LT:
            return _lt(actual_n, target)
        if op is FilterOp.LTE:
            return _le(actual_n, target)
    except (ValueError, TypeError, ArithmeticError):
        # A rule that cannot be evaluated (bad value) excludes rather than lets everything by.
        return False
    return False


Comparable = str | Decimal | dt.date


def _normalize(value: str | Decimal | dt.date) -> Comparable:
    if isinstance(value, str):
        return value.strip().lower()
    return value


def _parse(field_name: str, raw: str) -> Comparable:
    if field_name in _DECIMAL_FIELDS:
        try:
            amount = Decimal(raw.strip().replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError(f"'{raw}' is not an amount") from exc
        if not amount.is_finite():
            # NaN and Infinity parse as Decimals but compare with nothing (NaN raises).
            raise ValueError(f"'{raw}' is not an amount")
        return amount
    if field_name in _DATE_FIELDS:
        try:
            return dt.date.fromisoformat(raw.strip()[:10])
        except ValueError as exc:
            raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD)") from exc
    return raw.strip().lower()


def _lt(a: Comparable, b: Comparable) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a < b
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    if isinstance(a, dt.date) and isinstance(b, dt.date) and type(a) is type(b):
        return a < b
    raise TypeError("not comparable")


def _le(a: Comparable, b: Comparable) -> bool:
    return a == b or _lt(a, b)


def _values(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (part.strip() for part in value.split(",")) if v]
    return [str(v) for v in value]


def _single(value: str | list[str] | None) -> str:
    values = value if isinstance(value, list) else [value or ""]
    if len(values) != 1:
        raise ValueError("expected one value")
    return str(values[0])


def _pair(value: str | list[str] | None) -> tuple[str, str]:
    values = _values(value)
    if len(values) != 2:
        raise ValueError("expected two values")
    return values[0], values[1]


def _value_text(value: str | list[str] | None) -> str:
    return ", ".join(_values(value)) if isinstance(value, list) else str(value)


def _blank_to_none(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    return str(value)
