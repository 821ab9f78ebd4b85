"""`--scale N`: a large company on top of the demo data set, for benchmarks and for the console at
10,000 and 100,000 invoices. Generated from a number (same number, same data), shared by both
sandboxes like demo_data: one person per ten invoices (a contact and its company in HubSpot, a
customer with the same email and a unique DisplayName in QBO), 200 more products (HubSpot
products and QBO items with the same SKU), and N invoices in every state (nine in ten originate
in HubSpot, drafts, open, paid, partially paid and voided; the rest in QBO, open, paid and
partially paid), with their payments.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from . import demo_data
from .demo_data import DemoInvoice, DemoLine, DemoPerson

EXTRA_PRODUCTS = 200
HUBSPOT_STATES = ["draft"] * 10 + ["open"] * 40 + ["paid"] * 30 + ["partially_paid"] * 12
HUBSPOT_STATES += ["voided"] * 8
QBO_STATES = ["open"] * 5 + ["paid"] * 3 + ["partially_paid"] * 2
_FIRST = ["Ada", "Ben", "Cleo", "Dev", "Ema", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena"]
_LAST = ["Moreau", "Novak", "Okafor", "Park", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Vidal"]
_TRADES = ["Analytics", "Bakery", "Builders", "Consulting", "Design", "Foods", "Labs", "Logistics"]


@dataclass(frozen=True)
class ScaleCompany:
    people: list[DemoPerson]  # the demo's people first, then the generated ones
    products: list[dict[str, str]]  # the demo's products first
    invoice_count: int
    seed: int

    def invoices(self) -> Iterator[DemoInvoice]:
        """The N invoices, generated on the fly (100,000 of them need not sit in memory)."""
        rng = random.Random(f"ledgerbridge-scale-invoices-{self.seed}")
        today = dt.date(2026, 11, 1)
        for n in range(self.invoice_count):
            origin = "quickbooks" if n % 10 == 9 else "hubspot"
            states = QBO_STATES if origin == "quickbooks" else HUBSPOT_STATES
            yield _invoice(rng, self, origin, n, rng.choice(states), today)


def company(invoices: int, seed: int = 1) -> ScaleCompany:
    rng = random.Random(f"ledgerbridge-scale-{seed}")
    people = list(demo_data.people())
    for i in range(max(0, invoices // 10)):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        name = f"{last} {rng.choice(_TRADES)} {i + 1}"
        domain = f"{last.lower()}{i + 1}.example"
        people.append(
            DemoPerson(first, last, f"{first.lower()}@{domain}", name, f"+1 555 2{i % 1000000:06d}")
        )
    products = list(demo_data.PRODUCTS)
    for i in range(EXTRA_PRODUCTS if invoices else 0):
        price = Decimal(rng.randrange(500, 50000)) / 100
        products.append(
            {
                "name": f"Service pack {i + 1}",
                "sku": f"SCL-{i + 1:04d}",
                "price": str(price),
                "description": "Generated for scale",
            }
        )
    return ScaleCompany(people=people, products=products, invoice_count=invoices, seed=seed)


def _invoice(
    rng: random.Random, co: ScaleCompany, origin: str, n: int, status: str, today: dt.date
) -> DemoInvoice:
    lines = []
    for product in rng.sample(co.products, rng.randint(1, 3)):
        qty = Decimal(rng.choice([1, 1, 2, 3, 5, 10]))
        lines.append(DemoLine(product["sku"], qty, Decimal(product["price"])))
    issue = today - dt.timedelta(days=rng.randint(0, 720))
    discount = Decimal(rng.choice([5, 10, 15])) if rng.random() < 0.1 else None
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
        person_index=rng.randrange(len(co.people)),
        status=status,
        lines=tuple(lines),
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        discount_percent=discount,
        po_number=f"PO-S{n + 1}" if rng.random() < 0.3 else None,
        payments=payments,
    )
