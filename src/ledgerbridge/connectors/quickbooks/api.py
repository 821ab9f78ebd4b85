"""Low-level QBO Accounting API v3 calls for one realm: URL shape, minorversion, requestid,
the query language with paging, CDC, /batch and PDF. No canonical records here (see client.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ledgerbridge.connectors.auth import TokenProvider
from ledgerbridge.connectors.budget import Budget
from ledgerbridge.connectors.http import ApiTransport, RetryPolicy
from ledgerbridge.connectors.paths import record_id, segment
from ledgerbridge.connectors.quickbooks.errors import map_response
from ledgerbridge.errors import Invalid, NotFound, SyncError

PRODUCTION_BASE = "https://quickbooks.api.intuit.com"
SANDBOX_BASE = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = "75"  # below 75 is ignored since Aug 2025; 75 is what we are written against
QUERY_PAGE_MAX = 1000
BATCH_MAX = 30
REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
_LONG_QUERY = 1500  # longer statements are POSTed as application/text instead of a URL param


@dataclass(frozen=True)
class QueryPage:
    rows: list[dict[str, Any]]
    start: int
    time: str | None  # server time of the answer (high-water mark material)
    total: int | None = None


def is_not_queryable(error: SyncError) -> bool:
    """QBO refuses to filter on some properties (QueryValidationError, code 4001)."""
    text = f"{error.message}".lower()
    return isinstance(error, Invalid) and (
        error.code in ("4000", "4001") or "queryable" in text or "not filterable" in text
    )


class QboApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        realm_id: str,
        *,
        base_url: str = PRODUCTION_BASE,
        retry: RetryPolicy | None = None,
        limiter: asyncio.Semaphore | None = None,
        max_in_flight: int = 10,
        minor_version: str = MINOR_VERSION,
        timeout: float | None = 30.0,
        budget: Budget | None = None,
    ) -> None:
        self.realm_id = str(realm_id)
        self.minor_version = minor_version
        self.transport = ApiTransport(
            http,
            base_url,
            tokens,
            map_response,
            api_name="QuickBooks",
            retry=retry,
            limiter=limiter,
            max_in_flight=max_in_flight,
            default_headers={"Accept": "application/json"},
            timeout=timeout,
            budget=budget,
        )

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    def path(self, suffix: str) -> str:
        return f"/v3/company/{segment(self.realm_id)}/{suffix.lstrip('/')}"

    def params(self, **extra: str | None) -> dict[str, str]:
        out = {"minorversion": self.minor_version}
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    # ---------------------------------------------------------------------------------------
    # Entities
    # ---------------------------------------------------------------------------------------
    async def read(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        try:
            response = await self.transport.request(
                "GET",
                self.path(f"{segment(entity.lower())}/{record_id(entity_id, 'QuickBooks')}"),
                params=self.params(),
            )
        except NotFound:
            return None
        except Invalid as error:
            if error.code == "2030":  # not a valid id: nothing can exist under it
                return None
            raise
        return _unwrap(response.data, entity)

    async def create(
        self,
        entity: str,
        body: Mapping[str, Any],
        request_id: str,
        recover: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> dict[str, Any]:
        """POST a new entity with `requestid` (fixed across retries). `recover` looks the record
        up by its natural key before any resend after an unknown outcome, because requestid
        replay is not guaranteed by every QBO cluster."""
        response = await self.transport.request(
            "POST",
            self.path(entity.lower()),
            params=self.params(requestid=request_id[:REQUEST_ID_MAX]),
            json_body=body,
            idempotent=True,
            recover=recover,
        )
        return _unwrap(response.data, entity)

    async def update(
        self, entity: str, body: Mapping[str, Any], request_id: str | None = None, **query: str
    ) -> dict[str, Any]:
        """Sparse/full update or an operation (`operation=void|delete`, `include=void`). Updates
        carry the SyncToken, so a resend after an unknown outcome can only repeat the same
        change or fail with 5010 (stale): safe to resend."""
        response = await self.transport.request(
            "POST",
            self.path(entity.lower()),
            params=self.params(
                requestid=request_id[:REQUEST_ID_MAX] if request_id else None, **query
            ),
            json_body=body,
            idempotent=True,
        )
        return _unwrap(response.data, entity)

    async def pdf(self, entity: str, entity_id: str) -> bytes:
        response = await self.transport.request(
            "GET",
            self.path(f"{segment(entity.lower())}/{record_id(entity_id, 'QuickBooks')}/pdf"),
            params=self.params(),
            headers={"Accept": "application/pdf"},
            parse_json=False,
        )
        return response.content

    async def preferences(self) -> dict[str, Any]:
        response = await self.transport.request(
            "GET", self.path("preferences"), params=self.params()
        )
        return _unwrap(response.data, "Preferences")

    async def exchange_rate(self, params: dict[str, str]) -> dict[str, Any] | None:
        """`GET exchangerate?sourcecurrencycode=EUR&asofdate=...` (multicurrency companies)."""
        try:
            response = await self.transport.request(
                "GET", self.path("exchangerate"), params=self.params(**params)
            )
        except NotFound:
            return None
        return _unwrap(response.data, "ExchangeRate")

    # ---------------------------------------------------------------------------------------
    # Query language
    # ---------------------------------------------------------------------------------------
    async def query(self, statement: str) -> QueryPage:
        if len(statement) > _LONG_QUERY:
            response = await self.transport.request(
                "POST",
                self.path("query"),
                params=self.params(),
                content=statement.encode(),
                headers={"Content-Type": "application/text"},
                write=False,
            )
        else:
            # Percent-encode spaces (%20, as Intuit's own clients and the recorded traffic do)
            # rather than '+', which only form decoding turns back into a space.
            query_string = urlencode(self.params(query=statement), quote_via=quote)
            response = await self.transport.request("GET", f"{self.path('query')}?{query_string}")
        data = response.data or {}
        qr = data.get("QueryResponse") or {}
        rows: list[dict[str, Any]] = []
        for value in qr.values():
            if isinstance(value, list):
                rows.extend(value)
        total = qr.get("totalCount")
        return QueryPage(
            rows=rows,
            start=int(qr.get("startPosition") or 1),
            time=data.get("time"),
            total=int(total) if total is not None else None,
        )

    async def query_pages(
        self,
        entity: str,
        where: str | None = None,
        order_by: str | None = None,
        page_size: int = QUERY_PAGE_MAX,
        max_rows: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """All rows of `SELECT * FROM entity [WHERE] [ORDERBY]`, paging with STARTPOSITION.
        Returns (rows, server time of the first page)."""
        rows: list[dict[str, Any]] = []
        first_time: str | None = None
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}"
            if where:
                statement += f" WHERE {where}"
            if order_by:
                statement += f" ORDERBY {order_by}"
            statement += f" STARTPOSITION {start} MAXRESULTS {page_size}"
            page = await self.query(statement)
            if first_time is None:
                first_time = page.time
            rows.extend(page.rows)
            if len(page.rows) < page_size or (max_rows is not None and len(rows) >= max_rows):
                return rows, first_time
            start += page_size

    # ---------------------------------------------------------------------------------------
    # CDC and batch
    # ---------------------------------------------------------------------------------------
    async def cdc(
        self, entities: Sequence[str], changed_since: str
    ) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
        response = await self.transport.request(
            "GET",
            self.path("cdc"),
            params=self.params(entities=",".join(entities), changedSince=changed_since),
        )
        data = response.data or {}
        out: dict[str, list[dict[str, Any]]] = {e: [] for e in entities}
        for block in data.get("CDCResponse") or []:
            for qr in block.get("QueryResponse") or []:
                if not isinstance(qr, Mapping):
                    continue
                for key, value in qr.items():
                    if isinstance(value, list):
                        out.setdefault(key, []).extend(value)
        return out, data.get("time")

    async def batch(
        self, items: Sequence[Mapping[str, Any]], request_id: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """POST /batch (≤30 items). Returns {bId: item response}. Every item succeeds or fails
        on its own (item `Fault`); the HTTP status is 200 either way."""
        if len(items) > BATCH_MAX:
            raise ValueError(f"a QBO batch holds at most {BATCH_MAX} items")
        response = await self.transport.request(
            "POST",
            self.path("batch"),
            params=self.params(requestid=request_id[:BATCH_REQUEST_ID_MAX] if request_id else None),
            json_body={"BatchItemRequest": list(items)},
            kind="batch",
            cost=len(items),  # QBO meters every item like a call of its own
            # Never resent blindly after a lost answer, even with a requestid: the caller looks
            # the items up and resends only the missing ones (batch.py).
            idempotent=False,
        )
        data = response.data or {}
        return {str(item.get("bId")): item for item in data.get("BatchItemResponse") or []}


def _unwrap(data: Any, entity: str) -> dict[str, Any]:
    """{"Invoice": {...}, "time": ...} → the entity. Accepts any casing of the entity key."""
    if not isinstance(data, Mapping):
        raise Invalid(message=f"QuickBooks answered without a {entity} object")
    if entity in data:
        return dict(data[entity])
    lowered = entity.lower()
    for key, value in data.items():
        if key.lower() == lowered and isinstance(value, Mapping):
            return dict(value)
    # A bare recovered record (ApiTransport recover path) is already the entity.
    if "Id" in data:
        return dict(data)
    raise Invalid(message=f"QuickBooks answered without a {entity} object")
