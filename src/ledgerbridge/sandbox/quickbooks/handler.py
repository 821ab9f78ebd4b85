"""The per-entity rule interface, and request cleaning shared by all entities.

QBO is lenient about what python-quickbooks puts on the wire (empty strings for unset values,
integer SyncTokens, `Ref` objects with empty name/type, zero defaults, read-only fields echoed
back) and strict about unknown properties; `clean` implements the lenient half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Env

COMMON_READ_ONLY = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})

# Defaults python-quickbooks serialises that mean "unset" and that QBO does not echo.
_DROP_WHEN_ZERO = {"Deposit", "TaxInclusiveAmt", "TxnLineId", "BillRate", "CostRate", "Level"}
_DROP_WHEN_FALSE = {"FreeFormAddress", "IsProject", "Organization"}
_NESTED_EMPTY_LISTS_DROP = {"LinkedTxn", "CustomField", "LineEx"}


def clean(value: Any, key: str | None = None, depth: int = 0) -> Any:
    """Recursively turn client noise into absence. Returns `None` for "drop this"."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        if key is not None and key.endswith("Ref") and key != "AttachableRef":
            ref_value = value.get("value")
            if ref_value is None or str(ref_value).strip() == "":
                return None
            out_ref: dict[str, Any] = {"value": str(ref_value).strip()}
            if value.get("name"):
                out_ref["name"] = str(value["name"])
            if value.get("type"):
                out_ref["type"] = str(value["type"])
            return out_ref
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _DROP_WHEN_ZERO and _is_zero(v):
                continue
            if k in _DROP_WHEN_FALSE and v is False:
                continue
            if k == "LinkedTxn" and isinstance(v, list):
                v = [_linked(x) for x in v if isinstance(x, dict)]
                v = [x for x in v if x]
            cleaned = clean(v, k, depth + 1)
            if cleaned is None:
                continue
            if (
                isinstance(cleaned, list)
                and not cleaned
                and depth > 0
                and k in _NESTED_EMPTY_LISTS_DROP
            ):
                continue
            out[k] = cleaned
        if key is not None and not out and key not in ("SubTotalLineDetail",):
            return None
        return out
    if isinstance(value, list):
        items = [clean(v, key, depth + 1) for v in value]
        return [i for i in items if i is not None]
    return value


def _linked(link: dict[str, Any]) -> dict[str, Any] | None:
    out = {}
    for k in ("TxnId", "TxnType", "TxnLineId"):
        v = link.get(k)
        if v is None or v == "" or (k != "TxnType" and _is_zero(v)) or (k == "TxnType" and v == 0):
            continue
        out[k] = str(v)
    return out or None


def _is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, Decimal)):
        return value == 0
    if isinstance(value, str):
        return value.strip() in ("0", "0.0", "0.00")
    return False


@dataclass
class Write:
    """One create or update as the rules see it. `data` is the merged writable view (request on
    create/full update, existing + request on sparse update); `request` is what was sent."""

    env: Env
    data: dict[str, Any]
    request: dict[str, Any]
    existing: dict[str, Any] | None
    sparse: bool
    new_id: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class Handler:
    """Business rules of one entity type. `build` returns the stored record without Id,
    SyncToken and MetaData; the generic flow in operations.py adds those."""

    entity: str = ""
    read_only: frozenset[str] = COMMON_READ_ONLY
    sticky: tuple[str, ...] = ()  # kept by a full update that omits them
    deletable: bool = False
    voidable: bool = False
    creatable: bool = True

    def build(self, w: Write) -> dict[str, Any]:
        raise NotImplementedError

    def after_save(self, env: Env, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        return None

    def after_delete(self, env: Env, record: dict[str, Any]) -> None:
        return None

    def void(self, env: Env, record: dict[str, Any]) -> dict[str, Any]:
        raise errors.unsupported_operation(f"void for {self.entity}")


def passthrough(
    data: dict[str, Any], handled: set[str], read_only: frozenset[str]
) -> dict[str, Any]:
    """Writable fields the rules do not compute, copied as sent."""
    return {
        k: v
        for k, v in data.items()
        if k not in handled and k not in read_only and not k.startswith("_")
    }


def check_enum(element: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise errors.invalid_enum(element, value)


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
