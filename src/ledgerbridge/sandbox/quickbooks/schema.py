"""Which properties QBO knows, per entity and nested type (for 2010 "unsupported property").

The lists follow Intuit's v3 schema (Finance.xsd, IntuitNamesTypes.xsd, IntuitBaseTypes.xsd)
as reflected by python-quickbooks' object attributes and the property list quoted in a recorded
2010 fault. An unknown key at any depth is refused, the way QBO's deserialiser refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors

_BASE = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "CustomField", "AttachableRef"}

_TXN = _BASE | {
    "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "TxnStatus",
    "LinkedTxn", "Line", "TxnTaxDetail", "TxnSource", "TaxFormType", "TaxFormNum",
    "TransactionLocationType", "Tag", "TxnApprovalInfo", "RecurDataRef", "RecurringInfo", "ProjectRef",
    "HomeTotalAmt", "TotalAmt", "GlobalTaxCalculation",
}

_SALES = _TXN | {
    "AutoDocNumber", "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "FreeFormAddress",
    "ShipFromAddr", "RemitToRef", "ClassRef", "SalesTermRef", "DueDate", "SalesRepRef", "PONumber",
    "FOB", "ShipMethodRef", "ShipDate", "TrackingNum", "ApplyTaxAfterDiscount", "TemplateRef",
    "PrintStatus", "EmailStatus", "BillEmail", "BillEmailCc", "BillEmailBcc", "ARAccountRef",
    "Balance", "HomeBalance", "FinanceCharge", "PaymentMethodRef", "PaymentRefNum", "PaymentType",
    "CheckPayment", "CreditCardPayment", "DepositToAccountRef", "DeliveryInfo", "DiscountRate",
    "DiscountAmt", "GovtTxnRefIdentifier", "TaxExemptionRef",
}

_NAME = _BASE | {
    "Organization", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "FullyQualifiedName",
    "CompanyName", "DisplayName", "PrintOnCheckName", "UserId", "Active", "V4IDPseudonym",
    "PrimaryPhone", "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr",
    "OtherContactInfo", "DefaultTaxCodeRef",
}

ENTITY_FIELDS: dict[str, set[str]] = {
    "Invoice": _SALES | {
        "Deposit", "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment",
        "AllowOnlineACHPayment", "AllowOnlinePayPalPayment", "InvoiceLink", "EInvoiceStatus",
        "ECloudStatusTimeStamp", "callToAction", "invoiceStatus", "invoiceStatusLog", "LessCIS",
        "InvoiceEx", "PaymentDetailsMessage", "ConvenienceFeeDetail",
    },
    "SalesReceipt": _SALES | {"SalesReceiptEx"},
    "CreditMemo": _SALES | {"RemainingCredit", "InvoiceRef", "CreditMemoEx"},
    "RefundReceipt": _SALES | {"RemainingCredit", "RefundReceiptEx"},
    "Estimate": _SALES | {"ExpirationDate", "AcceptedBy", "AcceptedDate", "EstimateEx"},
    "Payment": _TXN | {
        "CustomerRef", "RemitToRef", "ARAccountRef", "DepositToAccountRef", "PaymentMethodRef",
        "PaymentRefNum", "CreditCardPayment", "UnappliedAmt", "ProcessPayment", "PaymentEx",
        "TaxExemptionRef",
    },
    "Purchase": _TXN | {
        "AccountRef", "PaymentMethodRef", "PaymentRefNum", "PaymentType", "EntityRef", "Credit",
        "RemitToAddr", "PurchaseEx", "IncludeInAnnualTPAR", "PrintStatus",
    },
    "Customer": _NAME | {
        "Taxable", "BillAddr", "ShipAddr", "OtherAddr", "ContactName", "AltContactName", "Notes",
        "Job", "BillWithParent", "RootCustomerRef", "ParentRef", "Level", "CustomerTypeRef",
        "SalesTermRef", "SalesRepRef", "TaxGroupCodeRef", "TaxRateRef", "PaymentMethodRef",
        "CCDetail", "PriceLevelRef", "Balance", "OpenBalanceDate", "BalanceWithJobs", "CreditLimit",
        "AcctNum", "CurrencyRef", "OverDueBalance", "TotalRevenue", "TotalExpense",
        "PreferredDeliveryMethod", "ResaleNum", "JobInfo", "TDSEnabled", "CustomerEx",
        "SecondaryTaxIdentifier", "ARAccountRef", "PrimaryTaxIdentifier", "TaxExemptionReasonId",
        "IsProject", "BusinessNumber", "GSTIN", "GSTRegistrationType", "IsCISContractor",
        "ClientCompanyId", "ClientEntityId", "Source", "TaxRegime",
    },
    "Vendor": _NAME | {
        "ContactName", "AltContactName", "Notes", "BillAddr", "ShipAddr", "OtherAddr", "TaxCountry",
        "TaxIdentifier", "BusinessNumber", "ParentRef", "VendorTypeRef", "TermRef",
        "PrefillAccountRef", "Balance", "BillRate", "CostRate", "OpenBalanceDate", "CreditLimit",
        "AcctNum", "Vendor1099", "T4AEligible", "T5018Eligible", "CurrencyRef", "TaxReportingBasis",
        "APAccountRef", "VendorEx", "GSTIN", "GSTRegistrationType", "IsSubContractor", "HasTPAR",
        "VendorPaymentBankDetail", "Source",
    },
    "Employee": _NAME | {
        "EmployeeType", "EmployeeNumber", "SSN", "PrimaryAddr", "OtherAddr", "BillableTime",
        "BillRate", "BirthDate", "Gender", "HiredDate", "ReleasedDate", "UseTimeEntry",
        "EmployeeEx", "CostRate", "EmailAddress",
    },
    "Item": _BASE | {
        "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level", "FullyQualifiedName",
        "Taxable", "SalesTaxIncluded", "PercentBased", "UnitPrice", "RatePercent", "Type",
        "PaymentMethodRef", "UOMSetRef", "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded",
        "PurchaseCost", "ExpenseAccountRef", "COGSAccountRef", "AssetAccountRef", "PrefVendorRef",
        "AvgCost", "TrackQtyOnHand", "QtyOnHand", "QtyOnPurchaseOrder", "QtyOnSalesOrder",
        "ReorderPoint", "ManPartNum", "DepositToAccountRef", "SalesTaxCodeRef",
        "PurchaseTaxCodeRef", "InvStartDate", "BuildPoint", "PrintGroupedItems", "SpecialItem",
        "SpecialItemType", "ItemGroupDetail", "ItemAssemblyDetail", "AbatementRate",
        "ReverseChargeRate", "ServiceType", "ItemCategoryType", "ItemEx", "TaxClassificationRef",
        "UQCDisplayText", "UQCId", "ClassRef", "Source", "DeferredRevenue",
    },
    "Account": _BASE | {
        "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName", "AccountAlias",
        "TxnLocationType", "Active", "Classification", "AccountType", "AccountSubType", "AcctNum",
        "BankNum", "OpeningBalance", "OpeningBalanceDate", "CurrentBalance",
        "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxAccount", "TaxCodeRef",
        "OnlineBankingEnabled", "FIName", "JournalCodeRef", "AccountEx",
    },
    "TaxCode": _BASE | {
        "Name", "Description", "Active", "Hidden", "Taxable", "TaxGroup", "SalesTaxRateList",
        "PurchaseTaxRateList", "AdjustmentTaxRateList", "TaxCodeConfigType",
    },
    "TaxRate": _BASE | {
        "Name", "Description", "Active", "RateValue", "AgencyRef", "TaxReturnLineRef",
        "EffectiveTaxRate", "SpecialTaxType", "DisplayType", "TaxOnAmount",
    },
    "Term": _BASE | {
        "Name", "Active", "Type", "DiscountPercent", "DueDays", "DiscountDays", "DayOfMonthDue",
        "DueNextMonthDays", "DiscountDayOfMonth",
    },
    "PaymentMethod": _BASE | {"Name", "Active", "Type"},
    "CompanyInfo": _BASE | {
        "CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr", "LegalAddr",
        "CompanyEmailAddr", "CustomerCommunicationEmailAddr", "CompanyURL", "PrimaryPhone",
        "OtherContactInfo", "Email", "WebAddr", "Country", "CompanyStartDate",
        "FiscalYearStartMonth", "SupportedLanguages", "DefaultTimeZone", "NameValue", "EmployerId",
    },
    "Preferences": _BASE | {
        "AccountingInfoPrefs", "AdvancedInventoryPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs",
        "EmailMessagesPrefs", "PrintDocumentPrefs", "VendorAndPurchasesPrefs", "TimeTrackingPrefs",
        "TaxPrefs", "FinanceChargesPrefs", "CurrencyPrefs", "ReportPrefs", "OtherPrefs",
    },
}

_LINE = {
    "Id", "LineNum", "Description", "Amount", "Received", "LinkedTxn", "DetailType",
    "PaymentLineDetail", "DiscountLineDetail", "TaxLineDetail", "SalesItemLineDetail",
    "DescriptionLineDetail", "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail",
    "ReimburseLineDetail", "DepositLineDetail", "GroupLineDetail", "SubTotalLineDetail",
    "TDSLineDetail", "CustomField", "LineEx", "ProjectRef",
}

NESTED_FIELDS: dict[str, set[str]] = {
    "Line": _LINE,
    "SalesItemLineDetail": {
        "ServiceDate", "ItemRef", "ClassRef", "UnitPrice", "RatePercent", "PriceLevelRef",
        "MarkupInfo", "Qty", "UOMRef", "ItemAccountRef", "InventorySiteRef", "TaxCodeRef",
        "TaxClassificationRef", "TaxInclusiveAmt", "DiscountRate", "DiscountAmt",
        "SalesItemLineDetailEx", "DeferredRevenue",
    },
    "DiscountLineDetail": {
        "Discount", "ClassRef", "TaxCodeRef", "DiscountRef", "PercentBased", "DiscountPercent",
        "DiscountAccountRef", "ServiceDate", "TaxExemptionRef", "DiscountLineDetailEx",
    },
    "SubTotalLineDetail": {"ItemRef", "ServiceDate"},
    "DescriptionLineDetail": {"ServiceDate", "TaxCodeRef"},
    "GroupLineDetail": {"GroupItemRef", "Quantity", "UOMRef", "ServiceDate", "Line"},
    "AccountBasedExpenseLineDetail": {
        "CustomerRef", "ClassRef", "AccountRef", "BillableStatus", "MarkupInfo", "TaxAmount",
        "TaxCodeRef", "TaxInclusiveAmt", "TaxClassificationRef", "AccountBasedExpenseLineDetailEx",
    },
    "ItemBasedExpenseLineDetail": {
        "ItemRef", "ClassRef", "UnitPrice", "RatePercent", "PriceLevelRef", "MarkupInfo", "Qty",
        "UOMRef", "ItemAccountRef", "InventorySiteRef", "TaxCodeRef", "TaxInclusiveAmt",
        "CustomerRef", "BillableStatus", "TaxClassificationRef", "ItemBasedExpenseLineDetailEx",
    },
    "TxnTaxDetail": {"DefaultTaxCodeRef", "TxnTaxCodeRef", "TotalTax", "TaxReviewStatus", "TaxLine",
                     "UseAutomatedSalesTax"},
    "TaxLineDetail": {"TaxRateRef", "PercentBased", "TaxPercent", "NetAmountTaxable",
                      "TaxInclusiveAmount", "OverrideDeltaAmount", "ServiceDate", "TaxLineDetailEx"},
    "PhysicalAddress": {"Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country",
                        "CountryCode", "County", "CountrySubDivisionCode", "PostalCode",
                        "PostalCodeSuffix", "Lat", "Long", "Tag", "Note"},
    "EmailAddress": {"Id", "Address", "Default", "Tag"},
    "TelephoneNumber": {"Id", "DeviceType", "CountryCode", "AreaCode", "ExchangeCode", "Extension",
                        "FreeFormNumber", "Default", "Tag"},
    "WebSiteAddress": {"Id", "URI", "Default", "Tag"},
    "ReferenceType": {"value", "name", "type"},
    "LinkedTxn": {"TxnId", "TxnType", "TxnLineId"},
    "CustomField": {"DefinitionId", "Name", "Type", "StringValue", "BooleanValue", "DateValue",
                    "NumberValue"},
    "MemoRef": {"value", "id"},
    "ModificationMetaData": {"CreateTime", "LastUpdatedTime", "CreatedByRef", "LastModifiedByRef",
                             "LastChangedInQB", "Synchronized"},
    "DeliveryInfo": {"DeliveryType", "DeliveryTime", "DeliveryErrorType"},
}

_KEY_TYPES = {
    **{k: "PhysicalAddress" for k in ("BillAddr", "ShipAddr", "ShipFromAddr", "PrimaryAddr",
                                      "OtherAddr", "RemitToAddr", "CompanyAddr", "LegalAddr",
                                      "CustomerCommunicationAddr")},
    **{k: "EmailAddress" for k in ("PrimaryEmailAddr", "BillEmail", "BillEmailCc", "BillEmailBcc",
                                   "EmailAddress", "CompanyEmailAddr",
                                   "CustomerCommunicationEmailAddr")},
    **{k: "TelephoneNumber" for k in ("PrimaryPhone", "AlternatePhone", "Mobile", "Fax")},
    "WebAddr": "WebSiteAddress",
    "LinkedTxn": "LinkedTxn",
    "CustomField": "CustomField",
    "CustomerMemo": "MemoRef",
    "MetaData": "ModificationMetaData",
    "Line": "Line",
    "TxnTaxDetail": "TxnTaxDetail",
    "TaxLine": "Line",
    "DeliveryInfo": "DeliveryInfo",
    **{k: k for k in ("SalesItemLineDetail", "DiscountLineDetail", "SubTotalLineDetail",
                      "DescriptionLineDetail", "GroupLineDetail", "AccountBasedExpenseLineDetail",
                      "ItemBasedExpenseLineDetail", "TaxLineDetail")},
}

# Entities whose nested blobs are free-form in this emulator (preference groups, name/value lists).
_UNCHECKED_NESTED = {"Preferences", "CompanyInfo", "TaxCode", "TaxRate"}


@dataclass(frozen=True)
class EntityKind:
    name: str
    path: str  # lower-case URL segment
    kind: str  # "name" (list entity, deactivated not deleted) | "txn" | "config"


ENTITIES: dict[str, EntityKind] = {
    e.name: e
    for e in [
        EntityKind("Customer", "customer", "name"),
        EntityKind("Vendor", "vendor", "name"),
        EntityKind("Employee", "employee", "name"),
        EntityKind("Item", "item", "name"),
        EntityKind("Account", "account", "name"),
        EntityKind("TaxCode", "taxcode", "name"),
        EntityKind("TaxRate", "taxrate", "name"),
        EntityKind("Term", "term", "name"),
        EntityKind("PaymentMethod", "paymentmethod", "name"),
        EntityKind("Invoice", "invoice", "txn"),
        EntityKind("Payment", "payment", "txn"),
        EntityKind("CreditMemo", "creditmemo", "txn"),
        EntityKind("RefundReceipt", "refundreceipt", "txn"),
        EntityKind("SalesReceipt", "salesreceipt", "txn"),
        EntityKind("Estimate", "estimate", "txn"),
        EntityKind("Purchase", "purchase", "txn"),
        EntityKind("CompanyInfo", "companyinfo", "config"),
        EntityKind("Preferences", "preferences", "config"),
    ]
}
BY_PATH = {e.path: e.name for e in ENTITIES.values()}
BY_LOWER = {e.name.lower(): e.name for e in ENTITIES.values()}
SALES_FORMS = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt", "Estimate")


def check_known(entity: str, body: dict[str, Any]) -> None:
    """Raise 2010 for the first property QBO would not recognise, at any depth."""
    _check(body, ENTITY_FIELDS[entity], entity, entity in _UNCHECKED_NESTED)


def _check(obj: dict[str, Any], known: set[str], java_class: str, shallow: bool) -> None:
    for key, value in obj.items():
        if key not in known:
            raise errors.unknown_property(key, java_class, sorted(known))
        if shallow:
            continue
        if key == "AttachableRef":  # a list of attachment links, not a ReferenceType
            continue
        nested = "ReferenceType" if key.endswith("Ref") else _KEY_TYPES.get(key)
        if nested is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                _check(item, NESTED_FIELDS[nested], nested, False)
