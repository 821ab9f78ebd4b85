"""Lookups QBO's query language cannot answer directly.

- Customers by email. `PrimaryEmailAddr` is not a documented filterable property (QBO answers
  "QueryValidationError: property 'PrimaryEmailAddr' is not queryable" for Vendors, and an `=`
  match would be case-sensitive anyway). So the connector keeps an index of customers keyed by
  normalized email: one paged scan on first use, then an incremental query on
  `MetaData.LastUpdatedTime` (at most every `refresh_interval` seconds) that also evicts
  customers made inactive. Customers the connector creates are added immediately.
- Records by the external key stored in PrivateNote ("ledgerbridge:<key>"). PrivateNote is not
  filterable, so after an unknown outcome the connector scans the most recently created records
  (newest first, within `lookback_days`), remembering every marker it sees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from ledgerbridge.connectors.quickbooks.api import QboApi, is_not_queryable
from ledgerbridge.connectors.quickbooks.changes import parse_qbo_time, qbo_time
from ledgerbridge.connectors.quickbooks.translate import extract_marker, quote
from ledgerbridge.domain.models import normalize_email
from ledgerbridge.errors import SyncError


class CustomerIndex:
    def __init__(
        self,
        api: QboApi,
        *,
        refresh_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.refresh_interval = refresh_interval
        self.clock = clock
        self._by_email: dict[str, dict[str, Any]] = {}
        # With multicurrency one email may have one customer per currency ("" = none given).
        self._by_currency: dict[tuple[str, str], dict[str, Any]] = {}
        self._high_water: str | None = None
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()

    async def find(
        self, email: str, currency: str | None = None, home: str | None = None
    ) -> dict[str, Any] | None:
        """The oldest active customer with this email; with `currency`, the oldest held in that
        currency (a customer without CurrencyRef counts as the `home` currency)."""
        key = normalize_email(email)
        if key is None:
            return None
        await self.refresh()
        if currency is None:
            return self._by_email.get(key)
        wanted = currency.upper()
        row = self._by_currency.get((key, wanted))
        if row is None and home is not None and wanted == home.upper():
            row = self._by_currency.get((key, ""))
        return row

    def add(self, customer: dict[str, Any]) -> None:
        email = normalize_email((customer.get("PrimaryEmailAddr") or {}).get("Address"))
        if email is None:
            return
        currency = str((customer.get("CurrencyRef") or {}).get("value") or "").upper()
        self._keep(self._by_currency, (email, currency), customer)
        self._keep(self._by_email, email, customer)

    @staticmethod
    def _keep(table: dict[Any, dict[str, Any]], key: Any, customer: dict[str, Any]) -> None:
        existing = table.get(key)
        active = customer.get("Active", True) is not False
        if not active:
            if existing is not None and existing.get("Id") == customer.get("Id"):
                del table[key]
            return
        # Two customers with one email: keep the oldest (lowest Id) so the choice is stable.
        if (
            existing is None
            or existing.get("Id") == customer.get("Id")
            or _id_num(customer) < _id_num(existing)
        ):
            # Only what matching needs: a big realm's customer list stays small in memory.
            table[key] = {k: customer[k] for k in _KEEP if k in customer}

    def expire(self) -> None:
        """The next lookup reads the customers changed since the last one (one query)."""
        self._refreshed_at = None

    async def refresh(self, force: bool = False) -> None:
        async with self._lock:
            now = self.clock()
            if (
                not force
                and self._refreshed_at is not None
                and now - self._refreshed_at < self.refresh_interval
            ):
                return
            if self._high_water is None:
                rows, server_time = await self.api.query_pages("Customer", "Active = true", "Id")
            else:
                where = f"MetaData.LastUpdatedTime >= {quote(self._high_water)} AND Active IN (true, false)"
                rows, server_time = await self.api.query_pages("Customer", where, "Id")
            for row in rows:
                self.add(row)
            if server_time:
                # LastUpdatedTime has whole seconds, `time` has milliseconds: start the next
                # window a minute early so a customer saved in the same second is not missed.
                start = parse_qbo_time(server_time) - dt.timedelta(seconds=60)
                self._high_water = qbo_time(start)
            self._refreshed_at = now


_KEEP = (
    "Id",
    "SyncToken",
    "DisplayName",
    "GivenName",
    "FamilyName",
    "CompanyName",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "BillAddr",
    "Active",
    "CurrencyRef",
)


def _id_num(row: dict[str, Any]) -> int:
    try:
        return int(row.get("Id") or 0)
    except (TypeError, ValueError):
        return 0


MARKERS_REMEMBERED = 5000


class MarkerIndex:
    """external key → entity Id, for records carrying "ledgerbridge:<key>" in PrivateNote."""

    def __init__(
        self,
        api: QboApi,
        *,
        lookback_days: int = 30,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.api = api
        self.lookback_days = lookback_days
        self.clock = clock
        self._ids: dict[tuple[str, str], str] = {}

    def remember(self, entity: str, row: dict[str, Any]) -> None:
        key = extract_marker(row.get("PrivateNote"))
        if key and row.get("Id") is not None:
            self._ids[(entity, key)] = str(row["Id"])
            # The newest ids only (a lost answer concerns the last few batches): a backfill of
            # any size keeps this bounded. Older keys are found by the scan, as before.
            if len(self._ids) > MARKERS_REMEMBERED:
                del self._ids[next(iter(self._ids))]

    async def find(self, entity: str, external_key: str) -> dict[str, Any] | None:
        return (await self.find_many(entity, [external_key])).get(external_key)

    async def find_many(self, entity: str, external_keys: list[str]) -> dict[str, dict[str, Any]]:
        """Rows carrying any of the keys. Known ids are read directly; the rest are looked for
        among the newest records (one scan for all keys)."""
        found: dict[str, dict[str, Any]] = {}
        for key in external_keys:
            known = self._ids.get((entity, key))
            if known is not None:
                row = await self.api.read(entity, known)
                if row is not None and extract_marker(row.get("PrivateNote")) == key:
                    found[key] = row
        wanted = {k for k in external_keys if k not in found}
        if not wanted:
            return found
        since = (self.clock() - dt.timedelta(days=self.lookback_days)).strftime(
            "%Y-%m-%dT%H:%M:%S+00:00"
        )
        start = 1
        page_size = 1000
        by_time = True
        while wanted:
            if by_time:
                statement = (
                    f"SELECT * FROM {entity} WHERE MetaData.CreateTime >= {quote(since)} "
                    f"ORDERBY MetaData.CreateTime DESC STARTPOSITION {start} MAXRESULTS {page_size}"
                )
            else:
                statement = f"SELECT * FROM {entity} ORDERBY Id DESC STARTPOSITION {start} MAXRESULTS {page_size}"
            try:
                page = await self.api.query(statement)
            except SyncError as error:
                if not by_time or not is_not_queryable(error):
                    raise
                # A realm that refuses CreateTime filters: newest records by Id instead.
                by_time = False
                continue
            for row in page.rows:
                self.remember(entity, row)
                marker = extract_marker(row.get("PrivateNote"))
                if marker is not None and marker in wanted:
                    found[marker] = row
                    wanted.discard(marker)
            if len(page.rows) < page_size:
                break
            start += page_size
        return found
