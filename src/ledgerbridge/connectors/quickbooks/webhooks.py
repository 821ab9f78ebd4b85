"""QBO webhook requests: signature verification and parsing into records to mark dirty.

`intuit-signature` = base64(HMAC-SHA256(verifier token, raw body)), compared in constant time.
Two payload formats are read: the legacy `eventNotifications` object and the CloudEvents array
(mandatory from May 2026), told apart by the leading `[`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from pydantic import Field, TypeAdapter

from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.connectors.webhook_shapes import (
    Digits,
    Loose,
    MalformedWebhook,
    Name,
    load,
    validate,
)
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, ITEM, LEDGER_CREDIT, LEDGER_REFUND, PAYMENT

ENTITY_TYPES = {
    "invoice": INVOICE,
    "payment": PAYMENT,
    "customer": CUSTOMER,
    "item": ITEM,
    "refundreceipt": LEDGER_REFUND,
    "creditmemo": LEDGER_CREDIT,
}


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


class _Entity(Loose):
    name: Name
    id: Digits
    operation: Name | None = None
    lastUpdated: Name | None = None
    deletedId: Digits | None = None


class _DataChange(Loose):
    entities: list[_Entity] = Field(default_factory=list)


class _Notification(Loose):
    realmId: Digits | None = None
    dataChangeEvent: _DataChange | None = None


class _Legacy(Loose):
    eventNotifications: list[_Notification] = Field(default_factory=list)


class _CloudData(Loose):
    deletedid: Digits | None = None


class _CloudEvent(Loose):
    id: Name | None = None
    type: Name = ""
    time: Name | None = None
    intuitentityid: Digits | None = None
    intuitaccountid: Digits | None = None
    data: _CloudData | None = None


_CLOUD = TypeAdapter(list[_CloudEvent])
_LEGACY = TypeAdapter(_Legacy)


def parse_events(body: bytes | str) -> list[WebhookEvent]:
    """Events in either format; MalformedWebhook (400) for any other shape or a non-digit id."""
    payload: Any = load(body)
    events: list[WebhookEvent] = []
    if isinstance(payload, list):  # CloudEvents
        for raw in validate(_CLOUD, payload, "QuickBooks"):
            if not raw.intuitentityid:
                continue
            parts = raw.type.split(".")  # qbo.invoice.created.v1
            entity = parts[1] if len(parts) >= 3 else ""
            operation = parts[2] if len(parts) >= 3 else None
            common = {
                "account_id": raw.intuitaccountid or None,
                "operation": operation,
                "occurred_at": raw.time,
                "event_id": raw.id,
            }
            events.append(
                WebhookEvent(object_type=_kind(entity), object_id=raw.intuitentityid, **common)
            )
            if raw.data is not None and raw.data.deletedid:  # a merge removes this one
                events.append(
                    WebhookEvent(object_type=_kind(entity), object_id=raw.data.deletedid, **common)
                )
        return events
    if not isinstance(payload, dict):
        raise MalformedWebhook("QuickBooks webhook body must be a JSON object or array")
    for notification in validate(_LEGACY, payload, "QuickBooks").eventNotifications:
        realm = notification.realmId
        entities = notification.dataChangeEvent.entities if notification.dataChangeEvent else []
        for change in entities:
            common = {
                "account_id": realm,
                "operation": change.operation,
                "occurred_at": change.lastUpdated,
            }
            events.append(
                WebhookEvent(object_type=_kind(change.name), object_id=change.id, **common)
            )
            if change.deletedId:
                events.append(
                    WebhookEvent(
                        object_type=_kind(change.name), object_id=change.deletedId, **common
                    )
                )
    return events
