"""QBO webhook requests: signature verification and parsing into records to mark dirty.

`intuit-signature` = base64(HMAC-SHA256(verifier token, raw body)), compared in constant time.
Two payload formats are read: the legacy `eventNotifications` object and the CloudEvents array
(mandatory from May 2026), told apart by the leading `[`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, ITEM, PAYMENT

ENTITY_TYPES = {"invoice": INVOICE, "payment": PAYMENT, "customer": CUSTOMER, "item": ITEM}


def signature(verifier_token: str, body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return base64.b64encode(
        hmac.new(verifier_token.encode(), raw, hashlib.sha256).digest()
    ).decode()


def verify(verifier_token: str, body: bytes | str, signature_header: str | None) -> bool:
    if not signature_header:
        return False
    return hmac.compare_digest(signature(verifier_token, body), signature_header.strip())


def _kind(entity: str) -> str:
    return ENTITY_TYPES.get(entity.lower(), entity.lower())


def parse_events(body: bytes | str) -> list[WebhookEvent]:
    payload: Any = json.loads(body.decode() if isinstance(body, bytes) else body)
    events: list[WebhookEvent] = []
    if isinstance(payload, list):  # CloudEvents
        for raw in payload:
            if not isinstance(raw, Mapping) or not raw.get("intuitentityid"):
                continue
            parts = str(raw.get("type") or "").split(".")  # qbo.invoice.created.v1
            entity = parts[1] if len(parts) >= 3 else ""
            operation = parts[2] if len(parts) >= 3 else None
            common = {
                "account_id": str(raw.get("intuitaccountid") or "") or None,
                "operation": operation,
                "occurred_at": raw.get("time"),
                "event_id": raw.get("id"),
            }
            events.append(
                WebhookEvent(
                    object_type=_kind(entity), object_id=str(raw["intuitentityid"]), **common
                )
            )
            data = raw.get("data") or {}
            if isinstance(data, Mapping) and data.get("deletedid"):  # a merge removes this one
                events.append(
                    WebhookEvent(
                        object_type=_kind(entity), object_id=str(data["deletedid"]), **common
                    )
                )
        return events
    for notification in (payload or {}).get("eventNotifications") or []:
        realm = notification.get("realmId")
        for entity in (notification.get("dataChangeEvent") or {}).get("entities") or []:
            if entity.get("id") is None or not entity.get("name"):
                continue
            common = {
                "account_id": str(realm) if realm is not None else None,
                "operation": entity.get("operation"),
                "occurred_at": entity.get("lastUpdated"),
            }
            events.append(
                WebhookEvent(
                    object_type=_kind(entity["name"]), object_id=str(entity["id"]), **common
                )
            )
            if entity.get("deletedId"):
                events.append(
                    WebhookEvent(
                        object_type=_kind(entity["name"]),
                        object_id=str(entity["deletedId"]),
                        **common,
                    )
                )
    return events
