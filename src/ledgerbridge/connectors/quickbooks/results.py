"""Small helpers shared by the QBO connector's modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ledgerbridge.engine.ports import WriteResult


class Recovery:
    """Wraps a natural-key lookup so the caller can tell a found record from a new one."""

    def __init__(self, lookup: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
        self.lookup = lookup
        self.found = False

    async def __call__(self) -> dict[str, Any] | None:
        row = await self.lookup()
        self.found = row is not None
        return row


def write_result(row: Mapping[str, Any], created: bool = True) -> WriteResult:
    return WriteResult(
        id=str(row["Id"]),
        version=str(row["SyncToken"]) if row.get("SyncToken") is not None else None,
        number=row.get("DocNumber") or None,
        created=created,
        # QBO's own total, so the engine can check it against the total it sent (parity check).
        total=Decimal(str(row["TotalAmt"])) if row.get("TotalAmt") is not None else None,
    )


def with_invoice(result: WriteResult, row: Mapping[str, Any], home: str | None) -> WriteResult:
    """The result carrying the invoice as QBO answered it (`home`: the company's currency; None
    leaves the record out)."""
    if home is None or not isinstance(row.get("Line"), list):
        return result
    from ledgerbridge.connectors.quickbooks.translate import invoice_from_wire

    return replace(result, record=invoice_from_wire(row, home))
