"""The one shape both connectors parse webhooks into: which record changed (to mark dirty)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookEvent:
    object_type: str  # ports.INVOICE / PAYMENT / CUSTOMER / ITEM, or the API's own name otherwise
    object_id: str
    account_id: str | None = None  # HubSpot portalId / QBO realmId
    operation: str | None = None  # "creation", "propertyChange", "Create", "Void", "created", ...
    occurred_at: str | None = None
    event_id: str | None = None
    property_name: str | None = None


def dirty_keys(events: Iterable[WebhookEvent]) -> list[tuple[str, str]]:
    """Unique (object type, id) pairs, first occurrence order: duplicates and reordering of
    webhook deliveries collapse into one mark each."""
    seen: dict[tuple[str, str], None] = {}
    for event in events:
        seen.setdefault((event.object_type, event.object_id), None)
    return list(seen)
