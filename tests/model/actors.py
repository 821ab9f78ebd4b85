"""The two users of the model-based test: a HubSpot user and a QBO bookkeeper, each changing
their system through its public HTTP API (in-process, httpx.ASGITransport), never through the
sandboxes' Python internals. Every method returns the HTTP response's JSON (or raises on an
unexpected status), so a refusal the model expects can be told from a bug."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx


class Refused(Exception):
    """The API refused the change with a 4xx (a business rule, e.g. voiding a paid invoice)."""


def _assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _check(response: httpx.Response) -> Any:
    if 400 <= response.status_code < 500:
        raise Refused(f"{response.status_code}: {response.text[:300]}")
    response.raise_for_status()
    return response.json() if response.content else None


class HubSpotUser:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.headers = {"Authorization": "Bearer pat-sandbox"}

    async def create(
        self, kind: str, properties: dict[str, Any], associations: list[Any] | None = None
    ) -> str:
        body: dict[str, Any] = {"properties": properties}
        if associations:
            body["associations"] = associations
        r = await self.http.post(f"/crm/v3/objects/{kind}", json=body, headers=self.headers)
        return str(_check(r)["id"])

    async def update(self, kind: str, object_id: str, properties: dict[str, Any]) -> None:
        r = await self.http.patch(
            f"/crm/v3/objects/{kind}/{object_id}",
            json={"properties": properties},
            headers=self.headers,
        )
        _check(r)

    async def delete(self, kind: str, object_id: str) -> None:
        _check(await self.http.delete(f"/crm/v3/objects/{kind}/{object_id}", headers=self.headers))

    async def get(
        self, kind: str, object_id: str, associations: str = "", properties: str = ""
    ) -> dict[str, Any]:
        params = {"associations": associations} if associations else {}
        if properties:  # HubSpot answers only an object's default properties otherwise
            params["properties"] = properties
        r = await self.http.get(
            f"/crm/v3/objects/{kind}/{object_id}", params=params, headers=self.headers
        )
        return dict(_check(r))

    async def associated(self, kind: str, object_id: str, to_kind: str) -> list[str]:
        r = await self.http.get(
            f"/crm/v4/objects/{kind}/{object_id}/associations/{to_kind}", headers=self.headers
        )
        return [str(x["toObjectId"]) for x in _check(r)["results"]]

    async def associate(self, kind: str, object_id: str, to_kind: str, to_id: str) -> None:
        r = await self.http.put(
            f"/crm/v4/objects/{kind}/{object_id}/associations/default/{to_kind}/{to_id}",
            headers=self.headers,
        )
        _check(r)

    async def unassociate(self, kind: str, object_id: str, to_kind: str, to_id: str) -> None:
        r = await self.http.delete(
            f"/crm/v4/objects/{kind}/{object_id}/associations/{to_kind}/{to_id}",
            headers=self.headers,
        )
        _check(r)

    async def add_line(self, invoice_id: str, quantity: int, price: str, name: str) -> str:
        return await self.create(
            "line_items",
            {
                "name": name,
                "quantity": str(quantity),
                "price": price,
                "hs_line_item_currency_code": "USD",
            },
            [_assoc(invoice_id, 410)],
        )

    async def add_adjustment(self, kind: str, invoice_id: str, value: str, percent: bool) -> str:
        """A discount, fee or tax object on the invoice (association ids 412/414/416)."""
        type_id = {"discounts": 412, "fees": 414, "taxes": 416}[kind]
        return await self.create(
            kind,
            {
                "hs_label": kind[:-1],
                "hs_type": "PERCENT" if percent else "FIXED",
                "hs_value": value,
                "hs_sort_order": "1",
            },
            [_assoc(invoice_id, type_id)],
        )

    async def invoice(self, contact_id: str | None, **properties: Any) -> str:
        props = {"hs_currency": "USD", **{k: v for k, v in properties.items() if v is not None}}
        return await self.create(
            "invoices", props, [_assoc(contact_id, 177)] if contact_id else None
        )

    async def pay_by_link(self, amount: Decimal, contact_id: str, reference: str) -> str:
        """A payment through a payment link: tied to the contact, to no invoice."""
        return await self.create(
            "commerce_payments",
            {
                "hs_initial_amount": str(amount),
                "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_currency_code": "USD",
                "hs_payment_method_type": "card",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": reference,
            },
            [_assoc(contact_id, 387)],
        )

    async def pay(
        self,
        invoice_id: str,
        amount: Decimal,
        contact_id: str | None,
        also: tuple[str, ...] = (),
    ) -> str:
        """A payment of `amount` on the invoice (and on the invoices `also` names: one payment
        over several invoices)."""
        associations = [_assoc(i, 542) for i in (invoice_id, *also)]
        if contact_id:
            associations.append(_assoc(contact_id, 387))
        return await self.create(
            "commerce_payments",
            {
                "hs_initial_amount": str(amount),
                "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_currency_code": "USD",
                "hs_payment_method_type": "ach",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": f"REF-{invoice_id}",
            },
            associations,
        )


class QboUser:
    def __init__(self, http: httpx.AsyncClient, realm: str) -> None:
        self.http = http
        self.base = f"/v3/company/{realm}"
        self.headers = {"Authorization": "Bearer qbo-sandbox-token", "Accept": "application/json"}

    async def write(
        self, entity: str, body: dict[str, Any], operation: str | None = None
    ) -> dict[str, Any]:
        params = {"minorversion": "75", **({"operation": operation} if operation else {})}
        r = await self.http.post(
            f"{self.base}/{entity.lower()}", json=body, params=params, headers=self.headers
        )
        return dict(_check(r)[entity])

    async def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        r = await self.http.get(
            f"{self.base}/{entity.lower()}/{entity_id}",
            params={"minorversion": "75"},
            headers=self.headers,
        )
        return dict(_check(r)[entity])

    async def query(self, text: str) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.base}/query", params={"query": text, "minorversion": "75"}, headers=self.headers
        )
        response = _check(r)["QueryResponse"]
        return [dict(x) for values in response.values() if isinstance(values, list) for x in values]

    async def sparse(self, entity: str, entity_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        current = await self.read(entity, entity_id)
        body = {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True, **changes}
        return await self.write(entity, body)

    async def void(self, entity: str, entity_id: str) -> dict[str, Any]:
        current = await self.read(entity, entity_id)
        return await self.write(
            entity, {"Id": entity_id, "SyncToken": current["SyncToken"]}, "void"
        )

    async def delete(self, entity: str, entity_id: str) -> None:
        current = await self.read(entity, entity_id)
        await self.write(entity, {"Id": entity_id, "SyncToken": current["SyncToken"]}, "delete")


def sales_line(item_id: str, quantity: int, price: str) -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": str(quantity * Decimal(price)),
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": quantity, "UnitPrice": price},
    }
