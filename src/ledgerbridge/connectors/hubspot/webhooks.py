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
import time
from collections import OrderedDict
from collections.abc import Mapping

from pydantic import TypeAdapter

from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.connectors.webhook_shapes import (
    Digits,
    Loose,
    MalformedWebhook,
    Name,
    load,
    validate,
)
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
    legacy: LegacyReplayGuard | None = None,
) -> bool:
    """True when the request carries a valid HubSpot signature. `uri` is the full URL HubSpot
    called (scheme, host, path and query). v3 only, unless `legacy` is given: v1/v2 carry no
    timestamp, so a captured request would verify forever; the guard refuses a repeat within
    its window."""
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
    signed = h.get("x-hubspot-signature")
    if not signed or legacy is None:
        return False
    version = h.get("x-hubspot-signature-version", "v1").lower()
    if version == "v2":
        expected = signature_v2(secret, method, uri, body)
    elif version == "v1":
        expected = signature_v1(secret, body)
    else:
        return False
    if not hmac.compare_digest(expected, signed.lower()):
        return False
    return legacy.first_time(expected, now_ms)


class LegacyReplayGuard:
    """Remembers v1/v2 signatures seen in the last `window_ms` (at most `limit` of them): the
    same signed request twice in that window is a replay. HubSpot retries a failed delivery
    with a new attempt number in the body, hence a new signature, so retries still pass."""

    def __init__(self, window_ms: int = 24 * 3600 * 1000, limit: int = 100_000) -> None:
        self.window_ms = window_ms
        self.limit = limit
        self._seen: OrderedDict[str, int] = OrderedDict()

    def first_time(self, signature: str, now_ms: int | None = None) -> bool:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        while self._seen and (
            len(self._seen) >= self.limit or next(iter(self._seen.values())) < now - self.window_ms
        ):
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True


class _Event(Loose):
    subscriptionType: Name = ""
    objectTypeId: Name | None = None
    objectId: Digits | None = None
    fromObjectTypeId: Name | None = None
    fromObjectId: Digits | None = None
    toObjectTypeId: Name | None = None
    toObjectId: Digits | None = None
    portalId: Digits | None = None
    occurredAt: int | Name | None = None
    eventId: int | Name | None = None
    propertyName: Name | None = None


_EVENTS = TypeAdapter(list[_Event])


def _event(raw: _Event, object_type: str, object_id: str, operation: str | None) -> WebhookEvent:
    return WebhookEvent(
        object_type=object_type,
        object_id=object_id,
        account_id=raw.portalId,
        operation=operation,
        occurred_at=str(raw.occurredAt) if raw.occurredAt is not None else None,
        event_id=str(raw.eventId) if raw.eventId is not None else None,
        property_name=raw.propertyName,
    )


def parse_events(body: bytes | str) -> list[WebhookEvent]:
    """HubSpot POSTs a JSON array of up to 100 events; MalformedWebhook (400) for any other
    shape or a non-digit id."""
    payload = load(body)
    if isinstance(payload, Mapping):
        payload = [payload]
    if not isinstance(payload, list):
        raise MalformedWebhook("HubSpot webhook body must be a JSON array of events")
    events: list[WebhookEvent] = []
    for raw in validate(_EVENTS, payload, "HubSpot"):
        prefix, _, operation = raw.subscriptionType.partition(".")
        if operation == "associationChange":
            for kind_id, object_id in (
                (raw.fromObjectTypeId, raw.fromObjectId),
                (raw.toObjectTypeId, raw.toObjectId),
            ):
                kind = OBJECT_TYPE_IDS.get(str(kind_id))
                if kind and object_id is not None:
                    events.append(_event(raw, kind, object_id, operation))
            continue
        type_id = raw.objectTypeId
        kind = OBJECT_TYPE_IDS.get(type_id) if type_id else SUBSCRIPTION_OBJECTS.get(prefix)
        if kind is None or raw.objectId is None:
            continue
        events.append(_event(raw, kind, raw.objectId, operation or None))
    return events
