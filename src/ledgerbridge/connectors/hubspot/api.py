"""Low-level HubSpot CRM API calls for one portal: objects (v3), batch endpoints (100 inputs),
search (paced to 5 requests/second), associations (v4) and properties. No canonical records
here (see client.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ledgerbridge.connectors.auth import TokenProvider
from ledgerbridge.connectors.budget import Budget
from ledgerbridge.connectors.http import ApiTransport, Pacer, RetryPolicy
from ledgerbridge.connectors.hubspot.errors import map_response
from ledgerbridge.connectors.paths import record_id, segment
from ledgerbridge.errors import Conflict, Duplicate, Invalid, NotFound

API_BASE = "https://api.hubapi.com"
BATCH_MAX = 100
ASSOC_READ_MAX = 1000
SEARCH_PAGE_MAX = 200


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class HubSpotApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str = API_BASE,
        retry: RetryPolicy | None = None,
        limiter: asyncio.Semaphore | None = None,
        max_in_flight: int = 10,
        search_pacer: Pacer | None = None,
        timeout: float | None = 30.0,
        budget: Budget | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.transport = ApiTransport(
            http,
            base_url,
            tokens,
            map_response,
            api_name="HubSpot",
            retry=self.retry,
            limiter=limiter,
            max_in_flight=max_in_flight,
            default_headers={"Accept": "application/json"},
            timeout=timeout,
            budget=budget,
        )
        self.search_pacer = search_pacer or Pacer(
            5.0, clock=self.retry.clock, sleep=self.retry.sleep
        )

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    # ---------------------------------------------------------------------------------------
    # Objects
    # ---------------------------------------------------------------------------------------
    async def get(
        self,
        object_type: str,
        object_id: str,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
        id_property: str | None = None,
        history: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """`history`: properties to return with their change history (propertiesWithHistory)."""
        params: list[tuple[str, str]] = [("properties", p) for p in properties]
        params += [("propertiesWithHistory", h) for h in history]
        params += [("associations", a) for a in associations]
        if id_property:
            params.append(("idProperty", id_property))
        try:
            response = await self.transport.request(
                "GET",
                f"/crm/v3/objects/{segment(object_type)}/"
                + (segment(object_id) if id_property else record_id(object_id, "HubSpot")),
                params=httpx.QueryParams(tuple(params)),
            )
        except NotFound:
            return None
        return _json_object(response.data)

    async def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        id_property: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """{id: record} for the ids that exist (missing ones are simply absent)."""
        out: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(str(i) for i in ids))

        async def read(part: Sequence[str]) -> Any:
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in part],
                "properties": list(properties),
            }
            if id_property:
                body["idProperty"] = id_property
            response = await self.transport.request(
                "POST",
                f"/crm/v3/objects/{segment(object_type)}/batch/read",
                json_body=body,
                write=False,
            )
            return response.data

        # The calls of a long list go out together (the transport keeps the concurrency limit).
        answers = await asyncio.gather(*(read(part) for part in chunks(unique, BATCH_MAX)))
        for data in answers:
            for record in (data or {}).get("results") or []:
                key = str(record.get("id"))
                if id_property:
                    key = str((record.get("properties") or {}).get(id_property) or key)
                out[key] = record
        return out

    async def create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        associations: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"properties": dict(properties)}
        if associations:
            body["associations"] = list(associations)
        response = await self.transport.request(
            "POST", f"/crm/v3/objects/{segment(object_type)}", json_body=body
        )
        return _json_object(response.data)

    async def batch_create(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for part in chunks(list(inputs), BATCH_MAX):
            response = await self.transport.request(
                "POST",
                f"/crm/v3/objects/{segment(object_type)}/batch/create",
                json_body={"inputs": list(part)},
            )
            results.extend((response.data or {}).get("results") or [])
        return results

    async def update(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, Any],
        id_property: str | None = None,
    ) -> dict[str, Any]:
        # Setting properties to absolute values: resending after a lost answer is harmless.
        params = {"idProperty": id_property} if id_property else None
        response = await self.transport.request(
            "PATCH",
            f"/crm/v3/objects/{segment(object_type)}/{record_id(object_id, 'HubSpot')}",
            params=params,
            json_body={"properties": dict(properties)},
            idempotent=True,
        )
        return _json_object(response.data)

    async def batch_update(
        self, object_type: str, inputs: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> dict[str, dict[str, Any]]:
        """Set properties on many records (100 per call): {record id: updated record}. Records
        that no longer exist are left out. Absolute values: safe to resend."""
        out: dict[str, dict[str, Any]] = {}

        async def update(part: Sequence[tuple[str, Mapping[str, Any]]]) -> Any:
            body = {"inputs": [{"id": str(i), "properties": dict(p)} for i, p in part]}
            response = await self.transport.request(
                "POST",
                f"/crm/v3/objects/{segment(object_type)}/batch/update",
                json_body=body,
                idempotent=True,
            )
            return response.data

        answers = await asyncio.gather(*(update(part) for part in chunks(list(inputs), BATCH_MAX)))
        for data in answers:
            for row in (data or {}).get("results") or []:
                out[str(row.get("id"))] = row
        return out

    async def batch_upsert(
        self, object_type: str, id_property: str, inputs: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Create-or-update by a unique property: idempotent, so safe to resend."""
        results: list[dict[str, Any]] = []
        for part in chunks(list(inputs), BATCH_MAX):
            body = {
                "inputs": [
                    {"id": key, "idProperty": id_property, "properties": dict(p)} for key, p in part
                ]
            }
            response = await self.transport.request(
                "POST",
                f"/crm/v3/objects/{segment(object_type)}/batch/upsert",
                json_body=body,
                idempotent=True,
            )
            results.extend((response.data or {}).get("results") or [])
        return results

    async def batch_archive(self, object_type: str, ids: Sequence[str]) -> None:
        for part in chunks(list(ids), BATCH_MAX):
            await self.transport.request(
                "POST",
                f"/crm/v3/objects/{segment(object_type)}/batch/archive",
                json_body={"inputs": [{"id": str(i)} for i in part]},
                idempotent=True,
                parse_json=False,
            )

    async def archive(self, object_type: str, object_id: str) -> None:
        try:
            await self.transport.request(
                "DELETE",
                f"/crm/v3/objects/{segment(object_type)}/{record_id(object_id, 'HubSpot')}",
                idempotent=True,
                parse_json=False,
            )
        except NotFound:
            return

    async def search(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        await self.search_pacer.wait()
        response = await self.transport.request(
            "POST",
            f"/crm/v3/objects/{segment(object_type)}/search",
            json_body=dict(body),
            write=False,
            kind="search",
        )
        return response.data or {}

    # ---------------------------------------------------------------------------------------
    # Associations (v4)
    # ---------------------------------------------------------------------------------------
    async def associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """{from id: [to ids]} in the order HubSpot lists them."""
        out: dict[str, list[str]] = {str(i): [] for i in ids}
        unique = list(dict.fromkeys(str(i) for i in ids))
        for part in chunks(unique, ASSOC_READ_MAX):
            response = await self.transport.request(
                "POST",
                f"/crm/v4/associations/{segment(from_type)}/{segment(to_type)}/batch/read",
                json_body={"inputs": [{"id": i} for i in part]},
                write=False,
            )
            for result in (response.data or {}).get("results") or []:
                source = str((result.get("from") or {}).get("id"))
                targets = [str(t.get("toObjectId")) for t in result.get("to") or []]
                out.setdefault(source, []).extend(t for t in targets if t not in out[source])
        return out

    async def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """The default (unlabelled) association; PUT is idempotent."""
        await self.transport.request(
            "PUT",
            f"/crm/v4/objects/{segment(from_type)}/{record_id(from_id, 'HubSpot')}/associations/default/{segment(to_type)}/{record_id(to_id, 'HubSpot')}",
            idempotent=True,
        )

    async def unassociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        try:
            await self.transport.request(
                "DELETE",
                f"/crm/v4/objects/{segment(from_type)}/{record_id(from_id, 'HubSpot')}/associations/{segment(to_type)}/{record_id(to_id, 'HubSpot')}",
                idempotent=True,
                parse_json=False,
            )
        except NotFound:
            return

    # ---------------------------------------------------------------------------------------
    # Properties
    # ---------------------------------------------------------------------------------------
    async def properties(self, object_type: str) -> list[dict[str, Any]]:
        response = await self.transport.request("GET", f"/crm/v3/properties/{segment(object_type)}")
        return list((response.data or {}).get("results") or [])

    async def create_property_group(self, object_type: str, name: str, label: str) -> None:
        try:
            await self.transport.request(
                "POST",
                f"/crm/v3/properties/{segment(object_type)}/groups",
                json_body={"name": name, "label": label, "displayOrder": -1},
                idempotent=True,
            )
        except (Conflict, Duplicate):
            return  # already there
        except Invalid as error:
            if "exist" not in error.message.lower():
                raise

    async def create_property(self, object_type: str, definition: Mapping[str, Any]) -> None:
        try:
            await self.transport.request(
                "POST",
                f"/crm/v3/properties/{segment(object_type)}",
                json_body=dict(definition),
                idempotent=True,
            )
        except (Conflict, Duplicate):
            return  # created by an earlier attempt or another worker

    async def update_property(
        self, object_type: str, name: str, changes: Mapping[str, Any]
    ) -> None:
        await self.transport.request(
            "PATCH",
            f"/crm/v3/properties/{object_type}/{name}",
            json_body=dict(changes),
            idempotent=True,
        )


def _json_object(data: Any) -> dict[str, Any]:
    """A response body that is a JSON object (an empty one when HubSpot sent none)."""
    return data if isinstance(data, dict) else {}
