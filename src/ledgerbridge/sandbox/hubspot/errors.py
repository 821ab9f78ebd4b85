"""HubSpot's error shape: `{status:"error", message, correlationId, category, errors?, context?}`.

Every failure the sandbox reports goes through `ApiError` so clients see exactly one shape,
whether the cause is validation, auth, a missing record, rate limiting or an injected fault.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        body.update(self.extra)
        return body

    def standard_error(self) -> dict[str, Any]:
        """The `StandardError` item used inside batch responses."""
        return {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context or {},
            "errors": self.errors or [],
            "links": {},
        }


def validation(message: str, **kw: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kw)


def not_found(message: str = "resource not found", **kw: Any) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message, **kw)


def invalid_property_values(problems: list[dict[str, Any]]) -> ApiError:
    """HubSpot's 400 for bad property writes: the message embeds a JSON list of per-property
    results and `errors[]` carries one entry per problem with a machine-readable code."""
    detail = [
        {
            "isValid": False,
            "message": p["message"],
            "error": p["code"],
            "name": p["name"],
            "localizedErrorMessage": p["message"],
        }
        for p in problems
    ]
    errors = [
        {"message": p["message"], "code": p["code"], "context": {"propertyName": [p["name"]]}}
        for p in problems
    ]
    return validation(
        f"Property values were not valid: {json.dumps(detail, separators=(',', ':'))}",
        errors=errors,
    )


def rate_limit_body(policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }


def fault_body(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Bodies for faults injected by `FaultInjector`, in HubSpot's shape."""
    if status == 429:
        return rate_limit_body("TEN_SECONDLY_ROLLING"), {}
    return (
        {
            "status": "error",
            "message": "internal error" if status == 500 else "Service Unavailable",
            "correlationId": str(uuid.uuid4()),
            "category": "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
        },
        {},
    )
