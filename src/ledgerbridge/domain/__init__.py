"""Pure domain model: no I/O, no framework imports."""

from ledgerbridge.domain.models import (
    Address,
    Customer,
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    Payment,
    PaymentApplication,
    Product,
    Refund,
    Side,
    SyncStatus,
)
from ledgerbridge.domain.money import Money, quantize, to_decimal

__all__ = [
    "Address",
    "Customer",
    "Discount",
    "Invoice",
    "InvoiceStatus",
    "LineItem",
    "LineKind",
    "Money",
    "Payment",
    "PaymentApplication",
    "Product",
    "Refund",
    "Side",
    "SyncStatus",
    "quantize",
    "to_decimal",
]
