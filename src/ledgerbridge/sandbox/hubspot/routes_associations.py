"""Associations v4 (records and labels), plus the v3/dated read and write shortcuts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .clock import iso_ms
from .errors import ApiError, not_found, validation
from .render import int_param, json_body
from .sandbox import HubSpotSandbox
from .schema import AssocType
from .state import object_type


def _sb(request: Request) -> HubSpotSandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _labels_between(sb: HubSpotSandbox, ft: str, fid: str, tt: str, tid: str) -> list[str]:
    ids = sb.graph.targets(ft, fid, tt).get(tid, set())
    return [t.label for i in sorted(ids) if (t := sb.graph.find_type(ft, tt, i)) and t.label]


def _pair(sb: HubSpotSandbox, ft: str, fid: str, tt: str, tid: str) -> dict[str, Any]:
    return {
        "fromObjectTypeId": object_type(ft).type_id,
        "fromObjectId": int(fid),
        "toObjectTypeId": object_type(tt).type_id,
        "toObjectId": int(tid),
        "labels": _labels_between(sb, ft, fid, tt, tid),
    }


def _default_results(
    sb: HubSpotSandbox, ft: str, fid: str, tt: str, tid: str
) -> list[dict[str, Any]]:
    fwd = sb.graph.default_type(ft, tt)
    rev = sb.graph.inverse(fwd)
    return [
        {
            "from": {"id": fid},
            "to": {"id": tid},
            "associationSpec": {
                "associationCategory": fwd.category,
                "associationTypeId": fwd.type_id,
            },
        },
        {
            "from": {"id": tid},
            "to": {"id": fid},
            "associationSpec": {
                "associationCategory": rev.category,
                "associationTypeId": rev.type_id,
            },
        },
    ]


def _to_list(sb: HubSpotSandbox, ft: str, fid: str, tt: str) -> list[dict[str, Any]]:
    out = []
    for to_id, ids in sorted(sb.graph.targets(ft, fid, tt).items(), key=lambda kv: int(kv[0])):
        if sb.store.get(tt, to_id) is None:
            continue
        out.append(
            {
                "toObjectId": int(to_id),
                "associationTypes": [sb.graph.spec(ft, tt, i) for i in sorted(ids)],
            }
        )
    return out


def _type_ids(types: Any) -> list[tuple[str | None, int]]:
    if not isinstance(types, list) or not types:
        raise validation("At least one association type is required")
    out = []
    for t in types:
        try:
            out.append((t.get("associationCategory"), int(t["associationTypeId"])))
        except (KeyError, TypeError, ValueError):
            raise validation(
                "Each association type needs associationCategory and associationTypeId"
            ) from None
    return out


def _batch_body(
    sb: HubSpotSandbox, results: list[Any], errors: list[Any], started: int
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


def router() -> APIRouter:
    r = APIRouter()

    async def put_default(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        started = sb.now_ms()
        sb.associate(ft, from_id, tt, to_id)
        return JSONResponse(
            _batch_body(sb, _default_results(sb, ft, from_id, tt, to_id), [], started)
        )

    async def put_labelled(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        specs = _type_ids(await json_body(request))
        with sb.batch():
            for category, type_id in specs:
                sb.associate(ft, from_id, tt, to_id, type_id, category)
        return JSONResponse(_pair(sb, ft, from_id, tt, to_id), status_code=201)

    async def get_page(from_type: str, from_id: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        limit = int_param(request, "limit", 500, 500)
        after = int(request.query_params.get("after") or 0)
        with sb.lock:
            if sb.store.get(ft, from_id) is None:
                raise not_found(f"{object_type(ft).label} {from_id} not found")
            items = _to_list(sb, ft, from_id, tt)
        page = items[after : after + limit]
        body: dict[str, Any] = {"results": page}
        if after + limit < len(items):
            body["paging"] = {"next": {"after": str(after + limit), "link": None}}
        return JSONResponse(body)

    async def delete_pair(
        from_type: str, from_id: str, to_type: str, to_id: str, request: Request
    ) -> Response:
        _sb(request).unassociate(from_type, from_id, to_type, to_id)
        return Response(status_code=204)

    for prefix in ("/crm/v4/objects", "/crm/objects/2026-03"):
        r.add_api_route(
            prefix + "/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
            put_default,
            methods=["PUT"],
        )
        r.add_api_route(
            prefix + "/{from_type}/{from_id}/associations/{to_type}/{to_id}",
            put_labelled,
            methods=["PUT"],
        )
        r.add_api_route(
            prefix + "/{from_type}/{from_id}/associations/{to_type}/{to_id}",
            delete_pair,
            methods=["DELETE"],
        )
    r.add_api_route(
        "/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}", get_page, methods=["GET"]
    )

    async def get_v3(from_type: str, from_id: str, to_type: str, request: Request) -> Response:
        """v3 shape: `{results: [{id, type}]}`."""
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        with sb.lock:
            results = [
                {
                    "id": str(item["toObjectId"]),
                    "type": (t.name if (t := sb.graph.find_type(ft, tt, spec["typeId"])) else ""),
                }
                for item in _to_list(sb, ft, from_id, tt)
                for spec in item["associationTypes"]
            ]
        return JSONResponse({"results": results})

    r.add_api_route(
        "/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}", get_v3, methods=["GET"]
    )
    r.add_api_route(
        "/crm/objects/2026-03/{from_type}/{from_id}/associations/{to_type}", get_v3, methods=["GET"]
    )

    # --- batch --------------------------------------------------------------------------------------
    b = "/crm/v4/associations/{from_type}/{to_type}/batch"

    @r.post(b + "/associate/default")
    async def batch_default(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        started = sb.now_ms()
        body = await json_body(request)
        results = []
        with sb.batch():
            for item in body.get("inputs") or []:
                fid, tid = str(item["from"]["id"]), str(item["to"]["id"])
                sb.associate(ft, fid, tt, tid)
                results += _default_results(sb, ft, fid, tt, tid)
        return JSONResponse(_batch_body(sb, results, [], started))

    @r.post(b + "/create")
    async def batch_create(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        started = sb.now_ms()
        inputs = (await json_body(request)).get("inputs") or []
        if len(inputs) > 2000:
            raise validation("Batch association create is limited to 2000 inputs")
        results, errors = [], []
        for item in inputs:
            fid, tid = str(item["from"]["id"]), str(item["to"]["id"])
            try:
                with sb.batch():
                    for category, type_id in _type_ids(item.get("types")):
                        sb.associate(ft, fid, tt, tid, type_id, category)
                results.append(_pair(sb, ft, fid, tt, tid))
            except ApiError as exc:
                errors.append(exc.standard_error())
        return JSONResponse(
            _batch_body(sb, results, errors, started), status_code=207 if errors else 201
        )

    @r.post(b + "/read")
    async def batch_read(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        ft, tt = object_type(from_type).name, object_type(to_type).name
        started = sb.now_ms()
        inputs = (await json_body(request)).get("inputs") or []
        if len(inputs) > 1000:
            raise validation("Batch association read is limited to 1000 inputs")
        results, missing = [], []
        with sb.lock:
            for item in inputs:
                fid = str(item.get("id"))
                to = _to_list(sb, ft, fid, tt) if sb.store.get(ft, fid) else []
                if not to:
                    missing.append(fid)
                    continue
                results.append({"from": {"id": fid}, "to": to})
        errors = []
        if missing:
            errors.append(
                ApiError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {tt} is associated with {ft} {', '.join(missing)}",
                    sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                    context={"fromObjectId": missing},
                ).standard_error()
            )
        return JSONResponse(
            _batch_body(sb, results, errors, started), status_code=207 if errors else 200
        )

    @r.post(b + "/archive")
    async def batch_archive(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        with sb.batch():
            for item in (await json_body(request)).get("inputs") or []:
                for to in item.get("to") or []:
                    sb.unassociate(from_type, str(item["from"]["id"]), to_type, str(to["id"]))
        return Response(status_code=204)

    @r.post(b + "/labels/archive")
    async def batch_archive_labels(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        with sb.batch():
            for item in (await json_body(request)).get("inputs") or []:
                ids = {tid for _, tid in _type_ids(item.get("types"))}
                sb.unassociate(
                    from_type, str(item["from"]["id"]), to_type, str(item["to"]["id"]), ids
                )
        return Response(status_code=204)

    # --- labels -------------------------------------------------------------------------------------
    lp = "/crm/v4/associations/{from_type}/{to_type}/labels"

    def _spec(t: AssocType) -> dict[str, Any]:
        return {"category": t.category, "typeId": t.type_id, "label": t.label}

    @r.get(lp)
    async def get_labels(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        types = sb.graph.types_between(object_type(from_type).name, object_type(to_type).name)
        return JSONResponse({"results": [_spec(t) for t in types]})

    @r.post(lp)
    async def create_label(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        body = await json_body(request)
        with sb.batch():
            fwd, rev = sb.graph.create_label(
                object_type(from_type).name,
                object_type(to_type).name,
                body.get("label", ""),
                body.get("name"),
                body.get("inverseLabel"),
            )
        return JSONResponse({"results": [_spec(fwd), _spec(rev)]})

    @r.put(lp)
    async def update_label(from_type: str, to_type: str, request: Request) -> Response:
        sb = _sb(request)
        body = await json_body(request)
        with sb.batch():
            sb.graph.update_label(
                object_type(from_type).name,
                object_type(to_type).name,
                int(body.get("associationTypeId", 0)),
                body.get("label", ""),
                body.get("inverseLabel"),
            )
        return Response(status_code=204)

    @r.delete(lp + "/{type_id}")
    async def delete_label(
        from_type: str, to_type: str, type_id: int, request: Request
    ) -> Response:
        sb = _sb(request)
        with sb.batch():
            sb.graph.delete_label(object_type(from_type).name, object_type(to_type).name, type_id)
        return Response(status_code=204)

    return r
