"""Writing to HubSpot idempotently.

- Invoices from QBO: batch upsert on the unique `qbo_invoice_id` property.
- Contacts: found by email (search), else upserted by email; a customer without an email is
  upserted by the unique contact property `qbo_customer_id`.
- Line items, discounts, fees and taxes: reconciled, not appended. The invoice's current
  children are compared with the wanted ones by content; extras are archived and missing ones
  created. After an unknown outcome the comparison simply runs again, so a create whose answer
  was lost can never leave a duplicate line behind.
- Payments: batch upsert on the unique `ledgerbridge_payment_key`, then associated (PUT).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.domain import Customer
from ledgerbridge.errors import Invalid, UnknownOutcome

QBO_CUSTOMER_ID = "qbo_customer_id"
# HUBSPOT_DEFINED association type ids, child → invoice.
TO_INVOICE_TYPE = {"line_items": 410, "discounts": 412, "fees": 414, "taxes": 416}
RECONCILE_ATTEMPTS = 3


def contact_properties(customer: Customer) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (
        ("email", customer.email),
        ("firstname", customer.first_name),
        ("lastname", customer.last_name),
        ("phone", customer.phone),
        ("company", customer.company_name),
    ):
        if value:
            out[name] = value.strip()
    if not customer.first_name and not customer.last_name and customer.display_name:
        out["lastname"] = customer.display_name
    if customer.address is not None:
        a = customer.address
        for name, value in (
            ("address", a.line1),
            ("city", a.city),
            ("state", a.state),
            ("zip", a.postal_code),
            ("country", a.country),
        ):
            if value:
                out[name] = value
    return out


class Writer:
    def __init__(self, api: HubSpotApi) -> None:
        self.api = api

    async def ensure_contact(self, customer: Customer | None) -> str:
        if customer is None:
            raise Invalid(
                message="The invoice has no customer",
                hint="Set a customer on the QuickBooks invoice, then retry.",
            )
        email = customer.match_email
        props = contact_properties(customer)
        if email:
            found = await self.api.search(
                "contacts",
                {
                    "filterGroups": [
                        {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
                    ],
                    "properties": ["email"],
                    "limit": 1,
                },
            )
            results = found.get("results") or []
            if results:
                return str(results[0]["id"])
            props["email"] = email
            upserted = await self.api.batch_upsert("contacts", "email", [(email, props)])
        else:
            if not customer.id:
                raise Invalid(
                    message="The customer has neither an email nor a QuickBooks id",
                    hint="Add an email address to the QuickBooks customer, then retry.",
                )
            props[QBO_CUSTOMER_ID] = customer.id
            upserted = await self.api.batch_upsert(
                "contacts", QBO_CUSTOMER_ID, [(customer.id, props)]
            )
        return str(upserted[0]["id"])

    async def set_contact(self, invoice_id: str, contact_id: str, current: Sequence[str]) -> None:
        # Opening an invoice needs exactly one contact.
        for other in current:
            if other != contact_id:
                await self.api.unassociate("invoices", invoice_id, "contacts", other)
        if contact_id not in current:
            await self.api.associate("invoices", invoice_id, "contacts", contact_id)
            await self._associate_primary_company(invoice_id, contact_id)

    async def _associate_primary_company(self, invoice_id: str, contact_id: str) -> None:
        """An invoice made in QuickBooks belongs to the contact's company too, as one made in
        HubSpot does: without it the company's invoice list misses it."""
        companies = (await self.api.associations("contacts", "companies", [contact_id])).get(
            contact_id, []
        )
        if not companies:
            return
        linked = (await self.api.associations("invoices", "companies", [invoice_id])).get(
            invoice_id, []
        )
        if companies[0] not in linked:
            await self.api.associate("invoices", invoice_id, "companies", companies[0])

    async def reconcile_children(
        self,
        invoice_id: str,
        kind: str,
        wanted: Sequence[Mapping[str, str]],
        properties: Sequence[str],
        signature: Callable[[Mapping[str, Any]], tuple[Any, ...]],
        current_ids: Sequence[str] | None = None,
    ) -> bool:
        """Make the invoice's `kind` children exactly `wanted`. Returns True if anything changed."""
        changed = False
        for attempt in range(RECONCILE_ATTEMPTS):
            if current_ids is None or attempt > 0:
                current_ids = (await self.api.associations("invoices", kind, [invoice_id])).get(
                    invoice_id, []
                )
            current = (
                await self.api.batch_read(kind, current_ids, properties) if current_ids else {}
            )
            need = Counter(signature(w) for w in wanted)
            extras: list[str] = []
            for child_id in current_ids:
                record = current.get(child_id)
                if record is None:
                    continue
                sig = signature(record.get("properties") or {})
                if need[sig] > 0:
                    need[sig] -= 1
                else:
                    extras.append(child_id)
            missing: list[Mapping[str, str]] = []
            for w in wanted:
                sig = signature(w)
                if need[sig] > 0:
                    need[sig] -= 1
                    missing.append(w)
            if not extras and not missing:
                return changed
            try:
                if extras:
                    await self.api.batch_archive(kind, extras)
                if missing:
                    association = {
                        "to": {"id": invoice_id},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": TO_INVOICE_TYPE[kind],
                            }
                        ],
                    }
                    await self.api.batch_create(
                        kind,
                        [{"properties": dict(w), "associations": [association]} for w in missing],
                    )
                changed = True
                return changed
            except UnknownOutcome:
                changed = True
                if attempt == RECONCILE_ATTEMPTS - 1:
                    raise
        return changed
