"""Contacts and products as the engine's customers and items after creation: read, written
back field by field, and watched through search feeds (engine/masterdata.py).

A contact's fields: firstname, lastname, email, phone and the address (address, city, state,
zip, country). A product's: name, description, price, and whether it is archived (an archived
product reads as inactive; archiving is the only way HubSpot takes a product out of use).

The feeds start at "now" on their first call: contacts and products changed before the
connection existed are not news (the engine links them when an invoice needs them), and a
portal's whole contact list is never paged through just to find the few that are linked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.hubspot.feed import SearchFeed, encode_cursor
from ledgerbridge.connectors.hubspot.translate import contact_address, dec, props
from ledgerbridge.domain import Address, Customer, Product
from ledgerbridge.engine.ports import ChangePage

CONTACT_FIELDS = ("firstname", "lastname", "email", "phone", "address", "city", "state", "zip")
CONTACT_READ = (
    *CONTACT_FIELDS,
    "country",
    "company",
    "lastmodifieddate",
    "hs_lastmodifieddate",
)
PRODUCT_READ = ("name", "description", "price", "hs_sku", "hs_lastmodifieddate")


def contact_from_wire(record: Mapping[str, Any], company_name: str | None = None) -> Customer:
    """`company_name`: the name of the contact's primary company, else its `company` text."""
    p = props(record)
    address = contact_address(p)
    return Customer(
        email=p.get("email") or None,
        first_name=p.get("firstname") or None,
        last_name=p.get("lastname") or None,
        company_name=company_name or p.get("company") or None,
        phone=p.get("phone") or None,
        address=address,
        id=str(record.get("id")),
        version=p.get("lastmodifieddate") or p.get("hs_lastmodifieddate") or None,
    )


def contact_update(customer: Customer, fields: Sequence[str]) -> dict[str, str]:
    """Properties for the named canonical fields ("" clears a property)."""
    out: dict[str, str] = {}
    a = customer.address or Address()
    for name in fields:
        if name == "first_name":
            out["firstname"] = customer.first_name or ""
        elif name == "last_name":
            out["lastname"] = customer.last_name or ""
        elif name == "email":
            out["email"] = (customer.email or "").strip()
        elif name == "phone":
            out["phone"] = customer.phone or ""
        elif name == "billing_address":
            out.update(
                {
                    "address": a.line1 or "",
                    "city": a.city or "",
                    "state": a.state or "",
                    "zip": a.postal_code or "",
                    "country": a.country or "",
                }
            )
    return out


def product_from_wire(record: Mapping[str, Any]) -> Product:
    p = props(record)
    return Product(
        name=str(p.get("name") or ""),
        sku=p.get("hs_sku") or None,
        description=p.get("description") or None,
        unit_price=dec(p.get("price"), Decimal(0)) or Decimal(0),
        id=str(record.get("id")),
        active=not record.get("archived"),
        version=p.get("hs_lastmodifieddate") or None,
    )


def product_update(product: Product, fields: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in fields:
        if name == "name":
            out["name"] = product.name
        elif name == "description":
            out["description"] = product.description or ""
        elif name == "unit_price":
            out["price"] = format(product.unit_price, "f")
    return out


class MasterDataReader:
    def __init__(
        self, api: HubSpotApi, *, settle_ms: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.api = api
        self.clock = clock
        self.contact_feed = SearchFeed(
            api, "contacts", settle_ms=settle_ms, clock=clock, modified="lastmodifieddate"
        )
        self.product_feed = SearchFeed(api, "products", settle_ms=settle_ms, clock=clock)
        self.company_feed = SearchFeed(api, "companies", settle_ms=settle_ms, clock=clock)

    async def _page(self, feed: SearchFeed, cursor: str | None, limit: int) -> ChangePage:
        if cursor is None:
            now = encode_cursor(int(self.clock() * 1000), 0)
            return ChangePage(ids=[], cursor=now, done=True)
        return await feed.page(cursor, limit)

    async def changed_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self._page(self.contact_feed, cursor, limit)

    async def changed_products(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self._page(self.product_feed, cursor, limit)

    async def changed_company_contacts(self, cursor: str | None, limit: int = 100) -> ChangePage:
        """The contacts of the companies changed since `cursor` (a company's rename changes
        no contact's modification date, so the contact feed alone never sees it)."""
        page = await self._page(self.company_feed, cursor, limit)
        contacts = await self.company_contact_ids(page.ids)
        return ChangePage(ids=contacts, cursor=page.cursor, done=page.done)

    async def company_contact_ids(self, company_ids: Sequence[str]) -> list[str]:
        if not company_ids:
            return []
        links = await self.api.associations("companies", "contacts", list(company_ids))
        return list(dict.fromkeys(i for ids in links.values() for i in ids))

    async def get_contact(self, contact_id: str) -> Customer | None:
        record = await self.api.get(
            "contacts", contact_id, CONTACT_READ, associations=["companies"]
        )
        if record is None or record.get("archived"):
            return None
        return contact_from_wire(record, await self._company_name(record))

    async def _company_name(self, record: Mapping[str, Any]) -> str | None:
        """The name of the contact's primary company (the first one when none is marked)."""
        block = (record.get("associations") or {}).get("companies") or {}
        results = [r for r in block.get("results") or [] if r.get("id") is not None]
        if not results:
            return None
        primary = next(
            (r for r in results if str(r.get("type") or "") == "contact_to_company"), results[0]
        )
        company = await self.api.get("companies", str(primary["id"]), ["name"])
        if company is None or company.get("archived"):
            return None
        return str(props(company).get("name") or "") or None

    async def update_contact(
        self, contact_id: str, customer: Customer, fields: Sequence[str]
    ) -> Customer:
        values = contact_update(customer, fields)
        if values:
            await self.api.update("contacts", contact_id, values)
        again = await self.get_contact(contact_id)
        return again if again is not None else customer

    async def get_product(self, product_id: str) -> Product | None:
        record = await self.api.get("products", product_id, PRODUCT_READ)
        if record is None or record.get("archived"):
            return None
        return product_from_wire(record)

    async def update_product(
        self, product_id: str, product: Product, fields: Sequence[str]
    ) -> Product:
        values = product_update(product, fields)
        if values:
            await self.api.update("products", product_id, values)
        if "active" in fields and not product.active:
            await self.api.archive("products", product_id)
            return product
        again = await self.get_product(product_id)
        return again if again is not None else product
