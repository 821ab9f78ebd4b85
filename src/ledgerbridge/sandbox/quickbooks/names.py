"""Name lists: Customer, Vendor, Employee, Item, Account, Term, PaymentMethod, TaxCode, TaxRate.

Rules reproduced: DisplayName built from the name parts when absent and unique (case-insensitive)
across customers, vendors and employees, inactive ones included (6240); item and account names
unique in their lists; names are never deleted, only made inactive, and an inactive record's
name gains " (deleted)" (as recorded for an employee and an account); a customer with an open
balance cannot be made inactive.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company, Env, ref_to, resolve_ref
from ledgerbridge.sandbox.quickbooks.handler import (
    COMMON_READ_ONLY,
    Handler,
    Write,
    as_bool,
    check_enum,
    passthrough,
)
from ledgerbridge.sandbox.quickbooks.money_rules import currency_ref
from ledgerbridge.sandbox.quickbooks.wire import to_decimal

DELETED = " (deleted)"
PEOPLE = ("Customer", "Vendor", "Employee")


def base_name(name: str) -> str:
    return name[: -len(DELETED)] if name.endswith(DELETED) else name


def _key(name: str) -> str:
    return " ".join(base_name(name).split()).casefold()


def check_unique(
    company: Company, entities: tuple[str, ...], field: str, name: str, me: tuple[str, str | None]
) -> None:
    wanted = _key(name)
    for entity in entities:
        # includes objects a running batch has just created: the name is taken all the same
        # (the index covers every stored record, hidden or not)
        holders = company.indexes().equal(entity, ("<name>", field), _name_key(entity, field))
        if any((entity, rid) != me for rid in holders.by_key.get(wanted, ())):
            raise errors.duplicate_name()


def _name_key(entity: str, field: str) -> Callable[[dict[str, Any]], str]:
    def key(record: dict[str, Any]) -> str:
        # a sub-customer's name only has to be unique under its parent (recorded: two
        # customers "Jack Doe", one of them a job of "Doe, Jack")
        held = record.get("FullyQualifiedName") if entity == "Customer" else record.get(field)
        return _key(str(held or ""))

    return key


def _active_name(name: str, active: bool) -> str:
    plain = base_name(name)
    return plain if active else plain + DELETED


def _currency(w: Write, company: Company) -> dict[str, Any]:
    home = company.home_currency
    wanted = (w.data.get("CurrencyRef") or {}).get("value") or home
    if w.existing is not None:
        before = w.existing.get("CurrencyRef", {}).get("value", home)
        if wanted != before:
            raise errors.business(
                "You can't change the currency of this name once it has been set."
            )
    if wanted != home and not company.multicurrency:
        raise errors.business(
            f"Multicurrency is not enabled for this company; {wanted} cannot be used "
            f"(home currency {home})."
        )
    return currency_ref(wanted)


class PersonHandler(Handler):
    """Customer, Vendor and Employee share DisplayName rules."""

    read_only = COMMON_READ_ONLY | {
        "FullyQualifiedName",
        "Level",
        "Balance",
        "BalanceWithJobs",
        "OverDueBalance",
        "TotalRevenue",
        "TotalExpense",
        "IsProject",
    }
    sticky = ("CurrencyRef",)

    def __init__(self, entity: str) -> None:
        self.entity = entity

    def _display(self, w: Write) -> str:
        data = w.data
        display = str(data.get("DisplayName") or "").strip()
        if not display:
            parts = [
                str(data.get(k) or "").strip()
                for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
            ]
            display = " ".join(p for p in parts if p) or str(data.get("CompanyName") or "").strip()
        if not display:
            raise errors.QboFault(
                "6080",
                "No Name Provided",
                "Please provide at least one of: DisplayName, Title, GivenName, "
                "MiddleName, FamilyName, Suffix.",
                element=None,
            )
        if ":" in display:
            raise errors.invalid_enum("DisplayName", display)
        if len(display) > 500:
            raise errors.too_long("DisplayName", 500, len(display))
        return display

    def build(self, w: Write) -> dict[str, Any]:
        env, data = w.env, w.data
        company = env.company
        display = self._display(w)
        me = (self.entity, w.existing["Id"] if w.existing else None)
        check_unique(company, PEOPLE, "DisplayName", self._qualified(w, display), me)
        active = as_bool(data.get("Active"), True)
        if w.existing is not None and w.existing.get("Active", True) and not active:
            self._before_deactivate(w.existing)
        record = passthrough(
            data, {"DisplayName", "Active", "CurrencyRef", "PrintOnCheckName"}, self.read_only
        )
        default_print = (
            " ".join(str(data.get(k) or "") for k in ("GivenName", "FamilyName")).strip()
            if self.entity == "Employee"
            else ""
        ) or base_name(display)
        record["DisplayName"] = _active_name(display, active)
        record["PrintOnCheckName"] = str(data.get("PrintOnCheckName") or default_print)
        record["Active"] = active
        self._extend(w, record)
        return record

    def _before_deactivate(self, existing: dict[str, Any]) -> None:
        return None

    def _qualified(self, w: Write, display: str) -> str:
        if self.entity != "Customer":
            return display
        parent_ref = w.data.get("ParentRef")
        parent = (
            w.env.company.get("Customer", str(parent_ref.get("value")))
            if isinstance(parent_ref, dict)
            else None
        )
        return base_name(parent["FullyQualifiedName"]) + ":" + display if parent else display

    def _extend(self, w: Write, record: dict[str, Any]) -> None:
        if self.entity == "Vendor":
            record["Vendor1099"] = as_bool(w.data.get("Vendor1099"), False)
            record["Balance"] = (w.existing or {}).get("Balance", 0)
            record["CurrencyRef"] = _currency(w, w.env.company)
            if w.data.get("TermRef"):
                term = resolve_ref(w.env, "Term", w.data["TermRef"], "TermRef")
                if term is not None:
                    record["TermRef"] = ref_to("Term", term, with_name=False)
        elif self.entity == "Employee":
            record["BillableTime"] = as_bool(w.data.get("BillableTime"), False)


class CustomerHandler(PersonHandler):
    def __init__(self) -> None:
        super().__init__("Customer")

    def _before_deactivate(self, existing: dict[str, Any]) -> None:
        if to_decimal(existing.get("Balance")) not in (None, Decimal(0)):
            raise errors.business(
                "Delete List Has Balance Error: This customer cannot be deleted because it has a "
                "non-zero balance."
            )

    def _extend(self, w: Write, record: dict[str, Any]) -> None:
        env, data = w.env, w.data
        company = env.company
        display = base_name(record["DisplayName"])
        parent = resolve_ref(env, "Customer", data.get("ParentRef"), "ParentRef")
        if parent is not None:
            if w.existing is not None and parent["Id"] == w.existing["Id"]:
                raise errors.invalid_reference("ParentRef")
            record["ParentRef"] = ref_to("Customer", parent, with_name=False)
            record["Level"] = int(parent.get("Level", 0)) + 1
            record["Job"] = True
            record["FullyQualifiedName"] = base_name(parent["FullyQualifiedName"]) + ":" + display
        else:
            record.pop("ParentRef", None)
            record["Job"] = as_bool(data.get("Job"), False)
            record["FullyQualifiedName"] = display
        if record["Active"] is False:
            record["FullyQualifiedName"] += DELETED
        record["BillWithParent"] = as_bool(data.get("BillWithParent"), False)
        record["Taxable"] = as_bool(data.get("Taxable"), True)
        tax_code = company.preferences.get("TaxPrefs", {}).get("TaxGroupCodeRef")
        if "DefaultTaxCodeRef" not in data and record["Taxable"] and tax_code:
            record["DefaultTaxCodeRef"] = {"value": tax_code["value"]}
        old = w.existing or {}
        record["Balance"] = old.get("Balance", 0)
        record["BalanceWithJobs"] = old.get("BalanceWithJobs", 0)
        record["CurrencyRef"] = _currency(w, company)
        method = data.get("PreferredDeliveryMethod") or "Print"
        check_enum("PreferredDeliveryMethod", method, ("Print", "Email", "None"))
        record["PreferredDeliveryMethod"] = method
        for key in ("SalesTermRef",):
            if data.get(key):
                term = resolve_ref(env, "Term", data[key], key)
                if term is not None:
                    record[key] = ref_to("Term", term)
        if data.get("PaymentMethodRef"):
            pm = resolve_ref(env, "PaymentMethod", data["PaymentMethodRef"], "PaymentMethodRef")
            if pm is not None:
                record["PaymentMethodRef"] = ref_to("PaymentMethod", pm)
        _address_ids(company, record)


def _address_ids(company: Company, record: dict[str, Any]) -> None:
    """QBO gives every stored address an Id; identical bill and ship addresses share one."""
    bill, ship = record.get("BillAddr"), record.get("ShipAddr")
    if isinstance(bill, dict) and "Id" not in bill:
        bill["Id"] = company.new_id("PhysicalAddress")
    if isinstance(ship, dict) and "Id" not in ship:
        same = isinstance(bill, dict) and {k: v for k, v in bill.items() if k != "Id"} == ship
        ship["Id"] = (
            bill["Id"] if same and isinstance(bill, dict) else company.new_id("PhysicalAddress")
        )


ITEM_TYPES = (
    "Service",
    "NonInventory",
    "Inventory",
    "Group",
    "Category",
    "Bundle",
    "Discount",
    "Tax",
    "Payment",
    "Subtotal",
    "Other Charge",
    "Assembly",
    "Fixed Asset",
    "Tax Group",
)


class ItemHandler(Handler):
    entity = "Item"
    read_only = COMMON_READ_ONLY | {"FullyQualifiedName", "Level", "AvgCost"}

    def build(self, w: Write) -> dict[str, Any]:
        env, data = w.env, w.data
        name = str(data.get("Name") or "").strip()
        if not name:
            raise errors.required("Name")
        if len(name) > 100:
            raise errors.too_long("Name", 100, len(name))
        check_unique(
            env.company, ("Item",), "Name", name, ("Item", w.existing["Id"] if w.existing else None)
        )
        item_type = data.get("Type") or "Service"
        check_enum("Type", item_type, ITEM_TYPES)
        active = as_bool(data.get("Active"), True)
        record = passthrough(
            data,
            {
                "Name",
                "Type",
                "Active",
                "IncomeAccountRef",
                "ExpenseAccountRef",
                "AssetAccountRef",
                "ParentRef",
                "UnitPrice",
                "PurchaseCost",
            },
            self.read_only,
        )
        record["Name"] = _active_name(name, active)
        record["Active"] = active
        parent = resolve_ref(env, "Item", data.get("ParentRef"), "ParentRef")
        if parent is not None:
            record["ParentRef"] = ref_to("Item", parent)
            record["SubItem"] = True
            record["Level"] = int(parent.get("Level", 0)) + 1
            record["FullyQualifiedName"] = (
                base_name(parent["FullyQualifiedName"]) + ":" + record["Name"]
            )
        else:
            record.pop("SubItem", None)
            record["FullyQualifiedName"] = record["Name"]
        record["Taxable"] = as_bool(data.get("Taxable"), False)
        record["UnitPrice"] = to_decimal(data.get("UnitPrice")) or 0
        record["Type"] = item_type
        for key, needed in (
            ("IncomeAccountRef", item_type in ("Service", "NonInventory", "Inventory")),
            ("ExpenseAccountRef", False),
            ("AssetAccountRef", item_type == "Inventory"),
        ):
            account = resolve_ref(env, "Account", data.get(key), key)
            if account is None and needed:
                raise errors.required(key)
            if account is not None:
                record[key] = ref_to("Account", account)
        record["PurchaseCost"] = to_decimal(data.get("PurchaseCost")) or 0
        record["TrackQtyOnHand"] = as_bool(data.get("TrackQtyOnHand"), False)
        return record


CLASSIFICATION = {
    "Bank": ("Asset", "Checking"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "OtherFixedAssets"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Equity": ("Equity", "OpeningBalanceEquity"),
    "Income": ("Revenue", "ServiceFeeIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
    "Non-Posting": ("Asset", "OtherCurrentAssets"),
}


class AccountHandler(Handler):
    entity = "Account"
    read_only = COMMON_READ_ONLY | {
        "FullyQualifiedName",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
        "Classification",
    }
    sticky = ("CurrencyRef",)

    def build(self, w: Write) -> dict[str, Any]:
        env, data = w.env, w.data
        if w.sparse and "Name" not in w.request:
            raise errors.required("Name")
        name = str(data.get("Name") or "").strip()
        if not name:
            raise errors.required("Name")
        check_unique(
            env.company,
            ("Account",),
            "Name",
            name,
            ("Account", w.existing["Id"] if w.existing else None),
        )
        account_type = data.get("AccountType")
        if not account_type:
            raise errors.required("AccountType")
        check_enum("AccountType", account_type, tuple(CLASSIFICATION))
        active = as_bool(data.get("Active"), True)
        record = passthrough(
            data,
            {
                "Name",
                "Active",
                "AccountType",
                "AccountSubType",
                "ParentRef",
                "SubAccount",
                "CurrencyRef",
            },
            self.read_only,
        )
        record["Name"] = _active_name(name, active)
        parent = resolve_ref(env, "Account", data.get("ParentRef"), "ParentRef")
        record["SubAccount"] = parent is not None
        if parent is not None:
            record["ParentRef"] = ref_to("Account", parent, with_name=False)
        prefix = base_name(parent["FullyQualifiedName"]) + ":" if parent else ""
        record["FullyQualifiedName"] = prefix + record["Name"]
        record["Active"] = active
        classification, sub_type = CLASSIFICATION[account_type]
        record["Classification"] = classification
        record["AccountType"] = account_type
        record["AccountSubType"] = data.get("AccountSubType") or sub_type
        old = w.existing or {}
        record["CurrentBalance"] = old.get("CurrentBalance", 0)
        record["CurrentBalanceWithSubAccounts"] = old.get("CurrentBalanceWithSubAccounts", 0)
        record["CurrencyRef"] = _currency(w, env.company)
        return record


class SimpleNameHandler(Handler):
    """Term, PaymentMethod, TaxCode, TaxRate: a Name, an Active flag and passthrough fields."""

    def __init__(self, entity: str, defaults: dict[str, Any], creatable: bool = True) -> None:
        self.entity = entity
        self.defaults = defaults
        self.creatable = creatable

    def build(self, w: Write) -> dict[str, Any]:
        name = str(w.data.get("Name") or "").strip()
        if not name:
            raise errors.required("Name")
        check_unique(
            w.env.company,
            (self.entity,),
            "Name",
            name,
            (self.entity, w.existing["Id"] if w.existing else None),
        )
        record = {**self.defaults, **passthrough(w.data, {"Name", "Active"}, self.read_only)}
        active = as_bool(w.data.get("Active"), True)
        record["Name"] = name
        record["Active"] = active
        return record


def handlers() -> dict[str, Handler]:
    return {
        "Customer": CustomerHandler(),
        "Vendor": PersonHandler("Vendor"),
        "Employee": PersonHandler("Employee"),
        "Item": ItemHandler(),
        "Account": AccountHandler(),
        "Term": SimpleNameHandler("Term", {"Type": "STANDARD", "DueDays": 0}),
        "PaymentMethod": SimpleNameHandler("PaymentMethod", {"Type": "NON_CREDIT_CARD"}),
        # QBO reads and queries tax codes; it creates them only through its TaxService
        "TaxCode": SimpleNameHandler(
            "TaxCode", {"Taxable": True, "TaxGroup": True}, creatable=False
        ),
        "TaxRate": SimpleNameHandler("TaxRate", {"RateValue": 0}, creatable=False),
    }


def customer_for(env: Env, ref: Any, element: str = "CustomerRef") -> dict[str, Any] | None:
    return resolve_ref(env, "Customer", ref, element)
