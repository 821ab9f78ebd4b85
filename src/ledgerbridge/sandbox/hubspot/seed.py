"""The `demo` seed: the shared demo data set as a HubSpot portal would hold it.

People become contacts with their company (primary association); products keep their SKU;
HubSpot-origin invoices get line items copied from products, an optional percent discount, a PO
number, their status, and commerce payments for the paid and partially paid ones. QuickBooks-
origin invoices are not seeded here: they live in QBO until a sync brings them over.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from .. import demo_data, scale_data
from .invoices import dec

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox

SOURCE = "CRM_UI"


def _iso(d: dt.date) -> str:
    return f"{d.isoformat()}T12:00:00.000Z"


def seed_demo(sb: HubSpotSandbox, scale: int = 0, scale_seed: int = 1) -> None:
    """The demo portal; with `scale`, plus that many generated invoices (scale_data.py) and the
    people and products they need."""
    co = scale_data.company(scale, scale_seed)
    with sb.batch():
        people = demo_data.people()
        contacts: list[str] = []
        companies: list[str] = []
        products: dict[str, str] = {}
        _people(sb, people, contacts, companies)
        _products(sb, demo_data.PRODUCTS, products)
        for inv in demo_data.invoices():
            if inv.origin != "hubspot":
                continue
            _seed_invoice(sb, inv, contacts, companies, products, people)
    if not scale:
        return
    # One operation per record from here on: a single batch would hold every event in memory.
    _people(sb, co.people[len(people) :], contacts, companies)
    _products(sb, co.products[len(demo_data.PRODUCTS) :], products)
    for inv in co.invoices():
        if inv.origin == "hubspot":
            _seed_invoice(sb, inv, contacts, companies, products, co.people)


def _people(
    sb: HubSpotSandbox,
    people: list[demo_data.DemoPerson],
    contacts: list[str],
    companies: list[str],
) -> None:
    for p in people:
        domain = p.email.split("@", 1)[1]
        company = sb.create_object(
            "companies", {"name": p.company, "domain": domain, "phone": p.phone}, source=SOURCE
        )
        contact = sb.create_object(
            "contacts",
            {
                "firstname": p.first_name,
                "lastname": p.last_name,
                "email": p.email,
                "phone": p.phone,
                "company": p.company,
                "lifecyclestage": "customer",
            },
            source=SOURCE,
        )
        sb.associate("contacts", contact, "companies", company, 1, source=SOURCE)  # Primary
        contacts.append(contact)
        companies.append(company)


def _products(sb: HubSpotSandbox, rows: list[dict[str, str]], products: dict[str, str]) -> None:
    for prod in rows:
        products[prod["sku"]] = sb.create_object(
            "products",
            {
                "name": prod["name"],
                "hs_sku": prod["sku"],
                "price": prod["price"],
                "description": prod["description"],
            },
            source=SOURCE,
        )


def _seed_invoice(
    sb: HubSpotSandbox,
    inv: demo_data.DemoInvoice,
    contacts: list[str],
    companies: list[str],
    products: dict[str, str],
    people: list[demo_data.DemoPerson],
) -> None:
    person = people[inv.person_index]
    props = {
        "hs_currency": inv.currency,
        "hs_invoice_date": _iso(inv.issue_date),
        "hs_due_date": _iso(inv.due_date),
        "hs_title": f"Services for {person.company}",
    }
    if inv.po_number:
        props["hs_purchase_order_number"] = inv.po_number
    invoice_id = sb.create_object(
        "invoices",
        props,
        [
            {
                "to": {"id": contacts[inv.person_index]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 177}],
            },
            {
                "to": {"id": companies[inv.person_index]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 179}],
            },
        ],
        source=SOURCE,
    )
    for position, line in enumerate(inv.lines):
        sb.create_object(
            "line_items",
            {
                "hs_product_id": products[line.sku],
                "quantity": str(line.quantity),
                "price": str(line.unit_price),
                "hs_position_on_quote": str(position),
                "hs_line_item_currency_code": inv.currency,
            },
            [
                {
                    "to": {"id": invoice_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 410}],
                }
            ],
            source=SOURCE,
        )
    if inv.discount_percent:
        sb.create_object(
            "discounts",
            {
                "hs_label": f"{inv.discount_percent}% discount",
                "hs_type": "PERCENT",
                "hs_value": str(inv.discount_percent),
                "hs_sort_order": "1",
            },
            [
                {
                    "to": {"id": invoice_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 412}],
                }
            ],
            source=SOURCE,
        )
    if inv.status == "draft":
        return
    sb.update_object("invoices", invoice_id, {"hs_invoice_status": "open"}, source=SOURCE)
    if inv.status == "voided":
        sb.update_object("invoices", invoice_id, {"hs_invoice_status": "voided"}, source=SOURCE)
        return
    record = sb.store.get("invoices", invoice_id)
    assert record is not None
    balance = dec(record.properties.get("hs_balance_due"))
    amounts = list(inv.payments)
    if inv.status == "paid":
        # Pay exactly what the portal billed, whatever rounding the data set assumed.
        amounts = [balance]
    for n, amount in enumerate(amounts):
        paid_on = min(inv.issue_date + dt.timedelta(days=7 + n), inv.due_date)
        sb.create_object(
            "commerce_payments",
            {
                "hs_initial_amount": str(amount),
                "hs_initiated_date": _iso(paid_on),
                "hs_latest_status": "succeeded",
                "hs_currency_code": inv.currency,
                "hs_customer_email": person.email,
                "hs_payment_method_type": "ach",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": f"PAY-{invoice_id}-{n + 1}",
                # What the processor kept: ACH at 0.8 %, capped at 5.00.
                "hs_fees_amount": str(
                    min(Decimal(amount) * Decimal("0.008"), Decimal(5)).quantize(Decimal("0.01"))
                ),
            },
            [
                {
                    "to": {"id": invoice_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 542}],
                },
                {
                    "to": {"id": contacts[inv.person_index]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 387}],
                },
            ],
            source=SOURCE,
        )
