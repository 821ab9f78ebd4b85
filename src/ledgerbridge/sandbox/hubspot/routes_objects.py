"""CRM object endpoints: basic (list, read, create, update, archive), batch and search, served
at `/crm/v3/objects/{objectType}` and the dated `/crm/objects/2026-03/{objectType}`."""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import search as search_mod
from .clock import iso_ms
from .errors import ApiError, not_found, validation
from .render import bool_param, int_param, json_body, list_param, render
from .sandbox import HubSpotSandbox
from .state import object_type

BATCH_LIMIT = 100


def _sb(request: Request) -> HubSpotSandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _inputs(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation("Invalid input JSON: `inputs` must be a list")
    if len(body["inputs"]) > BATCH_LIMIT:
        raise validation(
            f"Batch input is limited to {BATCH_LIMIT} inputs; got {len(body['inputs'])}",
            sub_category="crm.batch.TOO_MANY_INPUTS",
        )
    return body["inputs"]


def _batch(
    sb: HubSpotSandbox,
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    started: int,
    ok_status: int,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(sb.now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body.update(extra or {})
    return JSONResponse(body, status_code=207 if errors else ok_status)


def _after(sb: HubSpotSandbox, type_name: str, after: int, limit: int, archived: bool) -> list[Any]:
    """Up to limit + 1 records with an id above `after`, in id order: live ones from the id
    index (a page costs the page, not the portal), archived ones by a scan."""
    d = sb.props.get(type_name, "hs_object_id")
    if not archived and d is not None and d["type"] == "number":
        idx = sb.store.sorted_index(type_name, "hs_object_id", "number")
        if not idx.absent:
            start = bisect_right(idx.entries, (Decimal(after), float("inf")))
            found = (
                sb.store.get(type_name, str(i)) for _, i in idx.entries[start : start + limit + 1]
            )
            return [x for x in found if x is not None]
    return sorted(
        (
            x
            for x in sb.store.of(type_name).values()
            if x.archived == archived and int(x.id) > after
        ),
        key=lambda x: int(x.id),
    )


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/{object_type_name}")
    async def list_objects(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        limit = int_param(request, "limit", 10, 100)
        after = request.query_params.get("after") or "0"
        if not after.isdigit():
            raise validation(f"after must be a record id cursor: {after!r}")
        archived = bool_param(request, "archived")
        with sb.lock:
            recs = _after(sb, t.name, int(after), limit, archived)
            page = recs[:limit]
            results = [
                render(
                    sb,
                    x,
                    properties=list_param(request, "properties"),
                    history=list_param(request, "propertiesWithHistory"),
                    associations=list_param(request, "associations"),
                )
                for x in page
            ]
        body: dict[str, Any] = {"results": results}
        if len(recs) > limit:
            nxt = page[-1].id
            body["paging"] = {"next": {"after": nxt, "link": f"{request.url.path}?after={nxt}"}}
        return JSONResponse(body)

    @r.post("/{object_type_name}")
    async def create(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        new_id = sb.create_object(
            t.name, body.get("properties") or {}, body.get("associations") or []
        )
        with sb.lock:
            return JSONResponse(
                render(
                    sb,
                    sb.store.get(t.name, new_id),
                    properties=None,  # type: ignore[arg-type]
                    default_props=False,
                )
                | {"properties": _all_props(sb, t.name, new_id)},
                status_code=201,
            )

    @r.get("/{object_type_name}/{object_id}")
    async def read(object_type_name: str, object_id: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        rec = sb.get_object(
            t.name,
            object_id,
            id_property=request.query_params.get("idProperty"),
            archived=bool_param(request, "archived"),
        )
        if rec is None:
            raise not_found("resource not found")
        with sb.lock:
            return JSONResponse(
                render(
                    sb,
                    rec,
                    properties=list_param(request, "properties"),
                    history=list_param(request, "propertiesWithHistory"),
                    associations=list_param(request, "associations"),
                )
            )

    @r.patch("/{object_type_name}/{object_id}")
    async def update(object_type_name: str, object_id: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        rec = sb.update_object(
            t.name,
            object_id,
            body.get("properties") or {},
            id_property=request.query_params.get("idProperty"),
        )
        with sb.lock:
            return JSONResponse(
                render(sb, rec, default_props=False)
                | {"properties": _all_props(sb, t.name, rec.id)}
            )

    @r.delete("/{object_type_name}/{object_id}")
    async def archive(object_type_name: str, object_id: str, request: Request) -> Response:
        _sb(request).archive_object(object_type(object_type_name).name, object_id)
        return Response(status_code=204)

    # --- batch ------------------------------------------------------------------------------------
    @r.post("/{object_type_name}/batch/read")
    async def batch_read(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        started = sb.now_ms()
        body = await json_body(request)
        inputs = _inputs(body)
        archived = bool_param(request, "archived")
        results, missing = [], []
        with sb.lock:
            for item in inputs:
                rec = sb.get_object(
                    t.name,
                    str(item.get("id")),
                    id_property=body.get("idProperty"),
                    archived=archived,
                )
                if rec is None:
                    missing.append(str(item.get("id")))
                    continue
                results.append(
                    render(
                        sb,
                        rec,
                        properties=body.get("properties") or None,
                        history=body.get("propertiesWithHistory") or None,
                    )
                )
        errors = []
        if missing:
            errors.append(
                not_found(
                    f"Could not get some {t.label} objects, they may be deleted or "
                    "not exist. Check that ids are valid.",
                    context={"ids": missing},
                ).standard_error()
            )
        return _batch(sb, results, errors, started, 200)

    @r.post("/{object_type_name}/batch/create")
    async def batch_create(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        started = sb.now_ms()
        inputs = _inputs(await json_body(request))
        traced = bool(inputs) and all(i.get("objectWriteTraceId") for i in inputs)
        results, errors = [], []
        with sb.batch():
            created: list[str] = []
            for item in inputs:
                try:
                    new_id = sb.create_object(
                        t.name, item.get("properties") or {}, item.get("associations") or []
                    )
                except ApiError as exc:
                    if not traced:
                        sb.discard_created(t.name, created)
                        raise
                    exc.context = {
                        **(exc.context or {}),
                        "objectWriteTraceId": [item["objectWriteTraceId"]],
                    }
                    errors.append(exc.standard_error())
                    continue
                created.append(new_id)
                out = render(sb, sb.store.get(t.name, new_id), default_props=False)  # type: ignore[arg-type]
                out["properties"] = _all_props(sb, t.name, new_id)
                if item.get("objectWriteTraceId"):
                    out["objectWriteTraceId"] = item["objectWriteTraceId"]
                results.append(out)
        return _batch(sb, results, errors, started, 201)

    @r.post("/{object_type_name}/batch/update")
    async def batch_update(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        started = sb.now_ms()
        inputs = _inputs(await json_body(request))
        results, missing = [], []
        with sb.batch():
            todo = []
            for item in inputs:
                rec = sb.get_object(t.name, str(item.get("id")), id_property=item.get("idProperty"))
                if rec is None:
                    missing.append(str(item.get("id")))
                    continue
                props = {
                    k: v
                    for k, v in (item.get("properties") or {}).items()
                    if k != "hs_invoice_status"
                }
                sb.validate_properties(t, props, rec)  # all inputs valid before any is written
                todo.append((rec, item.get("properties") or {}))
            for rec, props in todo:
                sb.update_object(t.name, rec.id, props)
                results.append(
                    render(sb, rec, default_props=False)
                    | {"properties": _all_props(sb, t.name, rec.id)}
                )
        errors = []
        if missing:
            errors.append(
                not_found(
                    f"Could not update some {t.label} objects, they may be deleted or not exist.",
                    context={"ids": missing},
                ).standard_error()
            )
        return _batch(sb, results, errors, started, 200)

    @r.post("/{object_type_name}/batch/upsert")
    async def batch_upsert(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        started = sb.now_ms()
        inputs = _inputs(await json_body(request))
        results = []
        with sb.batch():
            created: list[str] = []
            try:
                for item in inputs:
                    id_prop = item.get("idProperty") or "hs_object_id"
                    d = sb.props.get(t.name, id_prop)
                    if id_prop != "hs_object_id" and (
                        d is None or not (d.get("hasUniqueValue") or id_prop == "email")
                    ):
                        raise validation(
                            f"idProperty {id_prop} must be a unique-value property of {t.name}"
                        )
                    rec = sb.get_object(t.name, str(item.get("id")), id_property=id_prop)
                    props = dict(item.get("properties") or {})
                    if rec is None:
                        if id_prop == "hs_object_id":
                            raise not_found(f"{t.label} {item.get('id')} does not exist")
                        new_id = sb.create_object(t.name, {**props, id_prop: item.get("id")})
                        created.append(new_id)
                        rec, is_new = sb.store.get(t.name, new_id), True
                    else:
                        sb.update_object(t.name, rec.id, props)
                        is_new = False
                    out = render(sb, rec, default_props=False)  # type: ignore[arg-type]
                    out["properties"] = _all_props(sb, t.name, rec.id)  # type: ignore[union-attr]
                    out["new"] = is_new
                    results.append(out)
            except ApiError:
                sb.discard_created(t.name, created)
                raise
        return _batch(sb, results, [], started, 200)

    @r.post("/{object_type_name}/batch/archive")
    async def batch_archive(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        inputs = _inputs(await json_body(request))
        with sb.batch():
            ids = [str(i.get("id")) for i in inputs]
            if t.name == "invoices":
                locked = [
                    i
                    for i in ids
                    if (rec := sb.store.get("invoices", i)) is not None
                    and rec.properties.get("hs_invoice_status") != "draft"
                ]
                if locked:
                    raise validation(
                        f"Only draft invoices can be deleted; not drafts: {locked}",
                        context={"ids": locked},
                    )
            for i in ids:
                sb.archive_object(t.name, i)
        return Response(status_code=204)

    # --- search -----------------------------------------------------------------------------------
    @r.post("/{object_type_name}/search")
    async def do_search(object_type_name: str, request: Request) -> Response:
        sb, t = _sb(request), object_type(object_type_name)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation("Invalid search request")
        with sb.lock:
            total, page, next_after = search_mod.search(sb, t, body)
            props = body.get("properties") or None
            results = [render(sb, rec, properties=props) for rec in page]
        out: dict[str, Any] = {"total": total, "results": results}
        if next_after is not None:
            out["paging"] = {"next": {"after": str(next_after)}}
        return JSONResponse(out)

    return r


def _all_props(sb: HubSpotSandbox, type_name: str, object_id: str) -> dict[str, str | None]:
    """Write responses echo every property the record has (as HubSpot does)."""
    rec = sb.store.of(type_name)[object_id]
    return dict(sorted(rec.properties.items()))
