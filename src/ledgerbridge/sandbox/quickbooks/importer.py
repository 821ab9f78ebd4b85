"""Import QBO records (JSON as the API returns them) into a sandbox company, keeping their Ids
and SyncTokens: e.g. to reproduce a real company's data, or to set up recorded traffic for replay.

Each record goes through the normal create rules (so the emulator computes every derived field
itself), then gets its recorded SyncToken back. References to records that are not part of the
import (an ItemRef, a DepositToAccountRef...) become minimal stubs with the referenced Id and name.
Defaults the create rules would add but that the recorded record does not have (an address copied
from the customer, a default tax code, a due date from terms) are removed again, because the
record was created under different company settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import schema
from ledgerbridge.sandbox.quickbooks.names import DELETED
from ledgerbridge.sandbox.quickbooks.state import SandboxState

ORDER = [
    "Account",
    "Term",
    "PaymentMethod",
    "TaxRate",
    "TaxCode",
    "Item",
    "Customer",
    "Vendor",
    "Employee",
    "Invoice",
    "CreditMemo",
    "SalesReceipt",
    "RefundReceipt",
    "Estimate",
    "Payment",
    "Purchase",
]
# derived defaults whose presence depends on company settings at the time a record was created
DATA_DEFAULTS = (
    "BillAddr",
    "ShipAddr",
    "DefaultTaxCodeRef",
    "DueDate",
    "DepositToAccountRef",
    "TxnStatus",
    "LinkedTxn",
)
ACCOUNT_REFS = (
    "DepositToAccountRef",
    "IncomeAccountRef",
    "ExpenseAccountRef",
    "AssetAccountRef",
    "AccountRef",
    "ARAccountRef",
    "DiscountAccountRef",
    "ItemAccountRef",
)
STUB_INCOME_ACCOUNT = "9001"


def collect(payload: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every entity object in an API response body (single, query, batch or CDC shapes)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            if key in schema.ENTITIES and "Id" in node and node.get("status") != "Deleted":
                found.append((key, node))
                return
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(payload, None)
    return found


def _account_kind(name: str) -> tuple[str, str]:
    lowered = name.lower()
    if "undeposited" in lowered:
        return "Other Current Asset", "UndepositedFunds"
    if lowered in ("checking", "savings") or "bank" in lowered:
        return "Bank", "Checking"
    if "receivable" in lowered:
        return "Accounts Receivable", "AccountsReceivable"
    return "Income", "ServiceFeeIncome"


def _refs(node: Any, key: str | None = None) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if key is not None and key.endswith("Ref") and "value" in node:
            yield key, node
            return
        for k, v in node.items():
            yield from _refs(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item, key)


def _stubs(records: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    stubs: dict[tuple[str, str], dict[str, Any]] = {}
    rates: dict[str, Decimal] = {}
    for record in records.values():
        for line in (record.get("TxnTaxDetail") or {}).get("TaxLine", []):
            detail = line.get("TaxLineDetail", {})
            rate_id = str((detail.get("TaxRateRef") or {}).get("value", ""))
            if rate_id:
                rates[rate_id] = Decimal(str(detail.get("TaxPercent", 0)))
        for key, ref in _refs(record):
            value, name = str(ref["value"]), str(ref.get("name") or "")
            target = {
                "ItemRef": "Item",
                "CustomerRef": "Customer",
                "PaymentMethodRef": "PaymentMethod",
                "TermRef": "Term",
                "SalesTermRef": "Term",
                "TxnTaxCodeRef": "TaxCode",
            }.get(key)
            if key in ACCOUNT_REFS:
                target = "Account"
            if target is None or (target, value) in records or (target, value) in stubs:
                continue
            if target == "Item":
                body = {
                    "Name": name or f"Item {value}",
                    "Type": "Service",
                    "IncomeAccountRef": {"value": STUB_INCOME_ACCOUNT},
                }
            elif target == "Customer":
                body = {"DisplayName": name or f"Customer {value}"}
            elif target == "Account":
                kind, sub_type = _account_kind(name or "Income")
                body = {
                    "Name": name or f"Account {value}",
                    "AccountType": kind,
                    "AccountSubType": sub_type,
                }
            elif target == "TaxCode":
                body = {
                    "Name": f"Tax code {value}",
                    "Taxable": True,
                    "TaxGroup": True,
                    "SalesTaxRateList": {
                        "TaxRateDetail": [{"TaxRateRef": {"value": r}} for r in rates]
                    },
                }
            else:
                body = {"Name": name or f"{target} {value}"}
            stubs[(target, value)] = body
    for rate_id, percent in rates.items():
        if ("TaxRate", rate_id) not in records:
            stubs[("TaxRate", rate_id)] = {"Name": f"Rate {rate_id}", "RateValue": percent}
    if any(k[0] == "Item" for k in stubs) and ("Account", STUB_INCOME_ACCOUNT) not in records:
        stubs[("Account", STUB_INCOME_ACCOUNT)] = {
            "Name": "Imported income",
            "AccountType": "Income",
        }
    return stubs


def _importable(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    body = {
        k: v
        for k, v in record.items()
        if k not in ("Id", "SyncToken", "MetaData", "domain", "sparse")
    }
    if body.get("Active") is False:
        for key in ("DisplayName", "Name"):
            if isinstance(body.get(key), str) and body[key].endswith(DELETED):
                body[key] = body[key][: -len(DELETED)]
    if entity in ("Invoice", "CreditMemo"):
        body["LinkedTxn"] = [x for x in body.get("LinkedTxn", []) if x.get("TxnType") != "Payment"]
    return body


def import_records(
    state: SandboxState, realm_id: str, records: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    """Create the records (first occurrence of each entity Id wins), with stubs for what they
    reference, in dependency order."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for entity, record in records:
        table.setdefault((entity, str(record["Id"])), record)
    plan = {
        **{k: (v, False) for k, v in _stubs(table).items()},
        **{k: (v, True) for k, v in table.items()},
    }

    def rank(key: tuple[str, str]) -> tuple[int, int, int]:
        entity, entity_id = key
        level = int(plan[key][0].get("Level", 0)) if entity == "Customer" else 0
        position = ORDER.index(entity) if entity in ORDER else len(ORDER)
        return position, level, int(entity_id) if entity_id.isdigit() else 0

    for key in sorted(plan, key=rank):
        entity, entity_id = key
        record, recorded = plan[key]
        body = _importable(entity, record) if recorded else record
        state.create_entity(realm_id, entity, body, entity_id=entity_id, emit=False)
        if recorded:
            state.update_raw(realm_id, entity, entity_id, lambda r, rec=record: _align(r, rec))


def _align(stored: dict[str, Any], recorded: dict[str, Any]) -> None:
    stored["SyncToken"] = str(recorded.get("SyncToken", stored.get("SyncToken", "0")))
    for key in DATA_DEFAULTS:
        if key not in recorded and key in stored and key != "LinkedTxn":
            del stored[key]
        if key == "LinkedTxn" and key not in recorded and stored.get(key) == []:
            del stored[key]
