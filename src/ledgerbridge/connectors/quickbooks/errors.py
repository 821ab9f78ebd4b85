"""QBO error responses → ledgerbridge errors, through one table.

QBO answers business and validation errors with HTTP 400 and a `Fault` body
(`{"Fault":{"Error":[{"Message","Detail","code","element"}],"type":"ValidationFault"}}`);
the API gateway answers 401/403/429 with a lower-case `fault` body. Both shapes are read.
Codes are looked up exactly first, then by range (e.g. the 6000 business-validation range).
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

RECONNECT_HINT = "Reconnect QuickBooks in Settings → Sync."
MULTICURRENCY_HINT = (
    "The invoice's currency is not available in this QuickBooks company. Turn on Multicurrency "
    "in QuickBooks (Settings → Account and settings → Advanced → Currency) and add the currency, "
    "or exclude invoices in this currency with a sync filter."
)


@dataclass(frozen=True)
class Rule:
    error: type[SyncError]
    hint: str


# Exact Fault codes. Hints are written for the finance person reading the Failing-to-sync panel.
CODE_TABLE: dict[str, Rule] = {
    "120": Rule(
        AuthExpired,
        "The QuickBooks user who connected ledgerbridge is no longer an admin. "
        "Reconnect QuickBooks in Settings → Sync as a company admin.",
    ),
    "3200": Rule(AuthExpired, RECONNECT_HINT),
    "3100": Rule(
        AuthExpired, "QuickBooks refused ledgerbridge's access to this company. " + RECONNECT_HINT
    ),
    "3001": Rule(RateLimited, "QuickBooks is throttling requests; ledgerbridge waits and retries."),
    "500": Rule(
        Invalid,
        "QuickBooks does not support this operation; check the record for unusual characters.",
    ),
    "600": Rule(
        Duplicate,
        "QuickBooks already received this exact request; ledgerbridge will look the "
        "record up instead of creating it again.",
    ),
    "610": Rule(
        NotFound,
        "A record this one refers to (customer, item or invoice) was deleted or made "
        "inactive in QuickBooks. Reactivate it in QuickBooks, then retry.",
    ),
    "620": Rule(
        Invalid,
        "The payment refers to an invoice of a different customer. Apply it to the "
        "customer's own invoices.",
    ),
    "630": Rule(Duplicate, "QuickBooks says this object already exists."),
    "1040": Rule(Invalid, "Too many operations in one QuickBooks batch request."),
    "2010": Rule(
        Invalid,
        "QuickBooks rejected a field ledgerbridge sent; this is a ledgerbridge bug—"
        "please report it with the message.",
    ),
    "2020": Rule(
        Invalid, "A field QuickBooks requires is missing; fill it in on the record and retry."
    ),
    "2030": Rule(Invalid, "An id sent to QuickBooks is not valid."),
    "2050": Rule(
        Invalid, "A text value is too long for QuickBooks; shorten it on the record and retry."
    ),
    "2170": Rule(Invalid, "A value is not one QuickBooks accepts for that field."),
    "2210": Rule(Invalid, "The email address is not valid; correct it on the contact and retry."),
    "2500": Rule(
        NotFound,
        "A customer or item this invoice uses is inactive or deleted in QuickBooks. "
        "Reactivate it in QuickBooks, then retry.",
    ),
    "4000": Rule(Invalid, "QuickBooks could not run a lookup query."),
    "4001": Rule(Invalid, "QuickBooks could not run a lookup query."),
    "4002": Rule(Invalid, "QuickBooks could not run a lookup query."),
    "5010": Rule(
        Conflict,
        "Someone changed this record in QuickBooks at the same time; ledgerbridge "
        "re-reads it and merges again.",
    ),
    "5020": Rule(
        ConfigError,
        "The QuickBooks user who connected ledgerbridge lacks permission for this. "
        "Reconnect with an admin user.",
    ),
    "5030": Rule(
        ConfigError, "This QuickBooks subscription does not support the feature needed here."
    ),
    "6000": Rule(
        Invalid,
        "QuickBooks rejected the record (business validation). Read the message, fix "
        "the record, and retry.",
    ),
    "6070": Rule(
        Invalid, "A line's amount does not equal quantity × unit price. Check the line prices."
    ),
    "6080": Rule(
        Invalid, "The customer has no name. Add a name or company to the contact and retry."
    ),
    "6090": Rule(
        Invalid, "The discount is missing its amount or percent. Fix the discount and retry."
    ),
    "6100": Rule(Invalid, "A line's tax code is not valid for this QuickBooks company."),
    "6140": Rule(
        Duplicate,
        "Another QuickBooks transaction already uses this invoice number. Turn off "
        "'Custom transaction numbers' in QuickBooks or change the DocNumber strategy in "
        "Settings → Sync, then retry.",
    ),
    "6190": Rule(ConfigError, "The QuickBooks subscription has ended or was cancelled."),
    "6210": Rule(
        Invalid,
        "The invoice date is in a closed accounting period in QuickBooks. Change the "
        "date or the closing date, then retry.",
    ),
    "6240": Rule(
        Duplicate,
        "A customer, vendor or employee in QuickBooks already uses this name. Rename "
        "the existing one in QuickBooks, or let ledgerbridge pick a unique display name "
        "(Settings → Sync → customer names).",
    ),
    "6540": Rule(
        Invalid,
        "The payment is already part of a bank deposit in QuickBooks. Remove it from "
        "the deposit first.",
    ),
    "10000": Rule(
        Transient, "QuickBooks had an internal error; ledgerbridge retries automatically."
    ),
}

# (low, high, rule) for codes not in the table above.
RANGE_TABLE: list[tuple[int, int, Rule]] = [
    (1, 499, Rule(AuthExpired, RECONNECT_HINT)),
    (500, 599, Rule(Invalid, "QuickBooks does not support this operation.")),
    (600, 1999, Rule(Invalid, "QuickBooks rejected the request.")),
    (2000, 4999, Rule(Invalid, "QuickBooks rejected a value on this record; fix it and retry.")),
    (5000, 5999, Rule(Invalid, "QuickBooks rejected the request.")),
    (
        6000,
        9999,
        Rule(
            Invalid,
            "QuickBooks rejected the record (business validation). Read the message, "
            "fix the record, and retry.",
        ),
    ),
    (
        10000,
        10**9,
        Rule(Transient, "QuickBooks had an internal error; ledgerbridge retries automatically."),
    ),
]

STATUS_TABLE: dict[int, Rule] = {
    401: Rule(AuthExpired, RECONNECT_HINT),
    403: Rule(AuthExpired, "QuickBooks refused access to this company. " + RECONNECT_HINT),
    404: Rule(NotFound, "The record no longer exists in QuickBooks."),
    429: Rule(RateLimited, "QuickBooks is throttling requests; ledgerbridge waits and retries."),
}


@dataclass(frozen=True)
class FaultInfo:
    code: str | None
    message: str
    detail: str
    element: str | None
    fault_type: str | None


def parse_fault(data: Any) -> FaultInfo | None:
    """First error of a `Fault` (or gateway `fault`) body, or None."""
    if not isinstance(data, Mapping):
        return None
    fault = data.get("Fault") or data.get("fault")
    if not isinstance(fault, Mapping):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, Mapping):
        first = {}
    code = first.get("code")
    return FaultInfo(
        code=str(code) if code is not None else None,
        message=str(first.get("Message") or first.get("message") or ""),
        detail=str(first.get("Detail") or first.get("detail") or ""),
        element=first.get("element"),
        fault_type=fault.get("type"),
    )


CUSTOMER_CURRENCY_HINT = (
    "A QuickBooks customer holds one currency, fixed when it was created. Turn on Multicurrency "
    "in QuickBooks if it is off; if it is on, create a customer in the invoice's currency with "
    "the contact's email (e.g. 'Acme (EUR)'), then retry; or exclude invoices in this currency "
    "with a sync filter."
)


def is_currency_error(text: str) -> bool:
    lowered = text.lower()
    return "currency" in lowered or "multicurrency" in lowered or "exchange rate" in lowered


def rule_for(code: str | None, status: int | None) -> Rule:
    if code is not None and code in CODE_TABLE:
        return CODE_TABLE[code]
    if code is not None and code.isdigit():
        number = int(code)
        for low, high, rule in RANGE_TABLE:
            if low <= number <= high:
                return rule
    if status is not None and status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if status is not None and status >= 500:
        return Rule(Transient, "QuickBooks is having trouble; ledgerbridge retries automatically.")
    return Rule(Invalid, "QuickBooks rejected the request.")


def error_from_fault(
    fault: FaultInfo | None, status: int | None, retry_after: float | None = None
) -> SyncError:
    code = fault.code if fault else None
    message = "QuickBooks error"
    if fault is not None:
        message = fault.detail or fault.message or message
        if fault.message and fault.detail and fault.message not in fault.detail:
            message = f"{fault.message}: {fault.detail}"
    elif status is not None:
        message = f"QuickBooks answered HTTP {status}"
    # Gateway codes look like "message=ThrottleExceeded; errorCode=003001; statusCode=429".
    if code is None and fault is not None and "errorCode=" in fault.message:
        code = fault.message.split("errorCode=")[1].split(";")[0].lstrip("0") or None
    rule = rule_for(code, status)
    if status == 429:
        rule = STATUS_TABLE[429]
    elif status is not None and status >= 500 and not issubclass(rule.error, Transient):
        # Whatever the body says, a 5xx is the server's problem: retry.
        rule = Rule(Transient, "QuickBooks is having trouble; ledgerbridge retries automatically.")
    error_cls, hint = rule.error, rule.hint
    if error_cls in (Invalid,) and is_currency_error(message):
        # With multicurrency on, the usual cause is the customer: a QBO customer holds one
        # currency, fixed when it was created.
        hint = CUSTOMER_CURRENCY_HINT if "customer's currency" in message else MULTICURRENCY_HINT
    kwargs: dict[str, Any] = {"message": message, "hint": hint, "code": code, "status": status}
    if fault is not None and fault.element:
        kwargs["details"] = {"element": fault.element}
    if error_cls is RateLimited:
        return RateLimited(**kwargs, retry_after=retry_after)
    return error_cls(**kwargs)


def map_response(response: httpx.Response, data: Any) -> SyncError:
    """ErrorMapper for ApiTransport."""
    fault = parse_fault(data)
    retry_after = retry_after_seconds(response.headers)
    error = error_from_fault(fault, response.status_code, retry_after)
    if (
        fault is None
        and response.status_code < 500
        and response.text
        and not isinstance(data, Mapping)
    ):
        error.message = f"{error.message}: {response.text[:300]}"
    return error
