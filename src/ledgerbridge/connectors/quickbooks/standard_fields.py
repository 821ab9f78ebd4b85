"""Standard QBO invoice fields as targets of custom field mappings, beside sales-form custom
fields: a mapping whose QuickBooks field is one of these names writes (and reads) that field.

- TrackingNum: text, 31 characters at most.
- ShipDate: a date (YYYY-MM-DD, or a HubSpot date-time, of which the date is kept).
- ShipMethodRef: the shipping method's name (QBO keeps it as the reference's value).
- ShipAddr: the shipping address, one address line per line of text (5 at most).
- SalesTermRef: a payment term by name ("Net 30"); QBO holds the term's id, so reads turn it
  back into the name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledgerbridge.engine.fieldmap import QBO_STANDARD_FIELDS
from ledgerbridge.errors import Invalid

TRACKING_NUM_MAX = 31
SHIP_ADDR_LINES = 5
STANDARD_FIELDS = QBO_STANDARD_FIELDS
_BY_LOWER = {name.lower(): name for name in STANDARD_FIELDS}


def standard_name(key: str) -> str | None:
    """The standard field a mapping key names (case-insensitive), else None."""
    return _BY_LOWER.get(key.strip().lower())


def split(values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(standard fields by their QBO name, sales-form custom fields as given)."""
    standard: dict[str, str] = {}
    custom: dict[str, str] = {}
    for key, value in values.items():
        name = standard_name(key)
        if name is None:
            custom[key] = value
        else:
            standard[name] = value
    return standard, custom


def to_wire(standard: Mapping[str, str], term_ids: Mapping[str, str]) -> dict[str, Any]:
    """Body fields for the standard fields; a value QBO would refuse fails with a fix hint."""
    body: dict[str, Any] = {}
    for name, raw in standard.items():
        value = raw.strip()
        if name == "TrackingNum":
            if len(value) > TRACKING_NUM_MAX:
                raise Invalid(
                    message=f"Tracking number {value!r} is longer than QuickBooks allows "
                    f"({TRACKING_NUM_MAX} characters)",
                    hint="Shorten the tracking number in HubSpot, then retry",
                    code="tracking_num_length",
                )
            body["TrackingNum"] = value
        elif name == "ShipDate":
            body["ShipDate"] = _date(value).isoformat()
        elif name == "ShipMethodRef":
            body["ShipMethodRef"] = {"value": value, "name": value}
        elif name == "ShipAddr":
            lines = [part.strip() for part in value.replace("\r", "").split("\n") if part.strip()]
            if len(lines) > SHIP_ADDR_LINES:
                lines = [*lines[: SHIP_ADDR_LINES - 1], ", ".join(lines[SHIP_ADDR_LINES - 1 :])]
            body["ShipAddr"] = {f"Line{n}": line for n, line in enumerate(lines, start=1)}
        elif name == "SalesTermRef":
            term = term_ids.get(value.lower())
            if term is None:
                raise Invalid(
                    message=f"QuickBooks has no payment term named {value!r}",
                    hint="Use a term that exists in QuickBooks (Settings → Payment terms), or "
                    "add it there, then retry",
                    code="unknown_term",
                )
            body["SalesTermRef"] = {"value": term}
    return body


def from_wire(row: Mapping[str, Any], term_names: Mapping[str, str]) -> dict[str, str]:
    """The standard fields an invoice holds, as text, keyed by their QBO name."""
    out: dict[str, str] = {}
    if row.get("TrackingNum"):
        out["TrackingNum"] = str(row["TrackingNum"])
    if row.get("ShipDate"):
        out["ShipDate"] = str(row["ShipDate"])[:10]
    method = row.get("ShipMethodRef") or {}
    if isinstance(method, Mapping) and (method.get("name") or method.get("value")):
        out["ShipMethodRef"] = str(method.get("name") or method.get("value"))
    addr = row.get("ShipAddr") or {}
    if isinstance(addr, Mapping):
        lines = [str(addr[f"Line{n}"]) for n in range(1, 6) if addr.get(f"Line{n}")]
        if lines:
            out["ShipAddr"] = "\n".join(lines)
    term = row.get("SalesTermRef") or {}
    if isinstance(term, Mapping) and term.get("value") is not None:
        term_id = str(term["value"])
        out["SalesTermRef"] = term_names.get(term_id) or str(term.get("name") or term_id)
    return out


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:  # HubSpot date properties also travel as epoch milliseconds
        return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC).date()
    except (ValueError, OverflowError):
        raise Invalid(
            message=f"Ship date {value!r} is not a date",
            hint="Enter the ship date as a date (YYYY-MM-DD) in HubSpot, then retry",
            code="ship_date",
        ) from None
