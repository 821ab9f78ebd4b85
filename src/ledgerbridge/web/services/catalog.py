"""Invoice property definitions from HubSpot's properties API, cached for a minute: every panel
and form needs them, and they change only when someone creates a property."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.api import HubSpotApi

CACHE_SECONDS = 60.0
OWN_GROUP = "ledgerbridge"


@dataclass(frozen=True)
class PropertyDef:
    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool
    field_type: str
    group: str
    description: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    read_only: bool
    custom: bool  # created by a user (not hs_*, not ledgerbridge's own)
    unique: bool

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PropertyDef:
        name = str(data.get("name") or "")
        meta = data.get("modificationMetadata") or {}
        return cls(
            name=name,
            label=str(data.get("label") or name),
            type=str(data.get("type") or "string"),
            field_type=str(data.get("fieldType") or "text"),
            group=str(data.get("groupName") or ""),
            description=str(data.get("description") or ""),
            options=tuple(
                (str(o.get("value")), str(o.get("label") or o.get("value")))
                for o in data.get("options") or []
                if not o.get("hidden")
            ),
            read_only=bool(meta.get("readOnlyValue")),
            custom=not name.startswith("hs_")
            and name not in tr.OWN_PROPERTIES
            and str(data.get("groupName") or "") != OWN_GROUP
            and not bool(data.get("hubspotDefined")),
            unique=bool(data.get("hasUniqueValue")),
        )


class PropertyCatalog:
    def __init__(self, api: HubSpotApi, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.clock = clock
        self._cache: dict[str, tuple[float, list[PropertyDef]]] = {}

    async def all(self, object_type: str = "invoices") -> list[PropertyDef]:
        cached = self._cache.get(object_type)
        now = self.clock()
        if cached is None or now - cached[0] > CACHE_SECONDS:
            defs = [PropertyDef.from_wire(p) for p in await self.api.properties(object_type)]
            defs.sort(key=lambda d: d.label.lower())
            cached = (now, defs)
            self._cache[object_type] = cached
        return cached[1]

    async def custom(self, object_type: str = "invoices") -> list[PropertyDef]:
        return [d for d in await self.all(object_type) if d.custom]

    async def labels(self, object_type: str = "invoices") -> dict[str, str]:
        return {d.name: d.label for d in await self.all(object_type)}

    def forget(self, object_type: str = "invoices") -> None:
        self._cache.pop(object_type, None)
