"""Several sandbox companies at once (one HubSpot portal and one QBO realm each): seeding and
connecting them, for the distributed-mode tests, `make cluster-demo` and `make bench-scale`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerbridge.bootstrap import Runtime
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.engine.fieldmap import SyncSettings


def _assoc(to_id: str, type_id: int) -> list[dict[str, Any]]:
    return [
        {
            "to": {"id": str(to_id)},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


def seed_invoices(hsb: Any, count: int, tag: str, *, contacts: int = 5) -> list[str]:
    """`count` finished (open) HubSpot invoices with one or two lines each; returns their ids."""
    buyers = [
        hsb.create_object(
            "contacts",
            {"email": f"buyer{n}@{tag}.example", "firstname": f"B{n}", "lastname": tag},
        )
        for n in range(contacts)
    ]
    products = [
        hsb.create_object(
            "products", {"name": f"{tag} item {n}", "hs_sku": f"{tag}-{n}", "price": p}
        )
        for n, p in enumerate(("12.50", "99.00", "0.35"))
    ]
    invoices = []
    for n in range(count):
        invoice = hsb.create_object(
            "invoices", {"hs_currency": "USD"}, _assoc(buyers[n % contacts], 177)
        )
        for k in range(1 + n % 2):
            product = products[(n + k) % len(products)]
            hsb.create_object(
                "line_items",
                {"hs_product_id": product, "quantity": str(1 + n % 5), "price": "12.50"},
                _assoc(invoice, 410),
            )
        hsb.update_object("invoices", invoice, {"hs_invoice_status": "open"})
        invoices.append(invoice)
    return invoices


@dataclass(frozen=True)
class Company:
    hubspot_url: str
    qbo_url: str


async def connect_fleet(
    runtime: Runtime,
    companies: list[Company],
    *,
    prefix: str = "client",
    sync: SyncSettings | None = None,
) -> list[int]:
    """Connect each company through its sandboxes' OAuth (as the console would); returns ids."""
    ids = []
    for n, company in enumerate(companies):
        info = await connect_sandboxes(
            runtime,
            SandboxEndpoints(company.hubspot_url, company.qbo_url, "http://127.0.0.1:9"),
            name=f"{prefix}-{n + 1:03d}",
            sync=sync,
        )
        ids.append(info.id)
    return ids
