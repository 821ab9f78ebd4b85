"""The error tables: QBO Fault codes / HTTP statuses and HubSpot categories → error classes
with a category and a plain-language fix hint. Bodies are shaped like the recorded traffic."""

from __future__ import annotations

import httpx
import pytest

from ledgerbridge.connectors.hubspot.errors import error_from_body
from ledgerbridge.connectors.quickbooks.errors import (
    CUSTOMER_CURRENCY_HINT,
    MULTICURRENCY_HINT,
    error_from_fault,
    map_response,
    parse_fault,
)
from ledgerbridge.errors import (
    AuthExpired,
    ConfigError,
    Conflict,
    Duplicate,
    Invalid,
    NotFound,
    RateLimited,
    Transient,
)


def qbo(code: str, message: str = "Message", detail: str = "Detail", status: int = 400):
    body = {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}],
            "type": "ValidationFault",
        },
        "time": "2020-09-29T06:58:50.262-07:00",
    }
    return map_response(httpx.Response(status, json=body), body)


@pytest.mark.parametrize(
    ("code", "cls", "category"),
    [
        ("6240", Duplicate, "duplicate"),
        ("6140", Duplicate, "duplicate"),
        ("610", NotFound, "not_found"),
        ("2500", NotFound, "not_found"),
        ("5010", Conflict, "conflict"),
        ("6000", Invalid, "validation"),
        ("6070", Invalid, "validation"),
        ("6210", Invalid, "validation"),
        ("6999", Invalid, "validation"),  # the 6000 range, by range
        ("2010", Invalid, "validation"),
        ("3200", AuthExpired, "auth"),
        ("120", AuthExpired, "auth"),
        ("5020", ConfigError, "config"),
        ("10000", Transient, "transient"),
    ],
)
def test_qbo_fault_codes(code, cls, category):
    error = qbo(code)
    assert type(error) is cls
    assert error.category == category
    assert error.code == code
    assert error.hint


def test_qbo_duplicate_name_hint_is_actionable():
    error = qbo(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is already using this name.",
    )
    assert "already uses this name" in error.hint
    assert "unique display name" in error.hint
    assert "Duplicate Name Exists Error" in error.message


def test_qbo_currency_error_gets_multicurrency_hint():
    error = qbo(
        "6000",
        "A business validation error has occurred while processing your request",
        "Business Validation Error: Multicurrency is not enabled for this company.",
    )
    assert isinstance(error, Invalid)
    assert error.hint == MULTICURRENCY_HINT


def test_qbo_customer_currency_error_names_the_customer():
    # Multicurrency may well be on: the customer was made in another currency.
    error = qbo(
        "6000",
        "A business validation error has occurred while processing your request",
        "Business Validation Error: The currency of the transaction must match the customer's currency.",
    )
    assert isinstance(error, Invalid)
    assert error.hint == CUSTOMER_CURRENCY_HINT


def test_qbo_gateway_401_lower_case_body():
    body = {
        "warnings": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: AB0160139",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": 1601391072830,
    }
    error = map_response(httpx.Response(401, json=body), body)
    assert isinstance(error, AuthExpired)
    assert "Reconnect QuickBooks in Settings → Sync" in error.hint


def test_qbo_429_without_code_reads_gateway_message_and_retry_after():
    body = {
        "fault": {
            "error": [{"message": "message=ThrottleExceeded; errorCode=003001; statusCode=429"}]
        }
    }
    error = map_response(httpx.Response(429, json=body, headers={"Retry-After": "2"}), body)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 2.0
    assert error.code == "3001"


def test_qbo_5xx_is_transient_whatever_the_body():
    assert isinstance(map_response(httpx.Response(503, text="upstream"), None), Transient)
    error = qbo("6000", status=500)
    assert isinstance(error, Transient)


def test_qbo_parse_fault_handles_missing_parts():
    assert parse_fault({"QueryResponse": {}}) is None
    info = parse_fault({"Fault": {"Error": [{"Message": "Object Not Found", "code": "610"}]}})
    assert info is not None and info.code == "610" and info.detail == ""
    assert isinstance(error_from_fault(info, None), NotFound)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            401,
            {
                "status": "error",
                "category": "INVALID_AUTHENTICATION",
                "message": "Authentication credentials not found.",
            },
            AuthExpired,
        ),
        (
            403,
            {"status": "error", "category": "MISSING_SCOPES", "message": "missing scopes"},
            ConfigError,
        ),
        (
            404,
            {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found"},
            NotFound,
        ),
        (409, {"status": "error", "category": "CONFLICT", "message": "conflict"}, Conflict),
        (
            400,
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid",
                "errors": [
                    {"code": "PROPERTY_DOESNT_EXIST", "message": 'Property "x" does not exist'}
                ],
            },
            ConfigError,
        ),
        (
            400,
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid",
            },
            Invalid,
        ),
        (
            400,
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "A invoice with qbo_invoice_id 12 already has that value",
            },
            Duplicate,
        ),
        (502, {"status": "error", "message": "bad gateway"}, Transient),
    ],
)
def test_hubspot_table(status, body, cls):
    error = error_from_body(status, body)
    assert type(error) is cls
    assert error.status == status
    assert error.hint


def test_hubspot_429_bodies():
    ten = error_from_body(
        429,
        {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
        },
    )
    assert isinstance(ten, RateLimited) and ten.retry_after is None  # exponential backoff
    daily = error_from_body(
        429, {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY"}
    )
    assert isinstance(daily, RateLimited) and daily.retry_after == 3600
    headed = error_from_body(429, {"errorType": "RATE_LIMIT"}, httpx.Headers({"Retry-After": "4"}))
    assert headed.retry_after == 4
    locked = error_from_body(423, {"status": "error", "message": "locked"})
    assert isinstance(locked, RateLimited) and locked.retry_after == 2.0
