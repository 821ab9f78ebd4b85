"""HTTP surface of the accounting API: `/v3/company/{realmId}/...`.

One catch-all route dispatches like QBO does, so that unknown paths get QBO's own
"Unsupported Operation" fault (code 500, HTTP 400) instead of a framework 404. Authentication
answers in the gateway's lower-case shape (401 with WWW-Authenticate, 403 for another realm).
POSTs carrying `?requestid=` are remembered per realm: the same requestid with the same request
replays the first response (status and body) without running it again; reusing a requestid for
a different request is fault 600.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledgerbridge.sandbox.quickbooks import (
    batch,
    cdc,
    errors,
    exchange,
    operations,
    pdf,
    query,
    schema,
)
from ledgerbridge.sandbox.quickbooks.state import SandboxState
from ledgerbridge.sandbox.quickbooks.wire import (
    CENT,
    HOME_UNIT,
    MINOR_UNIT,
    dumps,
    loads,
    response_time,
)

router = APIRouter()
log = logging.getLogger(__name__)
JSON_TYPE = "application/json;charset=utf-8"
REQUEST_ID_MAX = 50


def _headers() -> dict[str, str]:
    tid = f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
    return {"Intuit-Tid": tid, "intuit_tid": tid, "QBO-Version": "sandbox"}


def _json(status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(body),
        status_code=status,
        media_type=JSON_TYPE,
        headers={**_headers(), **(extra or {})},
    )


def fault_response(state: SandboxState, fault: errors.QboFault) -> Response:
    body: dict[str, Any] = {"Fault": fault.fault()}
    if fault.with_time:
        body["time"] = response_time(state.clock(), state.tz)
    return _json(fault.status, body)


def _authenticate(state: SandboxState, request: Request, realm: str) -> Response | None:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if token and token == state.static_token:
        token_realm: str | None = realm
        detail = ""
    elif token:
        token_realm, detail = state.oauth.check_access(token)
    else:
        token_realm, detail = None, "Authorization header is missing or not a Bearer token"
    if token_realm is None:
        return _json(
            401, errors.unauthorized_body(detail), {"WWW-Authenticate": errors.WWW_AUTHENTICATE}
        )
    if token_realm != realm or state.company(realm) is None:
        return _json(403, errors.forbidden_body(f"Token is not authorized for company {realm}"))
    return None


def _body_key(method: str, rest: str, params: dict[str, str], raw: bytes) -> str:
    try:
        canonical: Any = json.loads(raw) if raw else None
    except ValueError:
        canonical = raw.decode("latin-1")
    material = json.dumps([method, rest.lower(), sorted(params.items()), canonical], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


@router.api_route("/v3/company/{realm}/{rest:path}", methods=["GET", "POST"])
async def accounting(realm: str, rest: str, request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    denied = _authenticate(state, request, realm)
    if denied is not None:
        return denied
    params = {k.lower(): v for k, v in request.query_params.items()}
    params.pop("minorversion", None)  # every minor version is accepted; 75 is the baseline
    request_id = params.pop("requestid", "") or ""
    raw = await request.body()
    company = state.companies[realm]
    replay_key = ""
    if request.method == "POST" and request_id and rest.strip("/").lower() != "query":
        if len(request_id) > REQUEST_ID_MAX:
            return fault_response(
                state, errors.too_long("requestid", REQUEST_ID_MAX, len(request_id))
            )
        replay_key = _body_key(request.method, rest, params, raw)
        seen = company.request_log.get(request_id)
        if seen is not None:
            if seen["key"] != replay_key:
                return fault_response(state, errors.duplicate_request(request_id))
            return Response(
                seen["body"], status_code=seen["status"], media_type=JSON_TYPE, headers=_headers()
            )
    # A transaction in JPY or BHD changes the minor unit for the rest of its request only.
    unit, home_unit = MINOR_UNIT.set(CENT), HOME_UNIT.set(CENT)
    try:
        response = await _dispatch(state, realm, rest, request, params, raw)
    except errors.QboFault as fault:
        response = fault_response(state, fault)
    except Exception:  # a sandbox bug must still look like QBO to the client: a SystemFault
        log.exception("QBO sandbox failed on %s %s", request.method, rest)
        return fault_response(state, errors.system_error())
    finally:
        MINOR_UNIT.reset(unit)
        HOME_UNIT.reset(home_unit)
    if replay_key:
        company.remember_request(
            request_id,
            {
                "key": replay_key,
                "status": response.status_code,
                "body": bytes(response.body).decode(),
            },
        )
        state.mark_dirty()
    return response


async def _dispatch(
    state: SandboxState, realm: str, rest: str, request: Request, params: dict[str, str], raw: bytes
) -> Response:
    parts = [p for p in rest.split("/") if p]
    method = request.method
    include = frozenset(
        x.strip().lower() for x in params.get("include", "").split(",") if x.strip()
    )
    env = state.env(realm, include=include)
    now = response_time(env.now, state.tz)
    head = parts[0].lower() if parts else ""

    if head == "query" and len(parts) == 1:
        text = (
            raw.decode("utf-8", "replace")
            if method == "POST" and raw.strip()
            else params.get("query", "")
        )
        if exchange.is_query(text):
            return _json(200, {"QueryResponse": exchange.query(env, text), "time": now})
        result = query.run(query.parse(text, env.company), env.company, state.tz)
        return _json(200, {"QueryResponse": result, "time": now})
    if head == "exchangerate" and len(parts) == 1:
        if method == "GET":
            return _json(200, {exchange.ENTITY: exchange.read(env, params), "time": now})
        return _json(200, {exchange.ENTITY: exchange.write(env, _parse(raw)), "time": now})
    if head == "cdc" and len(parts) == 1 and method == "GET":
        result = cdc.run(
            env.company, params.get("entities"), params.get("changedsince"), env.now, state.tz
        )
        return _json(200, {"CDCResponse": result, "time": now})
    if head == "batch" and len(parts) == 1 and method == "POST":
        body = _parse(raw)
        items = batch.run(env, body)
        state.throttle.charge(realm, len(items) - 1)
        return _json(200, {"BatchItemResponse": items, "time": now})

    entity = schema.BY_PATH.get(head)
    if entity is None:
        raise _unsupported(request, realm, rest)
    if len(parts) == 1 and method == "POST":
        record = operations.write(env, entity, _parse(raw), params)
        return _json(200, {entity: operations.public(record), "time": now})
    if len(parts) == 1 and method == "GET" and entity == "Preferences":
        return _json(
            200, {entity: operations.public(operations.read(env, entity, "1")), "time": now}
        )
    if len(parts) == 2 and method == "GET":
        entity_id = parts[1]
        if entity == "CompanyInfo" and entity_id in (realm, "1"):
            entity_id = "1"
        record = operations.read(env, entity, entity_id)
        return _json(200, {entity: operations.public(record), "time": now})
    if (
        len(parts) == 3
        and parts[2].lower() == "pdf"
        and method == "GET"
        and entity in schema.SALES_FORMS
    ):
        record = operations.read(env, entity, parts[1])
        content = pdf.render(entity, record, env.company.info)
        return Response(content, media_type="application/pdf", headers=_headers())
    if len(parts) == 3 and parts[2].lower() == "send" and method == "POST":
        record = operations.send_txn(env, entity, parts[1], request.query_params.get("sendTo"))
        return _json(200, {entity: operations.public(record), "time": now})
    raise _unsupported(request, realm, rest)


def _parse(raw: bytes) -> Any:
    try:
        return loads(raw.decode("utf-8")) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            f"Request body could not be parsed as JSON: {exc}",
            element=None,
        ) from exc


def _unsupported(request: Request, realm: str, rest: str) -> errors.QboFault:
    relative = f"/v3/company/{realm}/{rest}"
    return errors.unsupported_path(
        relative, f"{request.base_url}qbo50{relative}".replace("//qbo50", "/qbo50")
    )
