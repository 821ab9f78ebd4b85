"""The generic write flow every entity shares: create, full/sparse update with SyncToken,
delete, void, send; and reads.

What it guarantees: 2010 for unknown properties before anything else; 2020 when the SyncToken is
missing, 5010 when it is stale; a write that changes nothing keeps its SyncToken and
LastUpdatedTime (recorded: deactivating an already inactive employee); every real change gets
SyncToken + 1, a new LastUpdatedTime and a webhook event; deleted transactions leave a tombstone
for CDC and later reads answer 610.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.quickbooks import errors, schema
from ledgerbridge.sandbox.quickbooks.company import Env
from ledgerbridge.sandbox.quickbooks.expenses import PurchaseHandler
from ledgerbridge.sandbox.quickbooks.handler import (
    COMMON_READ_ONLY,
    Handler,
    Write,
    clean,
    passthrough,
)
from ledgerbridge.sandbox.quickbooks.names import handlers as name_handlers
from ledgerbridge.sandbox.quickbooks.payments import PaymentHandler
from ledgerbridge.sandbox.quickbooks.sales import SalesHandler, send

_META_KEYS = {"SyncToken", "MetaData", "domain", "sparse", "_updated"}


class ConfigHandler(Handler):
    """CompanyInfo and Preferences: one record per company, updated, never created or deleted.
    Multicurrency cannot be switched through the API (only in QBO's UI; here, the admin
    endpoint), so CurrencyPrefs sent by a client are ignored."""

    creatable = False

    def __init__(self, entity: str) -> None:
        self.entity = entity

    def build(self, w: Write) -> dict[str, Any]:
        record = passthrough(w.data, set(), self.read_only)
        if w.sparse and w.existing is not None:
            for key, value in w.request.items():
                old = w.existing.get(key)
                if isinstance(value, dict) and isinstance(old, dict):
                    record[key] = {**old, **value}
        if self.entity == "Preferences" and w.existing is not None:
            record["CurrencyPrefs"] = w.existing["CurrencyPrefs"]
        return record


def build_handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = dict(name_handlers())
    for entity in schema.SALES_FORMS:
        table[entity] = SalesHandler(entity)
    table["Payment"] = PaymentHandler()
    table["Purchase"] = PurchaseHandler()
    table["CompanyInfo"] = ConfigHandler("CompanyInfo")
    table["Preferences"] = ConfigHandler("Preferences")
    return table


HANDLERS = build_handlers()


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _check_id(raw: Any) -> str:
    text = str(raw).strip()
    if not text.isdigit():
        raise errors.invalid_id(text)
    return text


def read(env: Env, entity: str, entity_id: str) -> dict[str, Any]:
    if entity in ("CompanyInfo", "Preferences"):
        return env.company.entities[entity]["1"]
    record = env.company.get(entity, _check_id(entity_id))
    if record is None:
        raise errors.not_found()
    return record


def _existing(env: Env, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    entity_id = _check_id(body.get("Id"))
    record = env.company.get(entity, entity_id)
    if record is None:
        raise errors.not_found()
    token = body.get("SyncToken")
    if token is None or str(token).strip() == "":
        raise errors.required("SyncToken")
    if str(token).strip() != str(record.get("SyncToken", "0")):
        raise errors.stale()
    return record


def _is_update(body: dict[str, Any]) -> bool:
    raw = body.get("Id")
    if raw is None or str(raw).strip() in ("", "0"):
        return False
    text = str(raw).strip()
    return not (text.lstrip("-").isdigit() and int(text) <= 0)


def write(env: Env, entity: str, body: Any, params: dict[str, str]) -> dict[str, Any]:
    """POST /{entity}: create, update, delete or void, chosen as QBO chooses (Id, `operation`,
    `include`). Returns the stored record, or the deleted stub."""
    if not isinstance(body, dict):
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            "Request body must be a JSON object",
            element=None,
        )
    schema.check_known(entity, body)
    operation = (params.get("operation") or "").lower()
    include = {x.strip().lower() for x in (params.get("include") or "").split(",") if x.strip()}
    if operation == "delete":
        return delete(env, entity, body)
    if operation == "void" or (operation == "update" and "void" in include):
        return void(env, entity, body)
    if _is_update(body) or entity in ("CompanyInfo", "Preferences"):
        return update(env, entity, body)
    return create(env, entity, body)


def create(
    env: Env,
    entity: str,
    body: dict[str, Any],
    *,
    forced_id: str | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    handler = HANDLERS[entity]
    if not handler.creatable and not admin:
        raise errors.unsupported_operation(f"Create for {entity}")
    request = {k: v for k, v in (clean(body) or {}).items() if k not in COMMON_READ_ONLY}
    record = handler.build(Write(env, dict(request), request, None, False))
    company = env.company
    if forced_id is not None:
        company.reserve_id(entity, forced_id)
        entity_id = forced_id
    else:
        entity_id = company.new_id(entity)
    stamp = env.meta_now
    stored = {
        "domain": "QBO",
        "sparse": False,
        "Id": entity_id,
        "SyncToken": "0",
        "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
        **record,
        "_updated": env.now.isoformat(),
    }
    company.put(entity, stored)
    handler.after_save(env, None, stored)
    env.emit(entity, entity_id, "Create", env.now)
    return stored


def update(env: Env, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    handler = HANDLERS[entity]
    if entity in ("CompanyInfo", "Preferences"):
        existing = env.company.entities[entity]["1"]
        token = body.get("SyncToken")
        if token is None or str(token).strip() == "":
            raise errors.required("SyncToken")
        if str(token).strip() != str(existing.get("SyncToken", "0")):
            raise errors.stale()
    else:
        existing = _existing(env, entity, body)
    request = {k: v for k, v in (clean(body) or {}).items() if k not in COMMON_READ_ONLY}
    sparse = str(body.get("sparse")).lower() == "true"
    if sparse:
        data = {**{k: v for k, v in existing.items() if not k.startswith("_")}, **request}
    else:
        data = {**{k: existing[k] for k in handler.sticky if k in existing}, **request}
    record = handler.build(Write(env, data, request, existing, sparse))
    return _replace(env, handler, existing, record, "Update")


def _replace(
    env: Env, handler: Handler, existing: dict[str, Any], record: dict[str, Any], op: str
) -> dict[str, Any]:
    current = {k: v for k, v in existing.items() if k not in _META_KEYS and k != "Id"}
    proposed = {k: v for k, v in record.items() if k not in _META_KEYS and k != "Id"}
    if current == proposed:
        return existing
    stored = {
        "domain": "QBO",
        "sparse": False,
        "Id": existing["Id"],
        "SyncToken": str(int(existing.get("SyncToken", "0")) + 1),
        "MetaData": {
            "CreateTime": existing.get("MetaData", {}).get("CreateTime", env.meta_now),
            "LastUpdatedTime": env.meta_now,
        },
        **proposed,
        "_updated": env.now.isoformat(),
    }
    env.company.put(handler.entity, stored)
    handler.after_save(env, existing, stored)
    env.emit(handler.entity, stored["Id"], op, env.now)
    return stored


def delete(env: Env, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    handler = HANDLERS[entity]
    if not handler.deletable:
        raise errors.unsupported_operation(
            f"Delete for {entity}; make a name list entity inactive instead (Active=false)"
        )
    existing = _existing(env, entity, body)
    env.company.remove(entity, existing["Id"], env.now)
    handler.after_delete(env, existing)
    env.emit(entity, existing["Id"], "Delete", env.now)
    return {"domain": "QBO", "status": "Deleted", "Id": existing["Id"]}


def void(env: Env, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    handler = HANDLERS[entity]
    if not handler.voidable:
        raise errors.unsupported_operation(f"Void for {entity}")
    existing = _existing(env, entity, body)
    return _replace(env, handler, existing, handler.void(env, existing), "Void")


def send_txn(env: Env, entity: str, entity_id: str, send_to: str | None) -> dict[str, Any]:
    if entity not in schema.SALES_FORMS:
        raise errors.unsupported_operation(f"send for {entity}")
    existing = read(env, entity, entity_id)
    return _replace(
        env, HANDLERS[entity], existing, send(env, entity, existing, send_to), "Emailed"
    )
