"""Properties API: definitions and groups for every object type, at `/crm/v3/properties` and
the dated `/crm/properties/2026-03`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .clock import iso_ms
from .errors import ApiError, not_found, validation
from .render import bool_param, json_body
from .sandbox import HubSpotSandbox
from .state import object_type


def _sb(request: Request) -> HubSpotSandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/{object_type_name}")
    async def get_all(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        with sb.lock:
            return JSONResponse(
                {"results": sb.props.all(t.name, archived=bool_param(request, "archived"))}
            )

    @r.post("/{object_type_name}")
    async def create(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        with sb.batch():
            d = sb.props.create(t.name, body, sb.now_ms())
        return JSONResponse(d, status_code=201)

    # groups before /{name} so "groups" is not read as a property name
    @r.get("/{object_type_name}/groups")
    async def get_groups(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        return JSONResponse(
            {"results": [g for g in sb.props.groups[t.name].values() if not g["archived"]]}
        )

    @r.post("/{object_type_name}/groups")
    async def create_group(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        name, label = body.get("name"), body.get("label")
        if not name or not label:
            raise validation("name and label are required")
        with sb.batch():
            if name in sb.props.groups[t.name] and not sb.props.groups[t.name][name]["archived"]:
                raise ApiError(
                    409, "OBJECT_ALREADY_EXISTS", f"Property group '{name}' already exists."
                )
            g = {
                "name": name,
                "label": label,
                "displayOrder": body.get("displayOrder", -1),
                "archived": False,
            }
            sb.props.groups[t.name][name] = g
        return JSONResponse(g, status_code=201)

    @r.get("/{object_type_name}/groups/{group_name}")
    async def get_group(object_type_name: str, group_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        g = sb.props.groups[t.name].get(group_name)
        if g is None or g["archived"]:
            raise not_found(f"Unable to find property group {group_name}")
        return JSONResponse(g)

    @r.patch("/{object_type_name}/groups/{group_name}")
    async def update_group(object_type_name: str, group_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        with sb.batch():
            g = sb.props.groups[t.name].get(group_name)
            if g is None or g["archived"]:
                raise not_found(f"Unable to find property group {group_name}")
            g.update({k: body[k] for k in ("label", "displayOrder") if k in body})
        return JSONResponse(g)

    @r.delete("/{object_type_name}/groups/{group_name}")
    async def archive_group(object_type_name: str, group_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        with sb.batch():
            g = sb.props.groups[t.name].get(group_name)
            if g is None:
                raise not_found(f"Unable to find property group {group_name}")
            g["archived"] = True
        return Response(status_code=204)

    @r.post("/{object_type_name}/batch/create")
    async def batch_create(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        started = sb.now_ms()
        with sb.batch():
            results = [
                sb.props.create(t.name, item, sb.now_ms()) for item in body.get("inputs") or []
            ]
        return JSONResponse(_batch(results, [], started, sb), status_code=201)

    @r.post("/{object_type_name}/batch/read")
    async def batch_read(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        started = sb.now_ms()
        results, missing = [], []
        for item in body.get("inputs") or []:
            d = sb.props.get(
                t.name, item.get("name", ""), include_archived=bool(body.get("archived"))
            )
            if d is None:
                missing.append(item.get("name"))
            else:
                results.append(d)
        errors = (
            [
                not_found(
                    f"Unable to find properties {missing}", context={"name": missing}
                ).standard_error()
            ]
            if missing
            else []
        )
        return JSONResponse(
            _batch(results, errors, started, sb), status_code=207 if errors else 200
        )

    @r.post("/{object_type_name}/batch/archive")
    async def batch_archive(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        with sb.batch():
            for item in body.get("inputs") or []:
                sb.props.archive(t.name, item.get("name", ""), sb.now_ms())
        return Response(status_code=204)

    @r.get("/{object_type_name}/{property_name}")
    async def get_one(object_type_name: str, property_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        d = sb.props.get(t.name, property_name, include_archived=bool_param(request, "archived"))
        if d is None:
            raise not_found(f"Unable to find property {property_name} for object type {t.name}")
        return JSONResponse(d)

    @r.patch("/{object_type_name}/{property_name}")
    async def update(object_type_name: str, property_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        with sb.batch():
            d = sb.props.update(t.name, property_name, body, sb.now_ms())
        return JSONResponse(d)

    @r.delete("/{object_type_name}/{property_name}")
    async def archive(object_type_name: str, property_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        with sb.batch():
            sb.props.archive(t.name, property_name, sb.now_ms())
        return Response(status_code=204)

    return r


def _batch(
    results: list[Any], errors: list[Any], started: int, sb: HubSpotSandbox
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(sb.now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body
