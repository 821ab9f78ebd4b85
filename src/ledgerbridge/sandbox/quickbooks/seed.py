"""Seeds: what a brand-new QBO company already holds (`empty`), and the demo data set (`demo`).

A new company has a chart of accounts (income, discounts, A/R, undeposited funds, bank, A/P,
equity, expense accounts), the two default service items "Services" (Id 1, the ItemRef Intuit's
own examples use) and "Hours", a default sales tax code, standard terms and payment methods,
CompanyInfo, and Preferences with USD home currency, multicurrency off and three sales-form
custom fields ("PO Number", "Sales Rep", "Project").
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox import demo_data, scale_data
from ledgerbridge.sandbox.quickbooks import operations
from ledgerbridge.sandbox.quickbooks.company import Env

CUSTOM_FIELDS = ("PO Number", "Sales Rep", "Project")

ACCOUNTS = [
    ("Services", "Income", "ServiceFeeIncome"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Discounts given", "Income", "DiscountsRefundsGiven"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Sales Tax Payable", "Other Current Liability", "GlobalTaxPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Bank Charges & Fees", "Expense", "BankCharges"),
    ("Payment Processing Fees", "Expense", "OtherMiscellaneousServiceCost"),
    ("Office Supplies & Software", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Refunds to customers", "Income", "DiscountsRefundsGiven"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
]
TERMS = [("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60)]
# Every new QBO company starts with these service items, both booked to the "Services" income
# account; tests count items relative to DEFAULT_ITEMS, never absolutely.
DEFAULT_ITEMS = ("Services", "Hours")
METHODS = [
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
]


def preferences(meta: dict[str, str], names: tuple[str, ...] = CUSTOM_FIELDS) -> dict[str, Any]:
    use = [
        {"Name": f"SalesFormsPrefs.UseSalesCustom{i}", "Type": "BooleanType", "BooleanValue": True}
        for i in range(len(names), 0, -1)
    ]
    labels = [
        {"Name": f"SalesFormsPrefs.SalesCustomName{i}", "Type": "StringType", "StringValue": name}
        for i, name in enumerate(names, start=1)
    ]
    message = "Thank you for your business and have a great day!"
    return {
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": dict(meta),
        "AccountingInfoPrefs": {
            "TrackDepartments": False,
            "DepartmentTerminology": "Location",
            "ClassTrackingPerTxn": False,
            "ClassTrackingPerTxnLine": False,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "CustomField": [{"CustomField": use}, {"CustomField": labels}],
            "CustomTxnNumbers": False,
            "AllowDeposit": True,
            "AllowDiscount": True,
            "DefaultDiscountAccount": "3",
            "AllowEstimates": True,
            "AllowShipping": False,
            "AllowServiceDate": False,
            "ETransactionEnabledStatus": "NotApplicable",
            "IPNSupportEnabled": False,
            "UsingPriceLevels": False,
            "UsingProgressInvoicing": False,
            "DefaultTerms": {"value": "3"},
            "DefaultCustomerMessage": message,
            "AutoApplyCredit": True,
            "AutoApplyPayments": True,
            "PrintItemWithZeroAmount": True,
        },
        "EmailMessagesPrefs": {
            "InvoiceMessage": {
                "Subject": "Invoice from your supplier",
                "Message": "Please find your invoice attached.",
            }
        },
        "VendorAndPurchasesPrefs": {"TrackingByCustomer": True, "BillableExpenseTracking": True},
        "TimeTrackingPrefs": {
            "UseServices": True,
            "BillCustomers": True,
            "ShowBillRateToAll": False,
            "WorkWeekStartDate": "Monday",
            "MarkTimeEntriesBillable": True,
        },
        "TaxPrefs": {
            # Sales tax is off, as in a new company: tax codes are used once a test (or
            # PUT /_sandbox/preferences {"TaxPrefs": {"UsingSalesTax": true}}) turns it on.
            "UsingSalesTax": False,
            "PartnerTaxEnabled": False,
            "TaxGroupCodeRef": {"value": "1"},
        },
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
        "OtherPrefs": {
            "NameValue": [
                {"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": message},
                {"Name": "DTXCopyMemo", "Value": "false"},
            ]
        },
    }


def company_info(
    realm_id: str, number: int, meta: dict[str, str], start: dt.date
) -> dict[str, Any]:
    address = {
        "Id": "1",
        "Line1": "123 Sierra Way",
        "City": "San Pablo",
        "CountrySubDivisionCode": "CA",
        "PostalCode": "87999",
        "Country": "USA",
    }
    return {
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": dict(meta),
        "CompanyName": f"Sandbox Company US {number}",
        "LegalName": f"Sandbox Company US {number}",
        "CompanyAddr": address,
        "CustomerCommunicationAddr": dict(address),
        "LegalAddr": dict(address),
        "PrimaryPhone": {},
        "CompanyStartDate": start.isoformat(),
        "FiscalYearStartMonth": "January",
        "Country": "US",
        "Email": {"Address": "noreply@quickbooks.com"},
        "WebAddr": {},
        "SupportedLanguages": "en",
        "DefaultTimeZone": "America/Los_Angeles",
        "NameValue": [
            {"Name": "NeoEnabled", "Value": "true"},
            {"Name": "IndustryType", "Value": "Services"},
            {"Name": "CompanyType", "Value": "LLC"},
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            {"Name": "PayrollFeature", "Value": "false"},
            {"Name": "AccountantFeature", "Value": "false"},
            {"Name": "QBOIndustryType", "Value": "Professional services"},
            {"Name": "ItemCategoriesFeature", "Value": "false"},
            {"Name": "AssignedTime", "Value": meta["CreateTime"]},
        ],
    }


def seed_config(env: Env, number: int, custom_fields: tuple[str, ...] = CUSTOM_FIELDS) -> None:
    """CompanyInfo and Preferences only (the "bare" seed, a base for importing records)."""
    company = env.company
    meta = {"CreateTime": env.meta_now, "LastUpdatedTime": env.meta_now}
    stamp = env.now.isoformat()
    company.entities["Preferences"] = {"1": {**preferences(meta, custom_fields), "_updated": stamp}}
    company.entities["CompanyInfo"] = {
        "1": {**company_info(company.realm_id, number, meta, env.today), "_updated": stamp}
    }


def seed_empty(env: Env, number: int) -> None:
    seed_config(env, number)
    for name, account_type, sub_type in ACCOUNTS:
        operations.create(
            env, "Account", {"Name": name, "AccountType": account_type, "AccountSubType": sub_type}
        )
    for name in DEFAULT_ITEMS:
        operations.create(
            env,
            "Item",
            {
                "Name": name,
                "Type": "Service",
                "Taxable": False,
                "IncomeAccountRef": {"value": "1", "name": "Services"},
            },
        )
    operations.create(
        env,
        "TaxRate",
        {
            "Name": "State sales tax",
            "RateValue": Decimal("8"),
            "Description": "Sales tax",
            "SpecialTaxType": "NONE",
            "DisplayType": "ReadOnly",
        },
        admin=True,
    )
    operations.create(
        env,
        "TaxCode",
        {
            "Name": "Sales tax",
            "Description": "Default sales tax",
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": {
                "TaxRateDetail": [
                    {
                        "TaxRateRef": {"value": "1", "name": "State sales tax"},
                        "TaxTypeApplicable": "TaxOnAmount",
                        "TaxOrder": 0,
                    }
                ]
            },
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        },
        admin=True,
    )
    for name, days in TERMS:
        operations.create(env, "Term", {"Name": name, "Type": "STANDARD", "DueDays": days})
    for name, kind in METHODS:
        operations.create(env, "PaymentMethod", {"Name": name, "Type": kind})


def seed_demo(env: Env, scale: int = 0, scale_seed: int = 1) -> None:
    """Customers (same emails as the HubSpot contacts, DisplayName = company name), items (same
    SKUs as the HubSpot products) and the QBO-origin invoices with their payments; with `scale`,
    the generated company's (scale_data.py) on top."""
    co = scale_data.company(scale, scale_seed)
    customers = [_customer(env, person) for person in co.people]
    items = {product["sku"]: _item(env, product) for product in co.products}
    po_slot = next(slot for slot, name in env.company.custom_field_defs() if name == "PO Number")
    for invoice in itertools.chain(demo_data.invoices(), co.invoices()):
        if invoice.origin == "quickbooks":
            _seed_invoice(env, invoice, customers, items, po_slot)


def _customer(env: Env, person: demo_data.DemoPerson) -> dict[str, Any]:
    return operations.create(
        env,
        "Customer",
        {
            "GivenName": person.first_name,
            "FamilyName": person.last_name,
            "CompanyName": person.company,
            "DisplayName": person.company,
            "PrimaryEmailAddr": {"Address": person.email},
            "PrimaryPhone": {"FreeFormNumber": person.phone},
        },
    )


def _item(env: Env, product: dict[str, str]) -> dict[str, Any]:
    return operations.create(
        env,
        "Item",
        {
            "Name": product["name"],
            "Sku": product["sku"],
            "Type": "Service",
            "Description": product["description"],
            "UnitPrice": Decimal(product["price"]),
            "IncomeAccountRef": {"value": "1"},
        },
    )


def _seed_invoice(
    env: Env,
    invoice: demo_data.DemoInvoice,
    customers: list[dict[str, Any]],
    items: dict[str, dict[str, Any]],
    po_slot: str,
) -> None:
    customer = customers[invoice.person_index % len(customers)]
    lines: list[dict[str, Any]] = [
        {
            "DetailType": "SalesItemLineDetail",
            "Amount": line.quantity * line.unit_price,
            "SalesItemLineDetail": {
                "ItemRef": {"value": items[line.sku]["Id"]},
                "Qty": line.quantity,
                "UnitPrice": line.unit_price,
            },
        }
        for line in invoice.lines
    ]
    if invoice.discount_percent:
        lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {
                    "PercentBased": True,
                    "DiscountPercent": invoice.discount_percent,
                },
            }
        )
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": lines,
        "TxnDate": invoice.issue_date.isoformat(),
        "DueDate": invoice.due_date.isoformat(),
        "BillEmail": customer["PrimaryEmailAddr"],
    }
    if invoice.po_number:
        body["CustomField"] = [{"DefinitionId": po_slot, "StringValue": invoice.po_number}]
    created = operations.create(env, "Invoice", body)
    for n, wanted in enumerate(invoice.payments):
        # the data set rounds its own totals; never apply more than QBO says is open
        amount = min(wanted, env.company.get("Invoice", created["Id"])["Balance"])
        paid_on = min(invoice.issue_date + dt.timedelta(days=7 + n), invoice.due_date)
        operations.create(
            env,
            "Payment",
            {
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": amount,
                "TxnDate": paid_on.isoformat(),
                "PaymentMethodRef": {"value": "2"},
                "PaymentRefNum": f"CHK-{created['DocNumber']}",
                "Line": [
                    {
                        "Amount": amount,
                        "LinkedTxn": [{"TxnId": created["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
