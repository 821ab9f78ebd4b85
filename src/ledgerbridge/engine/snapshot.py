"""Canonical snapshots: the per-field, JSON-able view of an invoice the merge works on.

A record link keeps one snapshot per side ("base"), taken from that side's own reading when it
was last synced. Change detection compares a side with its own base, so translation details
that differ between the two systems (an item's name in QBO vs the line name in HubSpot) never
look like edits. Values are compared across sides only to avoid writing a value that is already
there, with `equivalent`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ledgerbridge.domain import Invoice, InvoiceStatus, Side
from ledgerbridge.engine.fieldmap import (
    F_CUSTOMER,
    F_DISCOUNT,
    F_DUE_DATE,
    F_ISSUE_DATE,
    F_LINES,
    F_MEMO,
    F_VOIDED,
    CustomFieldMapping,
    SyncSettings,
)

Snapshot = dict[str, Any]


def dec(value: Decimal) -> str:
    """Decimal as a canonical string: 150.00, 150.0 and 150 are the same number."""
    normalized = value.normalize()
    text = format(normalized, "f")
    return "0" if text in ("-0", "0") else text


def invoice_snapshot(invoice: Invoice, side: Side, settings: SyncSettings) -> Snapshot:
    snap: Snapshot = {
        F_CUSTOMER: invoice.customer.match_email if invoice.customer else None,
        F_LINES: [
            {
                "name": line.name,
                "description": line.description,
                "sku": line.sku,
                "quantity": dec(line.quantity),
                "unit_price": dec(line.unit_price),
                "kind": line.kind.value,
            }
            for line in invoice.lines
        ],
        F_DISCOUNT: (
            {"kind": invoice.discount.kind, "value": dec(invoice.discount.value)}
            if invoice.discount and invoice.discount.value
            else None
        ),
        F_ISSUE_DATE: invoice.issue_date.isoformat() if invoice.issue_date else None,
        F_DUE_DATE: invoice.due_date.isoformat() if invoice.due_date else None,
        F_MEMO: (invoice.memo or "").strip() or None,
        F_VOIDED: invoice.status is InvoiceStatus.VOIDED,
    }
    for mapping in settings.custom_mappings:
        snap[mapping.key] = custom_value(mapping, invoice, side)
    return snap


def custom_value(mapping: CustomFieldMapping, invoice: Invoice, side: Side) -> str | None:
    if side is Side.HUBSPOT:
        return mapping.hubspot_value(invoice)
    return mapping.qbo_value(invoice)


def snapshot_hash(snap: Mapping[str, Any]) -> str:
    text = json.dumps(snap, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def equivalent(field_name: str, a: Any, b: Any) -> bool:
    """Cross-side equality: same meaning even if each system spells it differently."""
    if field_name == F_LINES:
        return _line_signature(a) == _line_signature(b)
    if field_name == F_MEMO or field_name.startswith("custom:"):
        return (a or None) == (b or None)
    return bool(a == b)


def _line_signature(lines: Any) -> list[tuple[str, str]]:
    # Quantity and unit price: what both systems keep exactly. Names differ (QBO shows the
    # item's name), and a HubSpot fee is a plain item line in QBO.
    if not isinstance(lines, Sequence):
        return []
    return [
        (str(line.get("quantity")), str(line.get("unit_price")))
        for line in lines
        if isinstance(line, Mapping)
    ]


def copy_fields(
    target: Invoice,
    source: Invoice,
    fields: Sequence[str],
    settings: SyncSettings,
    target_side: Side,
) -> Invoice:
    """`target` with the named canonical fields taken from `source` (the other side)."""
    changes: dict[str, Any] = {}
    custom = dict(target.custom_fields)
    for name in fields:
        if name == F_CUSTOMER:
            changes["customer"] = source.customer
        elif name == F_LINES:
            changes["lines"] = source.lines
        elif name == F_DISCOUNT:
            changes["discount"] = source.discount
        elif name == F_ISSUE_DATE:
            changes["issue_date"] = source.issue_date
        elif name == F_DUE_DATE:
            changes["due_date"] = source.due_date
        elif name == F_MEMO:
            changes["memo"] = source.memo
        elif name == F_VOIDED:
            if source.status is InvoiceStatus.VOIDED:
                changes["status"] = InvoiceStatus.VOIDED
        else:
            mapping = next((m for m in settings.custom_mappings if m.key == name), None)
            if mapping is None:
                continue
            value = custom_value(mapping, source, target_side.other)
            ref = mapping.hubspot_property if target_side is Side.HUBSPOT else mapping.qbo_ref
            if value is None:
                custom.pop(ref, None)
            else:
                custom[ref] = value
            if mapping.hubspot_property == "hs_purchase_order_number":
                changes["po_number"] = value
    changes["custom_fields"] = custom
    return replace(target, **changes)
