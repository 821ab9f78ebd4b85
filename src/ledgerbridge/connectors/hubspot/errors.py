"""HubSpot error responses → ledgerbridge errors, through one table.

HubSpot errors look like `{status:"error", message, correlationId, category, errors:[...]}`;
429s add `errorType:"RATE_LIMIT"` and `policyName` (TEN_SECONDLY_ROLLING | DAILY). The table is
keyed by category first (it is more specific than the status), then by HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ledgerbridge.connectors.http import retry_after_seconds
from ledgerbridge.errors import (
    AuthExpired,
    ConfigError,
    Conflict,
    Duplicate,
    Invalid,
    NotFound,
    RateLimited,
    SyncError,
    Transient,
)

RECONNECT_HINT = "Reconnect HubSpot in Settings → Sync (or paste a new private app token)."


@dataclass(frozen=True)
class Rule:
    error: type[SyncError]
    hint: str


CATEGORY_TABLE: dict[str, Rule] = {
    "INVALID_AUTHENTICATION": Rule(AuthExpired, RECONNECT_HINT),
    "EXPIRED_AUTHENTICATION": Rule(AuthExpired, RECONNECT_HINT),
    "MISSING_SCOPES": Rule(
        ConfigError,
        "The HubSpot app lacks a permission (scope) ledgerbridge needs. "
        "Add the scopes listed in the message to the app and reconnect.",
    ),
    "OBJECT_NOT_FOUND": Rule(
        NotFound, "The record no longer exists in HubSpot (deleted or archived)."
    ),
    "OBJECT_ALREADY_EXISTS": Rule(
        Duplicate, "A HubSpot record with this unique value already exists."
    ),
    "CONFLICT": Rule(
        Conflict,
        "The record changed in HubSpot at the same time; ledgerbridge re-reads it "
        "and merges again.",
    ),
    "VALIDATION_ERROR": Rule(
        Invalid, "HubSpot rejected a value on this record; read the message, fix it, and retry."
    ),
    "PROPERTY_DOESNT_EXIST": Rule(
        ConfigError,
        "A HubSpot property ledgerbridge uses is missing. Reconnect "
        "HubSpot so ledgerbridge can create its properties, or create it by hand.",
    ),
    "RATE_LIMITS": Rule(
        RateLimited, "HubSpot is rate limiting requests; ledgerbridge waits and retries."
    ),
    "RATE_LIMIT": Rule(
        RateLimited, "HubSpot is rate limiting requests; ledgerbridge waits and retries."
    ),
    "LOCKED": Rule(
        RateLimited, "HubSpot is busy with this record; ledgerbridge waits and retries."
    ),
}

STATUS_TABLE: dict[int, Rule] = {
    400: Rule(
        Invalid, "HubSpot rejected the request; read the message, fix the record, and retry."
    ),
    401: Rule(AuthExpired, RECONNECT_HINT),
    403: Rule(
        ConfigError, "The HubSpot app is not allowed to do this. Check its scopes and reconnect."
    ),
    404: Rule(NotFound, "The record no longer exists in HubSpot (deleted or archived)."),
    409: Rule(
        Conflict, "HubSpot reported a conflict; ledgerbridge re-reads the record and retries."
    ),
    414: Rule(Invalid, "The request to HubSpot was too long."),
    423: Rule(RateLimited, "HubSpot is busy with this record; ledgerbridge waits and retries."),
    429: Rule(RateLimited, "HubSpot is rate limiting requests; ledgerbridge waits and retries."),
}

# 423 Locked: "Include a delay of at least 2 seconds" (HubSpot docs).
LOCKED_DELAY = 2.0
# The daily limit resets at midnight in the portal's time zone; waiting in-process is pointless.
DAILY_LIMIT_DELAY = 3600.0


def rule_for(category: str | None, status: int) -> Rule:
    if status >= 500:
        return Rule(Transient, "HubSpot is having trouble; ledgerbridge retries automatically.")
    if status == 429:
        return STATUS_TABLE[429]
    if category and category in CATEGORY_TABLE:
        return CATEGORY_TABLE[category]
    return STATUS_TABLE.get(status, Rule(Invalid, "HubSpot rejected the request."))


def _first_code(data: Mapping[str, Any]) -> str | None:
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        code = errors[0].get("code")
        return str(code) if code else None
    return None


def error_from_body(status: int, data: Any, headers: httpx.Headers | None = None) -> SyncError:
    body = data if isinstance(data, Mapping) else {}
    category = body.get("category") or body.get("errorType")
    code = _first_code(body)
    message = str(body.get("message") or f"HubSpot answered HTTP {status}")
    rule = rule_for(code if code in CATEGORY_TABLE else category, status)
    # A unique-value clash on a write is a duplicate, not a generic validation error.
    lowered = message.lower()
    if rule.error is Invalid and (
        "already has that value" in lowered or ("unique" in lowered and "exists" in lowered)
    ):
        rule = CATEGORY_TABLE["OBJECT_ALREADY_EXISTS"]
    kwargs: dict[str, Any] = {
        "message": message,
        "hint": rule.hint,
        "code": code or (str(category) if category else None),
        "status": status,
    }
    if body.get("correlationId"):
        kwargs["details"] = {"correlationId": body["correlationId"]}
    if rule.error is RateLimited:
        retry_after = retry_after_seconds(headers) if headers is not None else None
        policy = body.get("policyName")
        if retry_after is None and status == 423:
            retry_after = LOCKED_DELAY
        if retry_after is None and policy == "DAILY":
            retry_after = DAILY_LIMIT_DELAY
        # TEN_SECONDLY_ROLLING without Retry-After: the policy's exponential backoff fits a
        # rolling window better than waiting out a whole interval.
        return RateLimited(**kwargs, retry_after=retry_after)
    return rule.error(**kwargs)


def map_response(response: httpx.Response, data: Any) -> SyncError:
    """ErrorMapper for ApiTransport."""
    return error_from_body(response.status_code, data, response.headers)
