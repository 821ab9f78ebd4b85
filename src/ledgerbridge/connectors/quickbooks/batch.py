"""Backfill writes through QBO `/batch` (30 operations per call, each item succeeds or fails on
its own).

A batch whose answer was lost is never resent blindly: every item carries its external key in
PrivateNote, so the connector looks the items up (one scan of the newest invoices for all of
them), takes the ones that exist, and sends only the missing ones again, in a new batch.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ledgerbridge.connectors.quickbooks.api import BATCH_MAX, QboApi
from ledgerbridge.connectors.quickbooks.errors import error_from_fault, parse_fault
from ledgerbridge.connectors.quickbooks.lookups import MarkerIndex
from ledgerbridge.connectors.quickbooks.results import with_invoice, write_result
from ledgerbridge.engine.ports import InvoiceCreate, WriteResult
from ledgerbridge.errors import SyncError, UnknownOutcome

# The engine's description of one create (ports.InvoiceCreate).
BatchCreate = InvoiceCreate

Prepared = tuple[BatchCreate, "dict[str, Any] | SyncError"]


def batch_request_id(request_ids: Sequence[str], attempt: int) -> str:
    """Deterministic per (set of items, attempt): a crash replays the same batch id."""
    digest = hashlib.sha256(("|".join(request_ids) + f"#{attempt}").encode()).hexdigest()
    return digest[:36]


def _result(row: Mapping[str, Any], created: bool, home: str | None) -> WriteResult:
    # TotalAmt included: the engine's parity check needs it; and the whole invoice, which the
    # engine verifies the step against (no read after the write).
    return with_invoice(write_result(row, created), row, home)


async def batch_create(
    api: QboApi, markers: MarkerIndex, prepared: Sequence[Prepared], home: str | None = None
) -> list[WriteResult | SyncError]:
    results: list[WriteResult | SyncError | None] = [None] * len(prepared)
    todo: list[tuple[int, BatchCreate, dict[str, Any]]] = []
    for index, (item, body) in enumerate(prepared):
        if isinstance(body, SyncError):
            results[index] = body
        else:
            todo.append((index, item, body))
    # The chunks go out together: the transport keeps the realm's in-flight limit.
    await asyncio.gather(
        *(
            _run_chunk(api, markers, todo[start : start + BATCH_MAX], results, home)
            for start in range(0, len(todo), BATCH_MAX)
        )
    )
    return [
        r if r is not None else UnknownOutcome(message="batch item got no answer") for r in results
    ]


async def _run_chunk(
    api: QboApi,
    markers: MarkerIndex,
    chunk: list[tuple[int, BatchCreate, dict[str, Any]]],
    results: list[WriteResult | SyncError | None],
    home: str | None,
    attempt: int = 0,
) -> None:
    # bId is at most 10 characters when the batch carries a requestid.
    items = [
        {"bId": f"b{n}", "operation": "create", "Invoice": body}
        for n, (_, _, body) in enumerate(chunk)
    ]
    request_id = batch_request_id([item.request_id for _, item, _ in chunk], attempt)
    try:
        answers = await api.batch(items, request_id=request_id)
    except UnknownOutcome as lost:
        found = await markers.find_many("Invoice", [item.external_key for _, item, _ in chunk])
        missing = []
        for index, item, body in chunk:
            row = found.get(item.external_key)
            if row is not None:
                results[index] = _result(row, False, home)
            else:
                missing.append((index, item, body))
        if missing and attempt == 0:
            await _run_chunk(api, markers, missing, results, home, attempt + 1)
        else:
            for index, _, _ in missing:
                results[index] = lost
        return
    for n, (index, item, _) in enumerate(chunk):
        answer = answers.get(f"b{n}")
        if answer is None:
            results[index] = UnknownOutcome(
                message=f"QuickBooks batch gave no answer for {item.external_key}"
            )
        elif isinstance(answer.get("Invoice"), Mapping):
            markers.remember("Invoice", answer["Invoice"])
            results[index] = _result(answer["Invoice"], True, home)
        else:
            results[index] = error_from_fault(parse_fault(answer), status=None)


async def batch_create_customers(
    api: QboApi, bodies: Sequence[tuple[dict[str, Any], str]]
) -> list[dict[str, Any] | SyncError]:
    """Customers through /batch, 30 per call (the calls go out together, paced by the
    transport): one answer per (body, request id), in order, the created row or the item's
    error. A call whose answer was lost gives UnknownOutcome for its items and is not resent:
    the caller looks them up by email (a customer's natural key) before creating any again."""
    return await batch_create_rows(api, "Customer", bodies)


async def batch_create_rows(
    api: QboApi, entity: str, bodies: Sequence[tuple[dict[str, Any], str]]
) -> list[dict[str, Any] | SyncError]:
    """Creates of one entity (Customer, Item) through /batch, 30 per call, the calls sent
    together (paced by the transport): one answer per (body, request id), in order, the created
    row or the item's error. A call whose answer was lost gives UnknownOutcome for its items and
    is not resent: the caller looks them up by natural key before creating any again."""
    results: list[dict[str, Any] | SyncError] = [
        UnknownOutcome(message="batch item got no answer") for _ in bodies
    ]

    async def chunk(start: int) -> None:
        part = bodies[start : start + BATCH_MAX]
        items = [
            {"bId": f"b{n}", "operation": "create", entity: body}
            for n, (body, _) in enumerate(part)
        ]
        try:
            answers = await api.batch(
                items, request_id=batch_request_id([rid for _, rid in part], 0)
            )
        except UnknownOutcome as lost:
            for n in range(len(part)):
                results[start + n] = lost
            return
        for n in range(len(part)):
            answer = answers.get(f"b{n}")
            if answer is None:
                continue  # stays UnknownOutcome
            row = answer.get(entity)
            results[start + n] = (
                dict(row)
                if isinstance(row, Mapping)
                else error_from_fault(parse_fault(answer), status=None)
            )

    await asyncio.gather(*(chunk(start) for start in range(0, len(bodies), BATCH_MAX)))
    return results
