"""Creating an invoice in HubSpot from the console's form, the way HubSpot's own editor does:
the invoice with its contact (and optional company and deal), line items from products, one
optional order-level discount, fees and taxes, then either kept as a draft or finished
(status open, which is what the sync reacts to)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.summaries import PropertyDef
from ledgerbridge.domain import quantize
from ledgerbridge.web.amounts import AmountError, parse_amount
from ledgerbridge.web.context import Console
from ledgerbridge.web.services.invoice_index import CURRENCIES

# HUBSPOT_DEFINED association type ids (hubspot-api reference, §0 and the sandbox schema).
INVOICE_TO_CONTACT, INVOICE_TO_COMPANY, INVOICE_TO_DEAL = 177, 179, 175
TO_INVOICE = {"line_items": 410, "discounts": 412, "fees": 414, "taxes": 416}
MAX_LINES = 100


@dataclass
class FormLine:
    product_id: str = ""
    name: str = ""
    quantity: str = "1"
    price: str = ""


@dataclass
class FormAdjustment:
    kind: str = "fee"  # fee | tax
    label: str = ""
    type: str = "FIXED"  # FIXED | PERCENT
    value: str = ""


@dataclass
class InvoiceForm:
    contact_id: str = ""
    contact_label: str = ""
    company_id: str = ""
    deal_id: str = ""
    currency: str = "USD"
    invoice_date: str = ""
    due_date: str = ""
    po_number: str = ""
    comments: str = ""
    discount_type: str = ""  # "" | PERCENT | FIXED
    discount_value: str = ""
    lines: list[FormLine] = field(default_factory=list)
    adjustments: list[FormAdjustment] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    action: str = "draft"
    errors: list[str] = field(default_factory=list)

    @classmethod
    def blank(cls, today: dt.date) -> InvoiceForm:
        return cls(
            invoice_date=today.isoformat(),
            due_date=(today + dt.timedelta(days=30)).isoformat(),
            lines=[FormLine()],
        )

    @classmethod
    def from_form(cls, form: Any, custom_defs: list[PropertyDef]) -> InvoiceForm:
        def one(name: str) -> str:
            value = form.get(name)
            return str(value).strip() if isinstance(value, str) else ""

        def many(name: str) -> list[str]:
            return [str(v).strip() for v in form.getlist(name)][:MAX_LINES]

        out = cls(
            contact_id=one("contact_id"),
            contact_label=one("contact_label"),
            company_id=one("company_id"),
            deal_id=one("deal_id"),
            currency=one("currency").upper() or "USD",
            invoice_date=one("invoice_date"),
            due_date=one("due_date"),
            po_number=one("po_number"),
            comments=one("comments"),
            discount_type=one("discount_type").upper(),
            discount_value=one("discount_value"),
            action="finish" if one("action") == "finish" else "draft",
        )
        products, names, qtys, prices = (
            many(n) for n in ("line_product", "line_name", "line_qty", "line_price")
        )
        for n in range(max(len(products), len(names), len(qtys), len(prices))):
            line = FormLine(
                *(
                    values[n] if n < len(values) else ""
                    for values in (products, names, qtys, prices)
                )
            )
            if line.product_id or line.name or line.price:
                out.lines.append(line)
        kinds, labels, types, values = (
            many(n) for n in ("adj_kind", "adj_label", "adj_type", "adj_value")
        )
        for n in range(max(len(kinds), len(labels), len(types), len(values))):
            adj = FormAdjustment(
                *(v[n] if n < len(v) else "" for v in (kinds, labels, types, values))
            )
            if adj.value:
                out.adjustments.append(adj)
        for d in custom_defs:
            value = one(f"prop_{d.name}")
            if value:
                out.custom[d.name] = value
        return out


@dataclass
class Prepared:
    properties: dict[str, str]
    lines: list[dict[str, str]]
    discount: dict[str, str] | None
    fees: list[dict[str, str]]
    taxes: list[dict[str, str]]


def _decimal(
    text: str, what: str, errors: list[str], *, minimum: Decimal | None = Decimal(0)
) -> Decimal | None:
    try:
        # Locale-aware and strict: "5,00.00" is ambiguous, not 500 (see web/amounts.py).
        value = parse_amount(text, decimals=6)
    except AmountError as exc:
        errors.append(f"{what}: {exc}")
        return None
    if not value.is_finite() or (minimum is not None and value < minimum):
        errors.append(f"{what} must be {minimum} or more.")
        return None
    return value


def _date(text: str, what: str, errors: list[str]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(f"{what} is not a date.")
        return None


def prepare(
    form: InvoiceForm, products: dict[str, dict[str, str]], custom_defs: list[PropertyDef]
) -> Prepared | None:
    """Validate the form into HubSpot writes; None with `form.errors` filled when it is wrong."""
    errors = form.errors
    if form.currency not in CURRENCIES:
        errors.append("Choose a currency.")
    if form.action == "finish" and not form.contact_id:
        errors.append("Choose a contact: an invoice needs one before it can be finished.")
    if form.contact_id and not form.contact_id.isdigit():
        errors.append("Choose the contact from the list.")
    lines: list[dict[str, str]] = []
    for n, line in enumerate(form.lines, start=1):
        product = products.get(line.product_id) if line.product_id else None
        if line.product_id and product is None:
            errors.append(f"Line {n}: that product no longer exists.")
            continue
        name = line.name or (product or {}).get("name") or ""
        if not name:
            errors.append(f"Line {n}: choose a product or type a name.")
            continue
        quantity = _decimal(
            line.quantity or "1", f"Line {n} quantity", errors, minimum=Decimal("0.0001")
        )
        price = _decimal(
            line.price or (product or {}).get("price") or "0", f"Line {n} unit price", errors
        )
        if quantity is None or price is None:
            continue
        wire = {
            "name": name,
            "quantity": format(quantity.normalize(), "f"),
            "price": format(price, "f"),
            "hs_line_item_currency_code": form.currency,
            "hs_position_on_quote": str(n - 1),
        }
        if product is not None:
            wire["hs_product_id"] = line.product_id
            if product.get("hs_sku"):
                wire["hs_sku"] = product["hs_sku"]
        lines.append(wire)
    if form.action == "finish" and not lines and not errors:
        errors.append("Add at least one line item: an invoice needs one before it can be finished.")
    discount = None
    if form.discount_type in ("PERCENT", "FIXED") and form.discount_value:
        value = _decimal(form.discount_value, "Discount", errors)
        if value is not None and form.discount_type == "PERCENT" and value > 100:
            errors.append("A percent discount cannot be over 100.")
        elif value is not None and value > 0:
            label = (
                f"{value.normalize():f}% discount"
                if form.discount_type == "PERCENT"
                else "Discount"
            )
            discount = {
                "hs_label": label,
                "hs_type": form.discount_type,
                "hs_value": format(
                    value if form.discount_type == "PERCENT" else quantize(value, form.currency),
                    "f",
                ),
                "hs_sort_order": "0",
            }
    fees: list[dict[str, str]] = []
    taxes: list[dict[str, str]] = []
    for n, adj in enumerate(form.adjustments, start=1):
        kind = "taxes" if adj.kind == "tax" else "fees"
        value = _decimal(
            adj.value, f"{'Tax' if kind == 'taxes' else 'Fee'} {adj.label or n}", errors
        )
        if value is None:
            continue
        target = taxes if kind == "taxes" else fees
        target.append(
            {
                "hs_label": adj.label or ("Tax" if kind == "taxes" else "Fee"),
                "hs_type": "PERCENT" if adj.type.upper() == "PERCENT" else "FIXED",
                "hs_value": format(value, "f"),
                "hs_sort_order": str(len(target)),
            }
        )
    invoice_date = _date(form.invoice_date, "Invoice date", errors)
    due_date = _date(form.due_date, "Due date", errors)
    if invoice_date and due_date and due_date < invoice_date:
        errors.append("The due date is before the invoice date.")
    properties = {"hs_currency": form.currency}
    for name, text in (
        ("hs_invoice_date", tr.date_to_wire(invoice_date)),
        ("hs_due_date", tr.date_to_wire(due_date)),
        ("hs_purchase_order_number", form.po_number[:100]),
        ("hs_comments", form.comments[:2000]),
    ):
        if text:
            properties[name] = text
    known = {d.name: d for d in custom_defs}
    for name, entered in form.custom.items():
        definition = known.get(name)
        if definition is None or definition.read_only:
            continue
        if (
            definition.type == "number"
            and _decimal(entered, definition.label, errors, minimum=None) is None
        ):
            continue
        if definition.type in ("date", "datetime"):
            day = _date(entered, definition.label, errors)
            entered = tr.date_to_wire(day) or ""
        properties[name] = entered
    if errors:
        return None
    return Prepared(properties, lines, discount, fees, taxes)


def _assoc(type_id: int, to_id: str) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


async def create_invoice(console: Console, form: InvoiceForm, prepared: Prepared) -> str:
    """Creates everything in HubSpot; returns the invoice id. Finishing needs the contact and
    the lines to be in place first (HubSpot refuses to open an invoice without them)."""
    associations = []
    for type_id, target in (
        (INVOICE_TO_CONTACT, form.contact_id),
        (INVOICE_TO_COMPANY, form.company_id),
        (INVOICE_TO_DEAL, form.deal_id),
    ):
        if target and target.isdigit():
            associations.append(_assoc(type_id, target))
    created = await console.hubspot.create("invoices", prepared.properties, associations)
    invoice_id = str(created["id"])
    for kind, objects in (
        ("line_items", prepared.lines),
        ("discounts", [prepared.discount] if prepared.discount else []),
        ("fees", prepared.fees),
        ("taxes", prepared.taxes),
    ):
        if objects:
            await console.hubspot.batch_create(
                kind,
                [
                    {"properties": o, "associations": [_assoc(TO_INVOICE[kind], invoice_id)]}
                    for o in objects
                ],
            )
    if form.action == "finish":
        await finish_invoice(console, invoice_id)
    return invoice_id


async def finish_invoice(console: Console, invoice_id: str) -> None:
    await console.hubspot.update("invoices", invoice_id, {"hs_invoice_status": "open"})
    console.mark_invoice_dirty(invoice_id, "console: invoice finished")


# ---- pickers -----------------------------------------------------------------------------------
async def products(console: Console) -> dict[str, dict[str, str]]:
    data = await console.hubspot.search(
        "products",
        {
            "properties": ["name", "price", "hs_sku", "description"],
            "sorts": [{"propertyName": "name", "direction": "ASCENDING"}],
            "limit": 200,
        },
    )
    return {
        str(r["id"]): {k: str(v) for k, v in (r.get("properties") or {}).items() if v is not None}
        for r in data.get("results") or []
    }


def _contact_row(record: dict[str, Any]) -> dict[str, str]:
    p = record.get("properties") or {}
    name = (
        " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x)
        or p.get("email")
        or f"Contact {record['id']}"
    )
    return {
        "id": str(record["id"]),
        "name": name,
        "email": str(p.get("email") or ""),
        "company": str(p.get("company") or ""),
    }


async def search_contacts(console: Console, text: str, limit: int = 10) -> list[dict[str, str]]:
    body: dict[str, Any] = {
        "properties": ["firstname", "lastname", "email", "company"],
        "limit": limit,
        "sorts": [{"propertyName": "lastname", "direction": "ASCENDING"}],
    }
    cleaned = re.sub(r"\s+", " ", text).strip()[:100]
    if cleaned:
        body["query"] = cleaned
    data = await console.hubspot.search("contacts", body)
    return [_contact_row(r) for r in data.get("results") or []]


async def contact_related(console: Console, contact_id: str) -> dict[str, list[dict[str, str]]]:
    """The contact's companies and deals, for the optional company and deal pickers."""
    out: dict[str, list[dict[str, str]]] = {"companies": [], "deals": []}
    for kind, props, label in (
        ("companies", ["name", "domain"], "name"),
        ("deals", ["dealname", "dealstage", "amount"], "dealname"),
    ):
        ids = (await console.hubspot.associations("contacts", kind, [contact_id])).get(
            contact_id, []
        )
        if not ids:
            continue
        records = await console.hubspot.batch_read(kind, ids[:50], props)
        out[kind] = [
            {"id": i, "name": str((records[i].get("properties") or {}).get(label) or i)}
            for i in ids
            if i in records
        ]
    return out
