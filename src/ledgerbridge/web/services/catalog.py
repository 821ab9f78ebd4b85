"""Invoice property definitions from HubSpot's properties API, cached for a minute: every panel
and form needs them, and they change only when someone creates a property."""

from __future__ import annotations

import time
from collections.abc import Callable

from ledgerbridge.connectors.hubspot.read_model import HubSpotReadModel
from ledgerbridge.connectors.hubspot.summaries import PropertyDef

CACHE_SECONDS = 60.0


class PropertyCatalog:
    def __init__(
        self, reads: HubSpotReadModel, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.reads = reads
        self.clock = clock
        self._cache: dict[str, tuple[float, list[PropertyDef]]] = {}

    async def all(self, object_type: str = "invoices") -> list[PropertyDef]:
        cached = self._cache.get(object_type)
        now = self.clock()
        if cached is None or now - cached[0] > CACHE_SECONDS:
            defs = await self.reads.property_definitions(object_type)
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
