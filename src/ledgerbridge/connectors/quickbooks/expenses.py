"""Payment processing fees as QBO expenses (Purchase).

A HubSpot payment's processing and platform fees are booked as one Purchase: paid from the
chosen bank or credit-card account, one AccountBasedExpenseLineDetail line per kind of fee on
the chosen expense account, the processor as the payee (a Vendor, created when missing), dated
with the payment, and marked in PrivateNote so that a create whose answer was lost is found
again instead of being sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks.api import QboApi
from ledgerbridge.connectors.quickbooks.lookups import MarkerIndex
from ledgerbridge.connectors.quickbooks.results import Recovery, write_result
from ledgerbridge.engine.ports import FeeExpense, WriteResult
from ledgerbridge.errors import ConfigError, Duplicate

SETTINGS_HINT = "Settings → Sync → Processing fees"
PAYMENT_TYPES = {"Bank": "Cash", "Credit Card": "CreditCard"}


class FeeBooks:
    """Creates and finds fee expenses; remembers the accounts and payees it resolved."""

    def __init__(
        self,
        api: QboApi,
        markers: MarkerIndex,
        currency_ref: Callable[[str], Awaitable[str | None]],
    ) -> None:
        self.api = api
        self.markers = markers
        self.currency_ref = currency_ref
        self._ids: dict[tuple[str, str], dict[str, Any]] = {}
        self._vendor_lock = asyncio.Lock()

    async def find(self, external_key: str) -> WriteResult | None:
        row = await self.markers.find("Purchase", external_key)
        return write_result(row, created=False) if row is not None else None

    async def create(self, fee: FeeExpense, request_id: str, external_key: str) -> WriteResult:
        paid_from = await self._paid_from(fee.paid_from_account)
        expense = await self._expense_account(fee.expense_account, request_id)
        vendor = await self._vendor(fee.vendor_name, request_id)
        lines = [
            {
                "DetailType": "AccountBasedExpenseLineDetail",
                "Amount": amount,
                "Description": f"{label} ({fee.memo})",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}},
            }
            for label, amount in (
                ("Processing fee", fee.processing_fee),
                ("Platform fee", fee.platform_fee),
            )
            if amount > 0
        ]
        body: dict[str, Any] = tr.prune(
            {
                "PaymentType": PAYMENT_TYPES[str(paid_from["AccountType"])],
                "AccountRef": {"value": str(paid_from["Id"])},
                "EntityRef": {"value": vendor, "type": "Vendor"},
                "TxnDate": fee.date.isoformat(),
                "PrivateNote": f"{fee.memo}. {tr.marker(external_key)}",
                "Line": lines,
                "CurrencyRef": (
                    {"value": ref} if (ref := await self.currency_ref(fee.currency)) else None
                ),
            }
        )

        async def recover() -> dict[str, Any] | None:
            return await self.markers.find("Purchase", external_key)

        lookup = Recovery(recover)
        row = await self.api.create("Purchase", body, request_id, recover=lookup)
        self.markers.remember("Purchase", row)
        return write_result(row, created=not lookup.found)

    # ---- what a fee expense refers to ------------------------------------------------------
    async def _account(self, name: str) -> dict[str, Any] | None:
        if ("Account", name) not in self._ids:
            page = await self.api.query(
                f"SELECT * FROM Account WHERE Name = {tr.quote(name)} AND Active = true"
            )
            if not page.rows:
                return None
            self._ids[("Account", name)] = page.rows[0]
        return self._ids[("Account", name)]

    async def _paid_from(self, name: str) -> dict[str, Any]:
        account = await self._account(name)
        if account is None or account.get("AccountType") not in PAYMENT_TYPES:
            problem = "does not exist" if account is None else "is not a bank or credit card"
            raise ConfigError(
                message=f"The account '{name}' that processing fees are paid from {problem}",
                hint=f"Choose the bank or credit-card account your processor pays out to in "
                f"{SETTINGS_HINT}, then retry",
                code="fee_account",
            )
        return account

    async def _expense_account(self, name: str, request_id: str) -> str:
        account = await self._account(name)
        if account is not None:
            if account.get("Classification") != "Expense":
                raise ConfigError(
                    message=f"The account '{name}' chosen for processing fees is not an expense "
                    "account",
                    hint=f"Choose an expense account for processing fees in {SETTINGS_HINT}, "
                    "then retry",
                    code="fee_account",
                )
            return str(account["Id"])
        body = {"Name": name, "AccountType": "Expense", "AccountSubType": "BankCharges"}

        async def recover() -> dict[str, Any] | None:
            return await self._account(name)

        row = await self.api.create(
            "Account", body, f"{request_id[:31]}-acct", recover=Recovery(recover)
        )
        self._ids[("Account", name)] = row
        return str(row["Id"])

    async def _vendor(self, name: str, request_id: str) -> str:
        """The payee: the Vendor with this DisplayName, else a new one. A name a customer or an
        employee already uses gets the suffix ' (processor)'. One at a time: payments synced in
        parallel must not race to create the same vendor."""
        async with self._vendor_lock:
            for n, candidate in enumerate((name, f"{name} (processor)")):
                key = ("Vendor", candidate)
                if key not in self._ids:
                    found = await self._vendor_named(candidate)()
                    if found is not None:
                        self._ids[key] = found
                    else:
                        try:
                            self._ids[key] = await self.api.create(
                                "Vendor",
                                {"DisplayName": tr.safe_name(candidate)},
                                f"{request_id[:31]}-v{n}",
                                recover=Recovery(self._vendor_named(candidate)),
                            )
                        except Duplicate:
                            again = await self._vendor_named(candidate)()
                            if again is None:
                                continue  # taken by a customer or an employee
                            self._ids[key] = again
                return str(self._ids[key]["Id"])
        raise ConfigError(
            message=f"No QuickBooks vendor can be named '{name}' for processing fees",
            hint=f"Create a vendor for your payment processor and enter its name in "
            f"{SETTINGS_HINT}, then retry",
            code="fee_vendor",
        )

    def _vendor_named(self, name: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def find() -> dict[str, Any] | None:
            page = await self.api.query(
                f"SELECT * FROM Vendor WHERE DisplayName = {tr.quote(name)}"
            )
            return page.rows[0] if page.rows else None

        return find
