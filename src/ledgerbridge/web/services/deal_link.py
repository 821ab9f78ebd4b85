"""An invoice's deal, from the invoice panel: which deal it belongs to, and associating a
QuickBooks-created invoice with a deal by hand.

The engine never associates a QuickBooks-created invoice with a deal (QuickBooks has no deals,
and guessing from the customer would be wrong as soon as a customer has two open deals). A
person who knows can: the panel offers the deals of the invoice's contact and company, the
association is written in HubSpot (the default invoice-to-deal association), the decision goes
to the invoice's audit trail with who made it, and the deal's roll-up properties are
recomputed at once (when deal roll-ups are on). Accountants and admins only: a viewer's POST is
refused by the role check before it gets here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerbridge.engine.deals import refresh_deals
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.web.context import Console

DEAL_PROPERTIES = ["dealname", "dealstage", "amount", "pipeline"]
QBO_SOURCE = "data_sync"  # hs_invoice_source of invoices brought in from QuickBooks
FIELD = "deal"


class DealLinkError(ValueError):
    """Why the association was not made, in words for the person who asked."""


@dataclass(frozen=True)
class DealChoice:
    id: str
    name: str
    stage: str


def _name(record: dict[str, Any], deal_id: str) -> str:
    return str((record.get("properties") or {}).get("dealname") or f"Deal {deal_id}")


async def deal_choices(
    console: Console, contact_id: str | None, company_id: str | None
) -> list[DealChoice]:
    """The deals of the invoice's contact and company (contact's first), each once."""
    ids: list[str] = []
    for kind, object_id in (("contacts", contact_id), ("companies", company_id)):
        if object_id:
            found = await console.hubspot.associations(kind, "deals", [object_id])
            ids.extend(found.get(object_id, []))
    ids = list(dict.fromkeys(ids))[:50]
    if not ids:
        return []
    records = await console.hubspot.batch_read("deals", ids, DEAL_PROPERTIES)
    return [
        DealChoice(i, _name(records[i], i), str(records[i]["properties"].get("dealstage") or ""))
        for i in ids
        if i in records
    ]


async def associate_deal(console: Console, invoice_id: str, deal_id: str, user: str) -> str:
    """Associate a QuickBooks-created invoice with a deal; returns what to tell the user."""
    deal_id = deal_id.strip()
    if not deal_id.isdigit():
        raise DealLinkError("Choose a deal to associate the invoice with.")
    invoice = await console.hubspot.get(
        "invoices", invoice_id, ["hs_invoice_source", "hs_number"], associations=["deals"]
    )
    if invoice is None or invoice.get("archived"):
        raise DealLinkError(f"HubSpot has no invoice {invoice_id} (it may have been deleted).")
    props = invoice.get("properties") or {}
    if props.get("hs_invoice_source") != QBO_SOURCE:
        raise DealLinkError(
            "This invoice was created in HubSpot: associate it with its deal in HubSpot. "
            "Only invoices that came from QuickBooks are associated here."
        )
    current = [
        str(r.get("id"))
        for r in ((invoice.get("associations") or {}).get("deals") or {}).get("results") or []
    ]
    if current:
        raise DealLinkError(
            f"The invoice already belongs to deal {current[0]}; HubSpot keeps one deal per "
            "invoice. Remove that association in HubSpot first if it is wrong."
        )
    deal = await console.hubspot.get("deals", deal_id, DEAL_PROPERTIES)
    if deal is None or deal.get("archived"):
        raise DealLinkError(f"HubSpot has no deal {deal_id} (it may have been deleted).")
    name = _name(deal, deal_id)
    await console.hubspot.associate("invoices", invoice_id, "deals", deal_id)
    console.store.audit(
        console.connection_id,
        INVOICE,
        invoice_id,
        FIELD,
        None,
        f"{name} ({deal_id})",
        f"associated by hand in the console by {user}",
    )
    number = props.get("hs_number") or invoice_id
    if not console.sync_settings().deal_rollups:
        return f"Invoice {number} now belongs to the deal {name}."
    updated = await refresh_deals(console.bundle().crm, [invoice_id])
    if updated:
        return f"Invoice {number} now belongs to the deal {name}; its totals are updated."
    return (
        f"Invoice {number} now belongs to the deal {name}. Its totals could not be updated "
        "just now; they follow with the invoice's next change."
    )


async def deal_picker(console: Console, view: Any) -> list[DealChoice] | None:
    """The deals the panel offers for a QuickBooks-created invoice that has none; None when
    the panel offers no association (a HubSpot invoice, or one that has its deal)."""
    if view is None or view.deal or view.raw.get("hs_invoice_source") != QBO_SOURCE:
        return None
    contact = (view.contact or {}).get("id")
    company = (view.company or {}).get("id")
    return await deal_choices(console, contact, company)
