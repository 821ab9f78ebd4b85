"""Items (products and services) in QBO: matched by SKU, then by name (active, sellable types
only), created with an income account; recent matches are cached because a backfill asks for
the same few items thousands of times."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks.api import QboApi, is_not_queryable
from ledgerbridge.connectors.quickbooks.batch import batch_create_rows
from ledgerbridge.connectors.quickbooks.results import Recovery, write_result
from ledgerbridge.domain import Product
from ledgerbridge.engine.ports import WriteResult
from ledgerbridge.errors import ConfigError, SyncError, UnknownOutcome

# Item types an invoice line can use through SalesItemLineDetail.
SELLABLE_TYPES = {"Service", "NonInventory", "Inventory"}


class ItemCatalog:
    def __init__(
        self,
        api: QboApi,
        *,
        income_account_id: str | None = None,
        item_type: str = "Service",
        cache_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.item_type = item_type
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._income_account_id = income_account_id
        self._sku_queryable = True
        self._cache: dict[tuple[str | None, str | None], tuple[float, Product]] = {}
        # Every active sellable item by SKU and by name, while a backfill holds them (prefetch).
        self._by_sku: dict[str, dict[str, Any]] | None = None
        self._by_name: dict[str, dict[str, Any]] = {}

    async def prefetch(self) -> None:
        """Backfills: read the active items once (paged) so that finding an item answers from
        memory instead of one or two queries per product. Items this catalog creates are added;
        one someone else creates meanwhile makes our create fail as a duplicate name, and the
        ordinary step then finds it."""
        rows, _ = await self.api.query_pages("Item", "Active = true", "Id")
        self._by_sku, self._by_name = {}, {}
        for row in sorted(rows, key=lambda r: int(r.get("Id") or 0)):
            self._remember(row)

    def forget_prefetched(self) -> None:
        self._by_sku, self._by_name = None, {}

    def _remember(self, row: dict[str, Any]) -> None:
        if self._by_sku is None or row.get("Type") not in SELLABLE_TYPES:
            return
        if row.get("Sku"):
            self._by_sku.setdefault(str(row["Sku"]), row)  # the oldest wins, as in _one_item
        if row.get("Name"):
            self._by_name.setdefault(str(row["Name"]).casefold(), row)

    async def find(self, sku: str | None, name: str | None) -> Product | None:
        cached = self._cache.get((sku, name))
        if cached is not None and self.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        found = await self._find_item(sku, name)
        if found is not None:
            self._cache[(sku, name)] = (self.monotonic(), found)
        return found

    def forget(self) -> None:
        """Drop matched items (e.g. after QBO said an item is inactive)."""
        self._cache.clear()

    async def _find_item(self, sku: str | None, name: str | None) -> Product | None:
        if self._by_sku is not None:
            row = self._by_sku.get(sku) if sku else None
            if row is None and name:
                row = self._by_name.get(tr.safe_name(name, tr.ITEM_NAME_MAX).casefold())
            return tr.item_from_wire(row) if row is not None else None
        if sku and self._sku_queryable:
            try:
                row = await self._one_item(f"Sku = {tr.quote(sku)}")
            except SyncError as error:
                if not is_not_queryable(error):
                    raise
                self._sku_queryable = False
            else:
                if row is not None:
                    return tr.item_from_wire(row)
        if sku and not self._sku_queryable:
            rows, _ = await self.api.query_pages("Item", "Active = true", "Id")
            for row in rows:
                if row.get("Sku") == sku and row.get("Type") in SELLABLE_TYPES:
                    return tr.item_from_wire(row)
        if name:
            row = await self._one_item(f"Name = {tr.quote(tr.safe_name(name, tr.ITEM_NAME_MAX))}")
            if row is not None:
                return tr.item_from_wire(row)
        return None

    async def _one_item(self, where: str) -> dict[str, Any] | None:
        page = await self.api.query(f"SELECT * FROM Item WHERE {where} AND Active = true")
        rows = sorted(
            (r for r in page.rows if r.get("Type") in SELLABLE_TYPES),
            key=lambda r: int(r.get("Id") or 0),
        )
        return rows[0] if rows else None

    async def _income_account(self) -> str:
        if self._income_account_id is None:
            page = await self.api.query(
                "SELECT * FROM Account WHERE AccountType = 'Income' AND Active = true"
            )
            preferred = ("Services", "Sales of Product Income", "Sales", "Income")
            rows = sorted(page.rows, key=lambda r: int(r.get("Id") or 0))
            chosen = next(
                (r for p in preferred for r in rows if r.get("Name") == p),
                rows[0] if rows else None,
            )
            if chosen is None:
                raise ConfigError(
                    message="QuickBooks has no active Income account for new items",
                    hint="Create an Income account in QuickBooks (Chart of accounts), or choose the "
                    "'use a default item' product policy in Settings → Sync.",
                )
            self._income_account_id = str(chosen["Id"])
        return self._income_account_id

    async def batch_create(
        self, items: Sequence[tuple[Product, str]]
    ) -> list[WriteResult | SyncError]:
        """create for many (product, request id) through /batch, 30 per call: one result per
        item, in order. After a lost answer the prefetched catalog is dropped, so the next
        lookup asks QuickBooks and sees what it did create."""
        account = await self._income_account()
        rows = await batch_create_rows(
            self.api,
            "Item",
            [(tr.item_to_wire(product, account, self.item_type), rid) for product, rid in items],
        )
        out: list[WriteResult | SyncError] = []
        lost = False
        for (product, _), row in zip(items, rows, strict=True):
            if isinstance(row, SyncError):
                lost = lost or isinstance(row, UnknownOutcome)
                out.append(row)
                continue
            self._cache[(product.sku, product.name)] = (self.monotonic(), tr.item_from_wire(row))
            self._remember(row)
            out.append(write_result(row, created=True))
        if lost:
            self.forget_prefetched()
        return out

    async def create(self, product: Product, request_id: str) -> WriteResult:
        body = tr.item_to_wire(product, await self._income_account(), self.item_type)

        async def recover() -> dict[str, Any] | None:
            return await self._one_item(f"Name = {tr.quote(body['Name'])}")

        lookup = Recovery(recover)
        row = await self.api.create("Item", body, request_id, recover=lookup)
        self._cache[(product.sku, product.name)] = (self.monotonic(), tr.item_from_wire(row))
        self._remember(row)
        return write_result(row, created=not lookup.found)

    # ---- tax collected ---------------------------------------------------------------------
    async def tax_item(self, name: str, account_name: str, request_id: str) -> WriteResult:
        """The item that books tax collected on HubSpot invoices: found by name, else created
        with its income account set to the liability account `account_name` (found by name,
        else created as an Other Current Liability). Tax collected is owed to the tax
        authority, never revenue, so an existing item of that name that books to any other
        kind of account is refused with a fix, not used."""
        row = await self._one_item(f"Name = {tr.quote(tr.safe_name(name, tr.ITEM_NAME_MAX))}")
        if row is not None:
            await self._require_liability(row, name)
            return write_result(row, created=False)
        account_id = await self._liability_account(account_name, request_id)
        body = tr.item_to_wire(
            Product(name=name, description="Sales tax collected (from HubSpot tax lines)"),
            account_id,
            "Service",
        )

        async def recover() -> dict[str, Any] | None:
            return await self._one_item(f"Name = {tr.quote(body['Name'])}")

        lookup = Recovery(recover)
        created = await self.api.create("Item", body, request_id, recover=lookup)
        return write_result(created, created=not lookup.found)

    async def _require_liability(self, item: dict[str, Any], name: str) -> None:
        ref = str((item.get("IncomeAccountRef") or {}).get("value") or "")
        account = await self.api.read("Account", ref) if ref else None
        if account is None or account.get("Classification") != "Liability":
            shown = (account or {}).get("Name") or "no account"
            raise ConfigError(
                message=(
                    f"The QuickBooks item '{name}' books to '{shown}', not to a liability "
                    "account: tax collected on it would be counted as income"
                ),
                hint=(
                    "In QuickBooks, set the item's income account to Sales Tax Payable (or "
                    "another Other Current Liability account), or choose another tax item in "
                    "Settings → Sync, then retry"
                ),
                code="tax_item_not_liability",
            )

    async def _liability_account(self, name: str, request_id: str) -> str:
        page = await self.api.query(
            f"SELECT * FROM Account WHERE Name = {tr.quote(name)} AND Active = true"
        )
        for row in page.rows:
            if row.get("Classification") == "Liability":
                return str(row["Id"])
        if page.rows:
            raise ConfigError(
                message=f"The QuickBooks account '{name}' is not a liability account",
                hint="Choose a liability account (e.g. Sales Tax Payable) for tax collected in "
                "Settings → Sync, then retry",
                code="tax_account_not_liability",
            )
        body = {
            "Name": name,
            "AccountType": "Other Current Liability",
            "AccountSubType": "OtherCurrentLiabilities",
        }

        async def recover() -> dict[str, Any] | None:
            again = await self.api.query(
                f"SELECT * FROM Account WHERE Name = {tr.quote(name)} AND Active = true"
            )
            return again.rows[0] if again.rows else None

        row = await self.api.create(
            "Account", body, f"{request_id[:32]}-acct", recover=Recovery(recover)
        )
        return str(row["Id"])
