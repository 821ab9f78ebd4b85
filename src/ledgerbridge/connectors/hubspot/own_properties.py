"""ledgerbridge's own HubSpot properties: the sync status, error, QuickBooks id and number on
invoices, the payment key on payments, the QuickBooks customer id on contacts, the roll-ups on
deals; all in the `ledgerbridge` property group, created where missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.hubspot.deals import DEAL_ROLLUP_PROPERTIES
from ledgerbridge.connectors.hubspot.writes import QBO_CUSTOMER_ID
from ledgerbridge.domain import SyncStatus

GROUP = "ledgerbridge"


def _text(
    name: str, label: str, description: str, unique: bool = False, textarea: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "description": description,
        "groupName": GROUP,
        "type": "string",
        "fieldType": "textarea" if textarea else "text",
        "hasUniqueValue": unique,
    }


INVOICE_SYNC_PROPERTIES: list[dict[str, Any]] = [
    {
        "name": tr.SYNC_STATUS,
        "label": "QuickBooks sync status",
        "groupName": GROUP,
        "description": "Where ledgerbridge is with this invoice.",
        "type": "enumeration",
        "fieldType": "select",
        "options": [
            {"label": s.value.title(), "value": s.value, "displayOrder": n, "hidden": False}
            for n, s in enumerate(SyncStatus)
        ],
    },
    _text(
        tr.SYNC_ERROR,
        "QuickBooks sync error",
        "Why the last sync failed, and how to fix it.",
        textarea=True,
    ),
    _text(
        tr.QBO_INVOICE_ID, "QuickBooks invoice id", "The invoice's Id in QuickBooks.", unique=True
    ),
    _text(tr.QBO_DOC_NUMBER, "QuickBooks invoice number", "The invoice's DocNumber in QuickBooks."),
]
PAYMENT_SYNC_PROPERTIES = [
    _text(
        tr.PAYMENT_KEY,
        "ledgerbridge payment key",
        "Which QuickBooks payment share this is.",
        unique=True,
    )
]


CONTACT_SYNC_PROPERTIES = [
    _text(
        QBO_CUSTOMER_ID, "QuickBooks customer id", "The customer's Id in QuickBooks.", unique=True
    )
]


async def ensure_own_properties(api: HubSpotApi) -> None:
    """Create ledgerbridge's own properties (and their group) where missing; give an older
    definition the options it lacks."""
    for object_type, wanted in (
        ("invoices", INVOICE_SYNC_PROPERTIES),
        ("commerce_payments", PAYMENT_SYNC_PROPERTIES),
        ("contacts", CONTACT_SYNC_PROPERTIES),
        ("deals", DEAL_ROLLUP_PROPERTIES),
    ):
        defined = {p.get("name"): p for p in await api.properties(object_type)}
        existing = set(defined)
        await _add_missing_options(api, object_type, wanted, defined)
        missing = [p for p in wanted if p["name"] not in existing]
        if not missing:
            continue
        await api.create_property_group(object_type, GROUP, "ledgerbridge")
        for definition in missing:
            await api.create_property(object_type, definition)


async def _add_missing_options(
    api: HubSpotApi,
    object_type: str,
    wanted: list[dict[str, Any]],
    defined: Mapping[Any, Mapping[str, Any]],
) -> None:
    """A portal set up by an earlier version lacks newer options (e.g. `diverged` on the sync
    status): writing one would be refused, so the definition gets the whole option list."""
    for definition in wanted:
        current = defined.get(definition["name"])
        if current is None or "options" not in definition:
            continue
        have = {o.get("value") for o in current.get("options") or []}
        if any(o["value"] not in have for o in definition["options"]):
            await api.update_property(
                object_type, definition["name"], {"options": definition["options"]}
            )
