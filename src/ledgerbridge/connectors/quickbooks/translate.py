"""QBO wire JSON ⇄ canonical records. Pure functions; amounts are Decimal throughout.

Conventions (see docs/sync-matrix.md for the field list):
- Each canonical line becomes one SalesItemLineDetail line with ItemRef, Qty, UnitPrice and
  Amount = quantize(Qty × UnitPrice) (QBO rejects an Amount that is not Qty × UnitPrice: 6070).
  Products, fees and taxes alike: QBO has no separate fee/tax line, and the canonical model
  counts all of them in the subtotal.
- A tax line whose item is a tax code (TAX_CODE_PREFIX) is the invoice's TxnTaxDetail instead
  (connectors/quickbooks/tax.py); QBO's computed tax reads back as one tax line.
- The one order-level discount becomes a DiscountLineDetail line after the product lines, so
  it applies to the same subtotal the canonical model uses (percent or fixed amount).
- The external key of a ledgerbridge-created record is kept in PrivateNote as
  "ledgerbridge:<key>" so it can be found again after an unknown outcome.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.quickbooks import standard_fields
from ledgerbridge.connectors.quickbooks.tax import tax_line_from_wire
from ledgerbridge.domain import (
    Address,
    Customer,
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    Product,
    Side,
    quantize,
    to_decimal,
)
from ledgerbridge.engine.ports import HOME_TOTAL, LEDGER_TOTAL

MARKER_PREFIX = "ledgerbridge:"
_MARKER_RE = re.compile(r"ledgerbridge:(\S+)")
DOC_NUMBER_MAX = 21
DISPLAY_NAME_MAX = 100
ITEM_NAME_MAX = 100
GIVEN_NAME_MAX = 25
PAYMENT_REF_MAX = 21


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def marker(external_key: str) -> str:
    return f"{MARKER_PREFIX}{external_key}"


def extract_marker(note: str | None) -> str | None:
    if not note:
        return None
    found = _MARKER_RE.search(note)
    return found.group(1) if found else None


def quote(value: str) -> str:
    """A string literal for the QBO query language: single quotes, `'` escaped as `\\'` and,
    first, `\\` as `\\\\` (a name ending in a backslash would otherwise escape the closing
    quote). `%` is literal in `=` comparisons; queries here never use LIKE with user text."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def safe_name(name: str, limit: int = DISPLAY_NAME_MAX) -> str:
    """QBO names: no colons (they separate sub-customers/sub-items), no surrounding or doubled
    spaces (QBO treats "Acme " and "Acme" as different names), at most `limit` characters."""
    cleaned = " ".join(name.replace(":", "-").split())
    return cleaned[:limit].rstrip()


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    if value is None or value == "":
        return default
    return to_decimal(value)


def parse_date(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def ref(value: str | None, name: str | None = None) -> dict[str, str] | None:
    if value is None:
        return None
    out = {"value": str(value)}
    if name:
        out["name"] = name
    return out


def ref_value(obj: Any) -> str | None:
    if isinstance(obj, Mapping) and obj.get("value") not in (None, ""):
        return str(obj["value"])
    return None


def prune(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------------------------
# Invoice
# --------------------------------------------------------------------------------------------
def invoice_lines_to_wire(invoice: Invoice, item_ids: Sequence[str]) -> list[dict[str, Any]]:
    if len(item_ids) != len(invoice.lines):
        raise ValueError(f"{len(invoice.lines)} lines but {len(item_ids)} item ids")
    lines: list[dict[str, Any]] = []
    for line, item_id in zip(invoice.lines, item_ids, strict=True):
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": line.amount(invoice.currency),
                # The HubSpot line name is what the customer expects on the printed invoice,
                # even when the matched QBO item is named differently.
                "Description": line.description or line.name,
                "SalesItemLineDetail": {
                    "ItemRef": {"value": str(item_id)},
                    "Qty": line.quantity,
                    "UnitPrice": line.unit_price,
                },
            }
        )
    if invoice.discount is not None and invoice.discount.value != 0:
        lines.append(discount_to_wire(invoice))
    return lines


def discount_to_wire(invoice: Invoice) -> dict[str, Any]:
    discount = invoice.discount
    assert discount is not None
    if discount.kind == "percent":
        detail = {"PercentBased": True, "DiscountPercent": discount.value}
    else:
        detail = {"PercentBased": False}
    return {
        "DetailType": "DiscountLineDetail",
        "Amount": invoice.discount_amount,
        "DiscountLineDetail": detail,
    }


def invoice_to_wire(
    invoice: Invoice,
    customer_id: str,
    item_ids: Sequence[str],
    custom_fields: Iterable[tuple[str, str]] = (),
    *,
    external_key: str | None = None,
    currency: str | None = None,
    exchange_rate: Decimal | None = None,
) -> dict[str, Any]:
    """Create/update body. `custom_fields` are (DefinitionId, value) pairs; `currency` is sent
    as CurrencyRef only when the company has multicurrency on (else QBO uses the home currency)."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": str(customer_id)},
        "Line": invoice_lines_to_wire(invoice, item_ids),
        "TxnDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "DueDate": invoice.due_date.isoformat() if invoice.due_date else None,
        "DocNumber": invoice.number or None,
        "CustomerMemo": {"value": invoice.memo} if invoice.memo else None,
        "CurrencyRef": {"value": currency} if currency else None,
        # Sent explicitly (never left to QBO's daily feed), so both books use one rate.
        "ExchangeRate": exchange_rate if exchange_rate is not None else None,
        "PrivateNote": marker(external_key) if external_key else None,
    }
    email = invoice.customer.email if invoice.customer else None
    if email:
        body["BillEmail"] = {"Address": email}
    fields = [
        {"DefinitionId": str(def_id), "Type": "StringType", "StringValue": value}
        for def_id, value in custom_fields
    ]
    if fields:
        body["CustomField"] = fields
    return prune(body)


def _status(data: Mapping[str, Any], total: Decimal, balance: Decimal) -> InvoiceStatus:
    note = str(data.get("PrivateNote") or "")
    if data.get("status") == "Voided" or (note.startswith("Voided") and total == 0):
        return InvoiceStatus.VOIDED
    if total > 0 and balance <= 0:
        return InvoiceStatus.PAID
    return InvoiceStatus.OPEN


def _sales_line(line: Mapping[str, Any], currency: str) -> LineItem:
    detail = line.get("SalesItemLineDetail") or {}
    item = detail.get("ItemRef") or {}
    amount = dec(line.get("Amount"), Decimal(0)) or Decimal(0)
    qty = dec(detail.get("Qty"))
    price = dec(detail.get("UnitPrice"))
    if price is None:
        if qty is None:
            qty, price = Decimal(1), amount
        else:
            price = (amount / qty) if qty else amount
    elif qty is None:
        qty = (amount / price) if price else Decimal(1)
    name = str(item.get("name") or line.get("Description") or "Item")
    description = line.get("Description")
    if description == name:
        description = None
    return LineItem(
        name=name,
        quantity=qty,
        unit_price=price,
        description=description,
        product_id=ref_value(item),
        id=str(line["Id"]) if line.get("Id") is not None else None,
    )


def _expand_lines(lines: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for line in lines:
        if line.get("DetailType") == "GroupLineDetail":
            # A bundle: its component lines carry the amounts.
            yield from _expand_lines((line.get("GroupLineDetail") or {}).get("Line") or [])
        else:
            yield line


def invoice_from_wire(
    data: Mapping[str, Any], home_currency: str, term_names: Mapping[str, str] | None = None
) -> Invoice:
    """The canonical invoice, with the standard fields a mapping can target among its custom
    fields (`term_names`: payment term id -> name, to show SalesTermRef by name)."""
    currency = ref_value(data.get("CurrencyRef")) or home_currency
    lines: list[LineItem] = []
    discount: Discount | None = None
    for line in _expand_lines(data.get("Line") or []):
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            lines.append(_sales_line(line, currency))
        elif kind == "DiscountLineDetail":
            detail = line.get("DiscountLineDetail") or {}
            percent = dec(detail.get("DiscountPercent"))
            if detail.get("PercentBased") and percent is not None:
                discount = Discount("percent", percent)
            else:
                discount = Discount("amount", dec(line.get("Amount"), Decimal(0)) or Decimal(0))
    tax_line = tax_line_from_wire(data, currency)
    if tax_line is not None:
        lines.append(tax_line)
    total = dec(data.get("TotalAmt"), Decimal(0)) or Decimal(0)
    balance = dec(data.get("Balance"), total) or Decimal(0)
    customer_ref = data.get("CustomerRef") or {}
    bill_email = (data.get("BillEmail") or {}).get("Address")
    customer = Customer(
        id=ref_value(customer_ref),
        display_name=customer_ref.get("name") if isinstance(customer_ref, Mapping) else None,
        email=bill_email,
    )
    custom = {
        str(f.get("Name") or f.get("DefinitionId")): str(f["StringValue"])
        for f in data.get("CustomField") or []
        if f.get("StringValue") not in (None, "")
    }
    custom.update(standard_fields.from_wire(data, term_names or {}))
    key = extract_marker(data.get("PrivateNote"))
    context: dict[str, str] = {}
    if key:
        context["ledgerbridge.key"] = key
    # QBO's own total (tax and its rounding included): the engine's rounding parity check.
    context[LEDGER_TOTAL] = str(quantize(total, currency))
    rate = dec(data.get("ExchangeRate"))
    foreign = currency.upper() != home_currency.upper()
    if foreign and data.get("HomeTotalAmt") is not None:
        context[HOME_TOTAL] = str(
            quantize(dec(data.get("HomeTotalAmt"), Decimal(0)) or Decimal(0), home_currency)
        )
    memo = (data.get("CustomerMemo") or {}).get("value")
    return Invoice(
        currency=currency,
        lines=tuple(lines),
        status=_status(data, total, balance),
        customer=customer,
        number=data.get("DocNumber"),
        issue_date=parse_date(data.get("TxnDate")),
        due_date=parse_date(data.get("DueDate")),
        discount=discount,
        memo=memo,
        custom_fields=custom,
        exchange_rate=rate if foreign and rate is not None and rate > 0 else None,
        amount_paid=quantize(total - balance, currency),
        balance_due=quantize(balance, currency),
        context=context,
        id=str(data["Id"]) if data.get("Id") is not None else None,
        version=str(data["SyncToken"]) if data.get("SyncToken") is not None else None,
        # Created by ledgerbridge from a HubSpot invoice when it carries our marker.
        origin=Side.HUBSPOT if key else Side.QUICKBOOKS,
    )


# --------------------------------------------------------------------------------------------
# Customer and Item
# --------------------------------------------------------------------------------------------
def customer_to_wire(customer: Customer) -> dict[str, Any]:
    if not customer.display_name:
        raise ValueError("customer.display_name must be chosen before creating a QBO customer")
    body: dict[str, Any] = {
        "DisplayName": safe_name(customer.display_name),
        "GivenName": (customer.first_name or "")[:GIVEN_NAME_MAX] or None,
        "FamilyName": (customer.last_name or "")[:GIVEN_NAME_MAX] or None,
        "CompanyName": customer.company_name or None,
        "PrimaryEmailAddr": {"Address": customer.email.strip()} if customer.email else None,
        "PrimaryPhone": {"FreeFormNumber": customer.phone} if customer.phone else None,
        # Only with multicurrency on (the client decides); a customer's currency never changes.
        "CurrencyRef": {"value": customer.currency} if customer.currency else None,
    }
    if customer.address is not None:
        a = customer.address
        body["BillAddr"] = (
            prune(
                {
                    "Line1": a.line1,
                    "City": a.city,
                    "CountrySubDivisionCode": a.state,
                    "PostalCode": a.postal_code,
                    "Country": a.country,
                }
            )
            or None
        )
    return prune(body)


def customer_from_wire(data: Mapping[str, Any]) -> Customer:
    addr = data.get("BillAddr")
    address = None
    if isinstance(addr, Mapping):
        address = Address(
            line1=addr.get("Line1"),
            city=addr.get("City"),
            state=addr.get("CountrySubDivisionCode"),
            postal_code=addr.get("PostalCode"),
            country=addr.get("Country"),
        )
    return Customer(
        email=(data.get("PrimaryEmailAddr") or {}).get("Address"),
        first_name=data.get("GivenName"),
        last_name=data.get("FamilyName"),
        company_name=data.get("CompanyName"),
        display_name=data.get("DisplayName"),
        phone=(data.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        address=address,
        id=str(data["Id"]) if data.get("Id") is not None else None,
        currency=ref_value(data.get("CurrencyRef")),
        version=str(data["SyncToken"]) if data.get("SyncToken") is not None else None,
    )


def customer_update_to_wire(customer: Customer, fields: Iterable[str]) -> dict[str, Any]:
    """The sparse-update body of the named fields (engine/compare.py CUSTOMER_FIELDS); an
    emptied value is sent empty, so QBO clears it too."""
    body: dict[str, Any] = {}
    for name in fields:
        if name == "first_name":
            body["GivenName"] = (customer.first_name or "")[:GIVEN_NAME_MAX]
        elif name == "last_name":
            body["FamilyName"] = (customer.last_name or "")[:GIVEN_NAME_MAX]
        elif name == "email":
            body["PrimaryEmailAddr"] = {"Address": (customer.email or "").strip()}
        elif name == "phone":
            body["PrimaryPhone"] = {"FreeFormNumber": customer.phone or ""}
        elif name == "company_name":
            body["CompanyName"] = customer.company_name or ""
        elif name == "display_name" and customer.display_name:
            body["DisplayName"] = safe_name(customer.display_name)
        elif name == "billing_address":
            a = customer.address
            body["BillAddr"] = {
                "Line1": (a.line1 if a else None) or "",
                "City": (a.city if a else None) or "",
                "CountrySubDivisionCode": (a.state if a else None) or "",
                "PostalCode": (a.postal_code if a else None) or "",
                "Country": (a.country if a else None) or "",
            }
    return body


def item_update_to_wire(product: Product, fields: Iterable[str]) -> dict[str, Any]:
    """The sparse-update body of the named fields (engine/compare.py ITEM_FIELDS)."""
    body: dict[str, Any] = {}
    for name in fields:
        if name == "name":
            body["Name"] = safe_name(product.name, ITEM_NAME_MAX)
        elif name == "description":
            body["Description"] = product.description or ""
        elif name == "unit_price":
            body["UnitPrice"] = product.unit_price
        elif name == "active":
            body["Active"] = product.active
    return body


def item_to_wire(
    product: Product, income_account_id: str, item_type: str = "Service"
) -> dict[str, Any]:
    return prune(
        {
            "Name": safe_name(product.name, ITEM_NAME_MAX),
            "Sku": product.sku or None,
            "Description": product.description or None,
            "UnitPrice": product.unit_price,
            "Type": item_type,
            "IncomeAccountRef": {"value": str(income_account_id)},
        }
    )


def item_from_wire(data: Mapping[str, Any]) -> Product:
    return Product(
        name=str(data.get("Name") or ""),
        sku=data.get("Sku") or None,
        description=data.get("Description"),
        unit_price=dec(data.get("UnitPrice"), Decimal(0)) or Decimal(0),
        id=str(data["Id"]) if data.get("Id") is not None else None,
        active=data.get("Active", True) is not False,
        version=str(data["SyncToken"]) if data.get("SyncToken") is not None else None,
    )
