"""Wire shapes of records (`SimplePublicObject...`) and request-parameter parsing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Request

from .clock import iso_ms
from .errors import validation
from .schema import resolve_type
from .store import Record, history_entry

if TYPE_CHECKING:
    from .state import SandboxState

ALWAYS = ("hs_object_id",)


def list_param(request: Request, name: str) -> list[str] | None:
    """List parameters arrive as repeated keys (the official SDK) or comma-separated."""
    raw = request.query_params.getlist(name)
    if not raw:
        return None
    return [p.strip() for item in raw for p in item.split(",") if p.strip()]


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return raw.strip().lower() == "true"  # the SDK sends Python's str(False) = "False"


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation(f"Invalid value for {name}: {raw!r}") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise validation(
            f"{name} must be between 1 and {maximum}" if maximum else f"{name} must be positive"
        )
    return value


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise validation("Request body is required")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation(f"Invalid input JSON on line 1: {exc}") from None


def render(
    state: SandboxState,
    rec: Record,
    *,
    properties: list[str] | None = None,
    history: list[str] | None = None,
    associations: list[str] | None = None,
    default_props: bool = True,
) -> dict[str, Any]:
    t = resolve_type(rec.object_type)
    if properties is None:
        names = list(t.default_props) if (t and default_props) else []
    else:
        names = [p for p in properties if state.props.get(rec.object_type, p) is not None]
        names += [
            n
            for n in (
                *ALWAYS,
                "hs_createdate" if "hs_createdate" in rec.properties else "createdate",
                "hs_lastmodifieddate" if rec.object_type != "contacts" else "lastmodifieddate",
            )
            if n not in names
        ]
    out: dict[str, Any] = {
        "id": rec.id,
        "properties": {n: rec.properties.get(n) for n in names},
        "createdAt": iso_ms(rec.created_ms),
        "updatedAt": iso_ms(rec.updated_ms),
        "archived": rec.archived,
    }
    if rec.archived and rec.archived_ms:
        out["archivedAt"] = iso_ms(rec.archived_ms)
    if history:
        out["propertiesWithHistory"] = {
            n: [history_entry(h) for h in rec.history_of(n)]
            for n in history
            if state.props.get(rec.object_type, n) is not None
        }
    if associations:
        assoc: dict[str, Any] = {}
        for name in associations:
            to = resolve_type(name)
            if to is None:
                continue
            results = []
            for to_id, type_ids in sorted(
                state.graph.targets(rec.object_type, rec.id, to.name).items(),
                key=lambda kv: int(kv[0]),
            ):
                if state.store.get(to.name, to_id) is None:
                    continue
                for tid in sorted(type_ids):
                    at = state.graph.find_type(rec.object_type, to.name, tid)
                    results.append({"id": to_id, "type": at.name if at else str(tid)})
            if results:
                assoc[to.name] = {"results": results}
        if assoc:
            out["associations"] = assoc
    return out
