"""How records name each other across the two systems, and the sync properties on HubSpot.

After a crash between a write and its bookkeeping, these are the natural keys that find the
counterpart again: the HubSpot id in the marker ledgerbridge leaves on a QBO invoice, and the
`qbo_invoice_id` ledgerbridge writes on a HubSpot invoice.
"""

from __future__ import annotations

from ledgerbridge.domain import Invoice, Side, SyncStatus
from ledgerbridge.engine.fieldmap import SYNC_PROPERTIES


def external_key(hubspot_invoice_id: str) -> str:
    """The marker stored on a QBO invoice so it can be found again after an unknown outcome."""
    return f"hubspot-invoice:{hubspot_invoice_id}"


def sync_properties_differ(
    invoice: Invoice, status: SyncStatus, qbo_id: str | None, doc_number: str | None
) -> bool:
    """Whether the ledgerbridge_* status / QBO id / number on the HubSpot invoice need writing.

    The HubSpot connector reports them in `context` as 'invoice.<property>' (they are not user
    custom fields); custom_fields is looked at too for connectors that put them there."""
    wanted = {
        SYNC_PROPERTIES[0]: status.value,
        SYNC_PROPERTIES[2]: qbo_id,
        SYNC_PROPERTIES[3]: doc_number,
    }
    for name, value in wanted.items():
        if value is None:
            continue  # never blank an id we do not know
        current = invoice.context.get(f"invoice.{name}") or invoice.custom_fields.get(name) or None
        if current != value:
            return True
    return False


def counterpart_hint(invoice: Invoice, side: Side) -> str | None:
    """The other side's id a record names itself (natural key after a lost link): the QBO id
    on a HubSpot invoice, or the HubSpot id in the marker on a QBO invoice."""
    if side is Side.HUBSPOT:
        value = invoice.context.get(f"invoice.{SYNC_PROPERTIES[2]}") or invoice.custom_fields.get(
            SYNC_PROPERTIES[2]
        )
        return str(value) if value else None
    key = invoice.context.get("ledgerbridge.key") or ""
    prefix = external_key("")
    return key[len(prefix) :] if key.startswith(prefix) and len(key) > len(prefix) else None
