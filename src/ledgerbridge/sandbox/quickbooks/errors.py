"""QBO error bodies, shaped as in recorded traffic.

Two shapes exist. Service faults (validation and business rules) come as HTTP 400 with
`{"Fault":{"Error":[{"Message","Detail","code","element"}],"type":"ValidationFault"},"time":..}`
where `code` is a string. The API gateway (401/403) answers in a different, lower-case shape.
Throttling (429) is reported by Intuit as a `Fault` of type `SERVICE` with code 3001 and the
message `message=ThrottleExceeded; errorCode=003001; statusCode=429` (seen in integrators'
captures), so it keeps the upper-case shape that python-quickbooks can parse.
"""

from __future__ import annotations

import time
from typing import Any

INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


class QboFault(Exception):
    """A service fault; routes turn it into the JSON body, batch items embed it."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        element: str | None = "",
        *,
        status: int = 400,
        fault_type: str = "ValidationFault",
        with_time: bool = True,
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type
        self.with_time = with_time

    def fault(self) -> dict[str, Any]:
        error: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def not_found() -> QboFault:
    return QboFault("610", "Object Not Found", INACTIVE_DETAIL)


def stale(who: str = "Sandbox User") -> QboFault:
    return QboFault(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {who} were working on this at the same time. {who} "
        "finished before you did, so your work was not saved.",
    )


def duplicate_name() -> QboFault:
    return QboFault(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : null",
        element=None,
    )


def unknown_property(name: str, java_class: str, known: list[str]) -> QboFault:
    listed = ", ".join(f'"{k}"' for k in known[:60])
    return QboFault(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{java_class}), '
        f"not marked as ignorable ({len(known)} known properties: {listed} [truncated]])\n "
        "specified is unsupported or invalid",
        element=None,
    )


def required(element: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_reference(element: str) -> QboFault:
    return QboFault(
        "2500", "Invalid Reference Id", f"Invalid Reference Id : {element}", element=element
    )


def invalid_id(value: str) -> QboFault:
    # the recorded 2030 fault carries no `time`
    return QboFault(
        "2030",
        "Invalid ID",
        f"Id should be a valid number. Supplied value:{value}",
        element="Id",
        with_time=False,
    )


def invalid_number(element: str, value: Any) -> QboFault:
    return QboFault(
        "2040", "Invalid Number", f"Invalid Number : {element} {value}", element=element
    )


def invalid_date(element: str, value: Any) -> QboFault:
    return QboFault("2040", "Invalid Date", f"Invalid Date : {element} {value}", element=element)


def invalid_enum(element: str, value: Any) -> QboFault:
    return QboFault(
        "2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element=element
    )


def too_long(element: str, maximum: int, supplied: int) -> QboFault:
    return QboFault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{maximum} "
        f"supported. Supplied length:{supplied}",
        element=element,
    )


def unsupported_path(relative: str, full: str) -> QboFault:
    return QboFault(
        "500",
        "Unsupported Operation",
        f"Operation Could not find resource for relative : {relative} of full path: {full} is not supported.",
        element=None,
    )


def unsupported_operation(detail: str) -> QboFault:
    return QboFault(
        "500", "Unsupported Operation", f"Operation {detail} is not supported.", element=None
    )


def business(detail: str, code: str = "6000") -> QboFault:
    return QboFault(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def duplicate_doc_number(doc: str, txn_type: str, txn_id: str) -> QboFault:
    return QboFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has "
        f"already been used. DocNumber={doc} is assigned to TxnType={txn_type} with TxnId={txn_id}",
    )


def amount_mismatch(supplied: Any) -> QboFault:
    return QboFault(
        "6070",
        "Amount calculation incorrect",
        f"Amount is not equal to UnitPrice * Qty. Supplied value:{supplied}",
    )


def cannot_link(detail: str) -> QboFault:
    return QboFault("620", "Txn ID Cannot Be Linked", detail)


def query_parse(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}", element=None)


def query_invalid(detail: str) -> QboFault:
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}", element=None)


def duplicate_request(request_id: str) -> QboFault:
    return QboFault(
        "600",
        "Duplicate Request ID",
        f"RequestId {request_id} already exists in the system, duplicate request is detected",
    )


def batch_too_large(size: int, limit: int) -> QboFault:
    return QboFault(
        "1040",
        "Batch size exceeds allowed limit",
        f"Batch size {size} exceeds the maximum of {limit} items per batch request",
    )


def system_error() -> QboFault:
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data. "
        "Please wait a few minutes and try again. If the problem persists, contact customer support.",
        status=500,
        fault_type="SystemFault",
    )


def throttled(status: int = 429) -> dict[str, Any]:
    return {
        "Error": [
            {
                "Message": f"message=ThrottleExceeded; errorCode=003001; statusCode={status}",
                "Detail": "The request limit was reached.  Try again later",
                "code": "3001",
            }
        ],
        "type": "SERVICE",
    }


def gateway_body(status: int, code: str, name: str, detail: str, fault_type: str) -> dict[str, Any]:
    """The API gateway's own error shape (recorded for 401), lower-case keys, `time` in ms."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": f"message={name}; errorCode={int(code):06d}; statusCode={status}",
                    "detail": detail,
                    "code": code,
                    "element": None,
                }
            ],
            "type": fault_type,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(time.time() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def unauthorized_body(detail: str) -> dict[str, Any]:
    return gateway_body(401, "3200", "AuthenticationFailed", detail, "AUTHENTICATION")


def forbidden_body(detail: str) -> dict[str, Any]:
    return gateway_body(403, "3100", "ApplicationAuthorizationFailed", detail, "AUTHORIZATION")


WWW_AUTHENTICATE = 'Bearer realm="Intuit", error="invalid_token"'
