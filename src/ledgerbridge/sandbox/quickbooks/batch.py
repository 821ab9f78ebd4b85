"""`POST /batch`: up to 30 items, each a create/update/delete/void or a query, answered with
HTTP 200 and one BatchItemResponse per item carrying the entity, a QueryResponse or its own
Fault. Items run in order but, as Intuit documents, do not see objects created by earlier items
of the same batch.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.quickbooks import errors, operations, query, schema
from ledgerbridge.sandbox.quickbooks.company import Env

MAX_ITEMS = 30


def run(env: Env, body: Any) -> list[dict[str, Any]]:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise errors.required("BatchItemRequest")
    if len(items) > MAX_ITEMS:
        raise errors.batch_too_large(len(items), MAX_ITEMS)
    company = env.company
    created: set[tuple[str, str]] = set()
    responses = []
    try:
        for item in items:
            bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
            try:
                if not bid:
                    raise errors.required("bId")
                key, payload = _run_item(env, item, created)
                responses.append({key: payload, "bId": bid})
            except errors.QboFault as fault:
                responses.append({"Fault": fault.fault(), "bId": bid})
            company.hidden = set(created)
    finally:
        company.hidden = set()
    return responses


def _run_item(env: Env, item: dict[str, Any], created: set[tuple[str, str]]) -> tuple[str, Any]:
    if "Query" in item:
        parsed = query.parse(str(item["Query"]), env.company)
        return "QueryResponse", query.run(parsed, env.company, env.tz)
    entity_keys = [k for k in item if k in schema.ENTITIES]
    unknown = [
        k for k in item if k not in schema.ENTITIES and k not in ("bId", "operation", "optionsData")
    ]
    if unknown:
        raise errors.unknown_property(
            unknown[0],
            "BatchItemRequest",
            ["bId", "operation", "optionsData", "Query", *schema.ENTITIES],
        )
    if len(entity_keys) != 1:
        raise errors.required("BatchItemRequest entity")
    entity = entity_keys[0]
    body = item[entity]
    if not isinstance(body, dict):
        raise errors.required(entity)
    schema.check_known(entity, body)
    operation = str(item.get("operation", "")).lower()
    options = {x.strip().lower() for x in str(item.get("optionsData", "")).split(",") if x.strip()}
    if operation == "create":
        record = operations.create(env, entity, body)
        created.add((entity, record["Id"]))
        return entity, operations.public(record)
    if operation == "update" and "void" in options or operation == "void":
        return entity, operations.public(operations.void(env, entity, body))
    if operation == "update":
        if not operations._is_update(body):
            raise errors.required("Id")
        return entity, operations.public(operations.update(env, entity, body))
    if operation == "delete":
        return entity, operations.delete(env, entity, body)
    raise errors.invalid_enum("operation", operation or "<missing>")
