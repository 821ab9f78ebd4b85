"""A person's choice for a diverged field: "use HubSpot's" or "use QuickBooks'". Pure.

The value is not written here: the choice is turned into the link's base snapshots so that the
engine's next sync step sees the field as changed on the chosen side only, and copies it to the
other side through the ordinary path (validation, customers and items resolved, rounding parity
check, audit, verification). Every other field keeps both sides' current readings as their base,
so nothing else moves.
"""

from __future__ import annotations

from dataclasses import replace

from ledgerbridge.domain import Invoice, Side
from ledgerbridge.engine.fieldmap import CUSTOM_PREFIX, SyncSettings
from ledgerbridge.engine.ports import Link
from ledgerbridge.engine.snapshot import invoice_snapshot

# Fields a person can choose a side for: the merged ones. Totals and balances follow from them.
CHOOSABLE = ("customer", "lines", "discount", "issue_date", "due_date", "memo", "voided")
# A base value no real reading can have: the chosen side's field then counts as changed.
_CHOSEN = {"ledgerbridge": "chosen by a person"}


def choosable(field: str) -> bool:
    return field in CHOOSABLE or field.startswith(CUSTOM_PREFIX)


def resolution_link(
    link: Link,
    hubspot: Invoice,
    quickbooks: Invoice,
    field: str,
    use: Side,
    settings: SyncSettings,
) -> Link:
    """The link to save so that the next sync step copies `field` from `use` to the other side.

    Raises ValueError for a field no sync step can write (totals, balances: fix their lines or
    payments instead)."""
    if not choosable(field):
        raise ValueError(f"{field} cannot be chosen; it follows from the lines and payments")
    snap_hs = invoice_snapshot(hubspot, Side.HUBSPOT, settings)
    snap_qbo = invoice_snapshot(quickbooks, Side.QUICKBOOKS, settings)
    if field not in snap_hs:
        raise ValueError(f"{field} is not a synced field of this connection")
    bases = {Side.HUBSPOT: dict(snap_hs), Side.QUICKBOOKS: dict(snap_qbo)}
    bases[use][field] = _CHOSEN
    return replace(
        link,
        base={"hubspot": bases[Side.HUBSPOT], "quickbooks": bases[Side.QUICKBOOKS]},
        # The chosen side counts as changed (no version to suppress it); the other side as
        # read now, so it is seen as unchanged.
        hubspot_version=hubspot.version if use is Side.QUICKBOOKS else None,
        qbo_version=quickbooks.version if use is Side.HUBSPOT else None,
    )
