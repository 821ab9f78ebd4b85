"""Small pure pieces the plans rely on: intent keys, display-name candidates, item identity,
snapshots and keyed locks."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from ledgerbridge.domain import Customer, Discount, Invoice, InvoiceStatus, LineItem, Side
from ledgerbridge.engine.ensure import display_name_candidates, item_source_id
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.identity import counterpart_hint, external_key, sync_properties_differ
from ledgerbridge.engine.intents import KeyedLocks, intent_key
from ledgerbridge.engine.snapshot import dec, equivalent, invoice_snapshot, snapshot_hash


def test_intent_keys_are_deterministic_distinct_and_fit_qbo_request_ids() -> None:
    key = intent_key(3, "invoice", "10042")
    assert key == intent_key(3, "invoice", "10042")
    assert len(key) <= 36  # /batch request ids allow 36 characters
    others = {
        intent_key(4, "invoice", "10042"),
        intent_key(3, "payment", "10042"),
        intent_key(3, "invoice", "10043"),
    }
    assert key not in others and len(others) == 3


def test_display_name_candidates() -> None:
    ada = Customer(
        email="Ada@Acme.example", first_name="Ada", last_name="Lovelace", company_name="Acme: West"
    )
    names = display_name_candidates(ada, limit=5)
    assert names == [
        "Acme- West",
        "Acme- West (ada@acme.example)",
        "Acme- West (2)",
        "Acme- West (3)",
        "Acme- West (4)",
    ]
    person = Customer(email="ben@example.com", first_name="Ben", last_name="Okafor")
    assert display_name_candidates(person, limit=2) == [
        "Ben Okafor",
        "Ben Okafor (ben@example.com)",
    ]
    assert display_name_candidates(Customer(email="x@y.z"), limit=1) == ["x@y.z"]
    long = Customer(email="a@b.c", company_name="X" * 300)
    assert all(len(n) <= 100 for n in display_name_candidates(long))


def test_item_identity_for_links() -> None:
    assert item_source_id(LineItem("A", Decimal(1), Decimal(1), product_id="77", sku="S")) == "77"
    assert item_source_id(LineItem("A", Decimal(1), Decimal(1), sku="S")) == "sku:S"
    assert item_source_id(LineItem(" Shipping ", Decimal(1), Decimal(1))) == "name:shipping"


def test_snapshot_is_json_and_stable_across_decimal_spellings() -> None:
    settings = SyncSettings()
    a = Invoice(
        currency="USD",
        lines=(LineItem("A", Decimal("2.0"), Decimal("150.00")),),
        discount=Discount("percent", Decimal("10.0")),
        due_date=dt.date(2026, 1, 2),
        custom_fields={"hs_purchase_order_number": "PO-1"},
        status=InvoiceStatus.OPEN,
    )
    b = Invoice(
        currency="USD",
        lines=(LineItem("A", Decimal("2"), Decimal("150")),),
        discount=Discount("percent", Decimal("10")),
        due_date=dt.date(2026, 1, 2),
        po_number="PO-1",
        status=InvoiceStatus.PAID,
    )
    snap_a = invoice_snapshot(a, Side.HUBSPOT, settings)
    assert snap_a == invoice_snapshot(b, Side.HUBSPOT, settings)  # paid is not a synced field
    assert snapshot_hash(snap_a) == snapshot_hash(invoice_snapshot(b, Side.HUBSPOT, settings))
    assert (
        snap_a["lines"][0]["quantity"] == "2"
        and snap_a["custom:hs_purchase_order_number"] == "PO-1"
    )
    assert (
        dec(Decimal("0.00")) == "0" and dec(Decimal("-0")) == "0" and dec(Decimal("1E+2")) == "100"
    )
    assert equivalent("memo", "", None)
    assert not equivalent("due_date", "2026-01-01", "2026-01-02")


def test_sync_properties_and_counterparts_are_read_from_context() -> None:
    inv = Invoice(
        currency="USD",
        context={
            "invoice.ledgerbridge_sync_status": "synced",
            "invoice.qbo_invoice_id": "145",
            "invoice.qbo_doc_number": "1045",
        },
    )
    from ledgerbridge.domain import SyncStatus

    assert not sync_properties_differ(inv, SyncStatus.SYNCED, "145", "1045")
    assert not sync_properties_differ(inv, SyncStatus.SYNCED, None, None)  # unknown ids never blank
    assert sync_properties_differ(inv, SyncStatus.FAILED, "145", "1045")
    assert sync_properties_differ(inv, SyncStatus.SYNCED, "146", "1045")
    assert counterpart_hint(inv, Side.HUBSPOT) == "145"
    qbo = Invoice(currency="USD", context={"ledgerbridge.key": external_key("10042")})
    assert counterpart_hint(qbo, Side.QUICKBOOKS) == "10042"
    assert counterpart_hint(Invoice(currency="USD"), Side.QUICKBOOKS) is None


async def test_keyed_locks_serialise_the_same_key_only() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def worker(name: str, *keys: str) -> None:
        async with locks.hold(*keys):
            order.append(f"{name}+")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append(f"{name}-")

    await asyncio.gather(worker("a", "k1"), worker("b", "k1", "k2"), worker("c", "k3"))
    # a and b share k1: never interleaved; c is independent and may run alongside.
    a, b = order.index("a+"), order.index("b+")
    first, second = ("a", "b") if a < b else ("b", "a")
    assert order.index(f"{first}-") < order.index(f"{second}+")
    assert order.index("c+") < order.index("c-")
    assert not locks._locks and not locks._users
