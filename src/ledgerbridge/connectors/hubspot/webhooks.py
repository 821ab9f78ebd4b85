"""HubSpot webhook requests: signature verification and parsing into records to mark dirty.

Signatures (HubSpot "Validating requests"):
- v3 (`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp`, epoch ms):
  base64(HMAC-SHA256(client secret, METHOD + URI + BODY + TIMESTAMP)); timestamps older than
  5 minutes are rejected. HubSpot says to URL-decode some characters of the URI first; the
  official Python SDK hashes the URI as given. Both forms are accepted.
- v2: hex(SHA-256(client secret + METHOD + URI + BODY)); v1: hex(SHA-256(client secret + BODY)).
Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, ITEM, PAYMENT

MAX_AGE_MS = 5 * 60 * 1000
# Characters HubSpot's request-validation page lists as URL-decoded before hashing.
_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
OBJECT_TYPE_IDS = {
    "0-53": INVOICE,
    "0-101": PAYMENT,
    "0-1": CUSTOMER,
    "0-7": ITEM,
    "0-8": "line_item",
    "0-84": "discount",
    "0-85": "fee",
    "0-86": "tax",
    "0-2": "company",
    "0-3": "deal",
}
SUBSCRIPTION_OBJECTS = {
    "contact": CUSTOMER,
    "product": ITEM,
    "line_item": "line_item",
    "company": "company",
    "deal": "deal",
    "invoice": INVOICE,
    "commerce_payment": PAYMENT,
}


def _text(body: bytes | str) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else body


def decode_uri(uri: str) -> str:
    for encoded, char in _DECODE.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    return uri


def signature_v3(secret: str, method: str, uri: str, body: bytes | str, timestamp: str) -> str:
    message = f"{method.upper()}{uri}{_text(body)}{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signature_v2(secret: str, method: str, uri: str, body: bytes | str) -> str:
    return hashlib.sha256(f"{secret}{method.upper()}{uri}{_text(body)}".encode()).hexdigest()


def signature_v1(secret: str, body: bytes | str) -> str:
    return hashlib.sha256(f"{secret}{_text(body)}".encode()).hexdigest()


def verify(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes | str,
    headers: Mapping[str, str],
    now_ms: int | None = None,
) -> bool:
    """True when the request carries a valid HubSpot signature. `uri` is the full URL HubSpot
    called (scheme, host, path and query)."""
    h = {k.lower(): v for k, v in headers.items()}
    v3 = h.get("x-hubspot-signature-v3")
    if v3:
        timestamp = h.get("x-hubspot-request-timestamp", "")
        if not timestamp.isdigit():
            return False
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now - int(timestamp)) > MAX_AGE_MS:
            return False
        candidates = {uri, decode_uri(uri)}
        return any(
            hmac.compare_digest(signature_v3(secret, method, u, body, timestamp), v3)
            for u in candidates
        )
    legacy = h.get("x-hubspot-signature")
    if not legacy:
        return False
    version = h.get("x-hubspot-signature-version", "v1").lower()
    if version == "v2":
        expected = signature_v2(secret, method, uri, body)
    elif version == "v1":
        expected = signature_v1(secret, body)
    else:
        return False
    return hmac.compare_digest(expected, legacy.lower())


def _event(
    raw: Mapping[str, Any], object_type: str, object_id: Any, operation: str | None
) -> WebhookEvent:
    return WebhookEvent(
        object_type=object_type,
        object_id=str(object_id),
        account_id=str(raw["portalId"]) if raw.get("portalId") is not None else None,
        operation=operation,
        occurred_at=str(raw["occurredAt"]) if raw.get("occurredAt") is not None else None,
        event_id=str(raw["eventId"]) if raw.get("eventId") is not None else None,
        property_name=raw.get("propertyName"),
    )


def parse_events(body: bytes | str) -> list[WebhookEvent]:
    """HubSpot POSTs a JSON array of up to 100 events."""
    payload = json.loads(_text(body))
    if isinstance(payload, Mapping):
        payload = [payload]
    events: list[WebhookEvent] = []
    for raw in payload if isinstance(payload, list) else []:
        if not isinstance(raw, Mapping):
            continue
        subscription = str(raw.get("subscriptionType") or "")
        prefix, _, operation = subscription.partition(".")
        if operation == "associationChange":
            for side in ("from", "to"):
                kind = OBJECT_TYPE_IDS.get(str(raw.get(f"{side}ObjectTypeId")))
                if kind and raw.get(f"{side}ObjectId") is not None:
                    events.append(_event(raw, kind, raw[f"{side}ObjectId"], operation))
            continue
        type_id = raw.get("objectTypeId")
        kind = OBJECT_TYPE_IDS.get(str(type_id)) if type_id else SUBSCRIPTION_OBJECTS.get(prefix)
        if kind is None or raw.get("objectId") is None:
            continue
        events.append(_event(raw, kind, raw["objectId"], operation or None))
    return events
