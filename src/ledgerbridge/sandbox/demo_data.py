"""The demo data set, shared by both sandboxes so that their `--seed demo` data agree.

Pure data, deterministic: the same people, companies and products exist on both sides (contacts
as QBO customers with the same email, products as QBO items with the same SKU). Invoices are
described once with the side they originate on; each sandbox seeds the ones that live on it.
Amounts are Decimal strings.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

_FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Nils",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
]
_LAST = [
    "Lovelace",
    "Okafor",
    "Martin",
    "Patel",
    "Rossi",
    "Haddad",
    "Hopper",
    "Tanaka",
    "Silva",
    "Berg",
    "Adeyemi",
    "Murphy",
    "Cohen",
    "Larsen",
    "Ivanova",
    "Shah",
    "Baker",
    "Diaz",
    "Nieminen",
    "Kaur",
    "Farouk",
    "Novak",
]
_COMPANIES = [
    "Acme Analytics",
    "Birch & Co",
    "Cobalt Freight",
    "Delta Dental Group",
    "Evergreen Studios",
    "Fjord Robotics",
    "Granite Legal",
    "Harbor Coffee",
    "Ion Labs",
    "Juniper Health",
    "Keystone Builders",
    "Lumen Media",
    "Meridian Travel",
    "Nimbus Cloud",
    "Orchid Florists",
    "Pioneer Farms",
    "Quartz Security",
    "Redwood Schools",
    "Summit Outdoor",
    "Tidewater Marine",
    "Umbra Design",
    "Vista Optics",
]

PRODUCTS: list[dict[str, str]] = [
    {
        "name": "Consulting hour",
        "sku": "CONS-HR",
        "price": "150.00",
        "description": "Senior consultant, per hour",
    },
    {
        "name": "Onboarding package",
        "sku": "ONB-STD",
        "price": "1200.00",
        "description": "Standard onboarding",
    },
    {
        "name": "Platform license (monthly)",
        "sku": "LIC-MO",
        "price": "499.00",
        "description": "Per workspace",
    },
    {
        "name": "Platform license (annual)",
        "sku": "LIC-YR",
        "price": "4990.00",
        "description": "Per workspace, billed yearly",
    },
    {
        "name": "Support plan",
        "sku": "SUP-PRO",
        "price": "89.99",
        "description": "Priority support, monthly",
    },
    {
        "name": "Training seat",
        "sku": "TRN-SEAT",
        "price": "249.50",
        "description": "One attendee, one day",
    },
    {
        "name": "Data migration",
        "sku": "MIG-01",
        "price": "2750.00",
        "description": "One-time migration",
    },
    {"name": "Extra storage 100GB", "sku": "STO-100", "price": "19.95", "description": "Monthly"},
    {"name": "API add-on", "sku": "API-ADD", "price": "75.00", "description": "Monthly"},
    {
        "name": "Hardware kit",
        "sku": "HW-KIT",
        "price": "349.00",
        "description": "Scanner and stand",
    },
]


@dataclass(frozen=True)
class DemoPerson:
    first_name: str
    last_name: str
    email: str
    company: str
    phone: str


@dataclass(frozen=True)
class DemoLine:
    sku: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class DemoInvoice:
    origin: str  # "hubspot" | "quickbooks"
    person_index: int
    status: (
        str  # hubspot: draft|open|paid|partially_paid|voided ; quickbooks: open|paid|partially_paid
    )
    lines: tuple[DemoLine, ...]
    issue_date: dt.date
    due_date: dt.date
    discount_percent: Decimal | None = None
    po_number: str | None = None
    currency: str = "USD"
    payments: tuple[Decimal, ...] = field(default_factory=tuple)


def people() -> list[DemoPerson]:
    result = []
    for i, (first, last) in enumerate(zip(_FIRST, _LAST, strict=True)):
        company = _COMPANIES[i]
        domain = company.lower().replace(" & ", "").replace(" ", "") + ".example"
        result.append(
            DemoPerson(
                first,
                last,
                f"{first.lower()}.{last.lower()}@{domain}",
                company,
                f"+1 555 01{i:02d}",
            )
        )
    return result


def invoices(today: dt.date | None = None) -> list[DemoInvoice]:
    """50 HubSpot-origin invoices in every state and 8 QBO-origin invoices, with payments."""
    today = today or dt.date(2026, 11, 1)
    rng = random.Random(20261101)
    hs_states = (
        ["draft"] * 8 + ["open"] * 22 + ["paid"] * 10 + ["partially_paid"] * 6 + ["voided"] * 4
    )
    result: list[DemoInvoice] = []
    for n, status in enumerate(hs_states):
        result.append(_invoice(rng, "hubspot", n, status, today))
    for n, status in enumerate(["open"] * 4 + ["paid"] * 2 + ["partially_paid"] * 2):
        result.append(_invoice(rng, "quickbooks", n + 100, status, today))
    return result


def _invoice(rng: random.Random, origin: str, n: int, status: str, today: dt.date) -> DemoInvoice:
    lines = []
    for product in rng.sample(PRODUCTS, rng.randint(1, 3)):
        qty = Decimal(rng.choice([1, 1, 2, 3, 5, 10]))
        lines.append(DemoLine(product["sku"], qty, Decimal(product["price"])))
    issue = today - dt.timedelta(days=rng.randint(0, 90))
    discount = Decimal(rng.choice([5, 10, 15])) if n % 7 == 3 else None
    total = sum((ln.quantity * ln.unit_price for ln in lines), Decimal(0))
    if discount:
        total -= (total * discount / 100).quantize(Decimal("0.01"))
    payments: tuple[Decimal, ...] = ()
    if status == "paid":
        payments = (total,)
    elif status == "partially_paid":
        payments = ((total / 2).quantize(Decimal("0.01")),)
    return DemoInvoice(
        origin=origin,
        person_index=n % len(_FIRST),
        status=status,
        lines=tuple(lines),
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        discount_percent=discount,
        po_number=f"PO-{4100 + n}" if n % 3 == 0 else None,
        payments=payments,
    )
