"""The planner: from both sides' current records, link and settings to a plan. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from ledgerbridge.domain import (
    Customer,
    Discount,
    Invoice,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentApplication,
    Side,
    SyncStatus,
)
from ledgerbridge.engine.decisions import (
    Audit,
    CreateLedgerInvoice,
    CreateLedgerPayment,
    EnsureCustomer,
    EnsureItems,
    UpdateCrmInvoice,
    UpdateLedgerInvoice,
    UpsertCrmInvoice,
    UpsertCrmPayment,
    VoidLedgerInvoice,
)
from ledgerbridge.engine.fieldmap import (
    PO_PROPERTY,
    CustomFieldMapping,
    DocNumberStrategy,
    SyncSettings,
)
from ledgerbridge.engine.filters import FilterOp, FilterRule
from ledgerbridge.engine.payments import PaymentInput, plan_payment
from ledgerbridge.engine.planner import InvoiceInput, LedgerInfo, plan_invoice
from ledgerbridge.engine.ports import INVOICE, PAYMENT, Link, RecordKey
from ledgerbridge.engine.snapshot import invoice_snapshot

CONN = 7
USD_ONLY = LedgerInfo("USD", False, {})
HS_KEY = RecordKey(CONN, INVOICE, Side.HUBSPOT, "hs-1")
QBO_KEY = RecordKey(CONN, INVOICE, Side.QUICKBOOKS, "q-1")


def hs_invoice(**changes: object) -> Invoice:
    inv = Invoice(
        currency="USD",
        lines=(
            LineItem(
                "Consulting hour", Decimal("10"), Decimal("150.00"), sku="CONS-HR", product_id="p1"
            ),
            LineItem(
                "Support plan", Decimal("1"), Decimal("89.99"), sku="SUP-PRO", product_id="p2"
            ),
        ),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="Ada@Acme.example", first_name="Ada", company_name="Acme", id="c1"),
        number="1001",
        issue_date=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 10, 31),
        discount=Discount("percent", Decimal("10")),
        custom_fields={PO_PROPERTY: "PO-4100"},
        id="hs-1",
        version="v1",
        origin=Side.HUBSPOT,
    )
    return replace(inv, **changes)  # type: ignore[arg-type]


def qbo_from(hs: Invoice, **changes: object) -> Invoice:
    """How the QBO connector would read back the invoice created from `hs`."""
    lines = tuple(
        replace(line, product_id=f"item-{i}", name=f"{line.name} (QBO)")
        for i, line in enumerate(hs.lines)
    )
    inv = replace(
        hs,
        lines=lines,
        id="q-1",
        version="0",
        number="1045",
        custom_fields={"PO Number": hs.custom_fields.get(PO_PROPERTY, "")},
        customer=replace(hs.customer, id="qc-9") if hs.customer else None,
        origin=None,
    )
    return replace(inv, **changes)  # type: ignore[arg-type]


def link_for(
    hs: Invoice, qbo: Invoice, settings: SyncSettings, origin: Side = Side.HUBSPOT
) -> Link:
    return Link(
        CONN,
        INVOICE,
        hs.id,
        qbo.id,
        base={
            "hubspot": invoice_snapshot(hs, Side.HUBSPOT, settings),
            "quickbooks": invoice_snapshot(qbo, Side.QUICKBOOKS, settings),
        },
        hubspot_version=hs.version,
        qbo_version=qbo.version,
        extra={"origin": origin.value, "customer_qbo_id": "qc-9"},
    )


def plan(
    hs: Invoice | None,
    qbo: Invoice | None = None,
    link: Link | None = None,
    settings: SyncSettings | None = None,
    info: LedgerInfo = USD_ONLY,
    key: RecordKey = HS_KEY,
):
    return plan_invoice(InvoiceInput(key, hs, qbo, link, settings or SyncSettings(), info))


# ---- HubSpot -> QuickBooks, first sync ---------------------------------------------------------
def test_open_hubspot_invoice_plans_customer_items_then_invoice() -> None:
    p = plan(hs_invoice())
    assert p.decision.status is SyncStatus.SYNCED
    assert [type(op) for op in p.ops] == [EnsureItems, EnsureCustomer, CreateLedgerInvoice]
    create = p.ops[2]
    assert isinstance(create, CreateLedgerInvoice)
    assert create.invoice.number is None  # default: QBO assigns the DocNumber
    assert create.custom_fields == {"PO Number": "PO-4100"}
    assert create.external_key == "hubspot-invoice:hs-1"
    assert create.invoice.id is None
    assert p.action == "create" and p.origin is Side.HUBSPOT
    assert p.amount == Decimal("1430.99")  # (1500 + 89.99) - 10% (158.999 -> 159.00)
    assert p.base_hubspot == p.base_quickbooks


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (DocNumberStrategy.HUBSPOT_NUMBER, "1001"),
        (DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER, "HS-1001"),
    ],
)
def test_doc_number_strategy(strategy: DocNumberStrategy, expected: str) -> None:
    p = plan(hs_invoice(), settings=SyncSettings(doc_number=strategy))
    create = p.ops[-1]
    assert isinstance(create, CreateLedgerInvoice) and create.invoice.number == expected


def test_doc_number_too_long_fails_alone() -> None:
    settings = SyncSettings(
        doc_number=DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER, doc_number_prefix="LONG-PREFIX-"
    )
    p = plan(hs_invoice(number="1234567890123"), settings=settings)
    assert p.decision.status is SyncStatus.FAILED and p.decision.code == "doc_number_too_long"
    assert not p.ops


def test_drafts_are_not_tracked_and_voided_before_sync_is_excluded() -> None:
    assert plan(hs_invoice(status=InvoiceStatus.DRAFT)).decision.status is None
    voided = plan(hs_invoice(status=InvoiceStatus.VOIDED))
    assert voided.decision.status is SyncStatus.EXCLUDED  # its payments stop waiting for it
    assert voided.decision.message == "Voided in HubSpot before it was synced"
    assert not voided.ops


def test_excluded_by_filter_names_the_rule() -> None:
    settings = SyncSettings(filters=[FilterRule(field="amount", op=FilterOp.GTE, value="5000")])
    p = plan(hs_invoice(), settings=settings)
    assert p.decision.status is SyncStatus.EXCLUDED
    assert (
        p.decision.message
        == "Excluded by sync filter: Amount is at least 5000 (this invoice: 1430.99)"
    )
    assert not p.ops


def test_eur_into_usd_only_company_fails_visibly_and_plans_nothing() -> None:
    p = plan(hs_invoice(currency="EUR"))
    assert p.decision.status is SyncStatus.FAILED
    assert p.decision.category == "validation"
    assert p.decision.hint == (
        "QuickBooks company is USD-only; turn on multicurrency in QuickBooks or exclude EUR "
        "invoices with a sync filter"
    )
    assert not p.ops
    assert (
        plan(hs_invoice(currency="EUR"), info=LedgerInfo("USD", True, {})).decision.status
        is SyncStatus.SYNCED
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"customer": None}, "missing_contact"),
        ({"customer": Customer(first_name="Ada", id="c1")}, "missing_email"),
        ({"lines": ()}, "no_lines"),
        ({"lines": (LineItem("Returns", Decimal("-2"), Decimal("10")),)}, "negative_quantity"),
        ({"discount": Discount("amount", Decimal("99999"))}, "bad_discount"),
        ({"discount": Discount("percent", Decimal("150"))}, "bad_discount"),
    ],
)
def test_validation_failures_have_hints(changes: dict[str, object], code: str) -> None:
    p = plan(hs_invoice(**changes))
    assert p.decision.status is SyncStatus.FAILED
    assert p.decision.code == code
    assert p.decision.hint
    assert not p.ops


def test_custom_fields_resolve_to_definition_ids() -> None:
    info = LedgerInfo("USD", False, {"po number": "2", "2": "2"})
    create = plan(hs_invoice(), info=info).ops[-1]
    assert isinstance(create, CreateLedgerInvoice) and create.custom_fields == {"2": "PO-4100"}


def test_mapped_custom_field_missing_in_quickbooks_is_a_config_failure() -> None:
    info = LedgerInfo("USD", False, {"crew #": "1", "1": "1"})
    p = plan(hs_invoice(), info=info)
    assert p.decision.status is SyncStatus.FAILED and p.decision.category == "config"
    assert "PO Number" in (p.decision.hint or "")


def test_custom_field_value_too_long() -> None:
    p = plan(hs_invoice(custom_fields={PO_PROPERTY: "X" * 40}))
    assert p.decision.code == "custom_field_too_long"


def test_hubspot_to_qbo_switched_off() -> None:
    settings = SyncSettings.model_validate({"invoices": {"hubspot_to_qbo": False}})
    assert plan(hs_invoice(), settings=settings).decision.status is None


# ---- QuickBooks -> HubSpot, first sync ---------------------------------------------------------
def test_qbo_origin_invoice_is_upserted_into_hubspot() -> None:
    qbo = qbo_from(hs_invoice(), id="q-77", origin=Side.QUICKBOOKS)
    p = plan(None, qbo, key=RecordKey(CONN, INVOICE, Side.QUICKBOOKS, "q-77"))
    assert p.decision.status is SyncStatus.SYNCED
    (op,) = p.ops
    assert isinstance(op, UpsertCrmInvoice) and op.qbo_id == "q-77"
    assert op.invoice.custom_fields == {PO_PROPERTY: "PO-4100"}
    assert op.invoice.po_number == "PO-4100"
    assert p.origin is Side.QUICKBOOKS


def test_qbo_customer_without_email_fails() -> None:
    qbo = qbo_from(hs_invoice(), customer=Customer(company_name="No Mail Inc", id="qc-1"))
    p = plan(None, qbo, key=QBO_KEY)
    assert p.decision.status is SyncStatus.FAILED and p.decision.code == "missing_email"


def test_qbo_invoice_created_by_us_is_not_mirrored_back() -> None:
    qbo = qbo_from(hs_invoice(), origin=Side.HUBSPOT)
    assert plan(None, qbo, key=QBO_KEY).decision.status is None


# ---- linked invoices -------------------------------------------------------------------------
def test_linked_and_unchanged_is_in_sync() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    p = plan(hs, qbo, link_for(hs, qbo, settings))
    assert p.decision.status is SyncStatus.SYNCED and not p.ops and p.action == "none"


def test_qbo_due_date_change_flows_to_hubspot() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    link = link_for(hs, qbo, settings)
    p = plan(hs, replace(qbo, due_date=dt.date(2026, 12, 15), version="1"), link)
    (op,) = p.ops
    assert isinstance(op, UpdateCrmInvoice)
    assert op.fields == ("due_date",) and op.invoice.due_date == dt.date(2026, 12, 15)
    assert p.base_hubspot is not None and p.base_hubspot["due_date"] == "2026-12-15"


def test_hubspot_line_change_updates_qbo_with_items_resolved_again() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    link = link_for(hs, qbo, settings)
    new_lines = (
        *hs.lines,
        LineItem("Training seat", Decimal("2"), Decimal("249.50"), sku="TRN-SEAT"),
    )
    p = plan(replace(hs, lines=new_lines, version="v2"), qbo, link)
    assert [type(op) for op in p.ops] == [EnsureItems, UpdateLedgerInvoice]
    update = p.ops[1]
    assert isinstance(update, UpdateLedgerInvoice)
    assert update.fields == ("lines",) and update.item_ids is None and update.customer_id == "qc-9"
    assert update.version == "0" and len(update.invoice.lines) == 3
    assert update.custom_fields == {"PO Number": "PO-4100"}


def test_echo_of_our_own_write_is_not_a_change() -> None:
    """The QBO side reads back differently (item names), but its version is the one we wrote:
    no change, whatever the translation looks like."""
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs, memo="QBO adds a memo on its own")
    link = link_for(hs, qbo_from(hs), settings)
    assert not plan(hs, qbo, link).ops


def test_line_item_edit_under_the_same_invoice_version_is_still_a_change() -> None:
    """HubSpot keeps line items and discounts in records of their own: editing them leaves the
    invoice's version as it was, so the stored base, not the version, decides."""
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    link = link_for(hs, qbo, settings)
    edited = replace(
        hs,
        lines=(replace(hs.lines[0], quantity=Decimal("12")), hs.lines[1]),
        discount=Discount("percent", Decimal("15")),
    )  # same version "v1"
    p = plan(edited, qbo, link)
    update = next(op for op in p.ops if isinstance(op, UpdateLedgerInvoice))
    assert set(update.fields) == {"lines", "discount"}
    # A plain property under the same version stays an echo (our own write read back).
    assert not plan(replace(hs, memo="read back differently"), qbo, link).ops


def test_both_changed_origin_wins_and_is_audited() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    link = link_for(hs, qbo, settings)
    p = plan(
        replace(hs, memo="from hubspot", version="v2"),
        replace(qbo, memo="from qbo", version="1"),
        link,
    )
    kinds = [type(op) for op in p.ops]
    assert kinds == [Audit, UpdateLedgerInvoice]
    audit = p.ops[0]
    assert isinstance(audit, Audit) and audit.conflict.overwritten == "from qbo"


def test_void_in_hubspot_voids_in_qbo() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    p = plan(
        replace(hs, status=InvoiceStatus.VOIDED, version="v2"), qbo, link_for(hs, qbo, settings)
    )
    (op,) = p.ops
    assert isinstance(op, VoidLedgerInvoice) and op.qbo_id == "q-1"


def test_counterpart_deleted_fails_with_hint() -> None:
    settings = SyncSettings()
    hs = hs_invoice()
    qbo = qbo_from(hs)
    p = plan(hs, None, link_for(hs, qbo, settings))
    assert p.decision.status is SyncStatus.FAILED and p.decision.category == "not_found"
    assert not p.ops


def test_adoption_of_counterpart_found_by_natural_key_writes_nothing_when_equal() -> None:
    hs = hs_invoice()
    qbo = qbo_from(hs)
    p = plan(hs, qbo, None)
    assert p.decision.status is SyncStatus.SYNCED
    assert not [op for op in p.ops if not isinstance(op, Audit)]
    assert p.action == "match" and p.qbo_id == "q-1"


# ---- payments --------------------------------------------------------------------------------
def qbo_payment(*apps: tuple[str, str]) -> Payment:
    return Payment(
        amount=sum((Decimal(a) for _, a in apps), Decimal(0)),
        currency="USD",
        date=dt.date(2026, 11, 2),
        method="check",
        reference="1234",
        id="pay-1",
        applications=tuple(PaymentApplication(i, Decimal(a)) for i, a in apps),
    )


def inv_link(hs_id: str, qbo_id: str) -> Link:
    return Link(
        CONN, INVOICE, hs_id, qbo_id, extra={"origin": "hubspot", "customer_qbo_id": "qc-9"}
    )


def test_qbo_payment_across_two_invoices_becomes_two_hubspot_payments() -> None:
    key = RecordKey(CONN, PAYMENT, Side.QUICKBOOKS, "pay-1")
    payment = qbo_payment(("q-1", "100.00"), ("q-2", "50.50"))
    links = {"q-1": inv_link("hs-1", "q-1"), "q-2": inv_link("hs-2", "q-2")}
    p = plan_payment(PaymentInput(key, payment, None, links, frozenset(), SyncSettings()))
    assert p.decision.status is SyncStatus.SYNCED
    assert [
        (op.hubspot_invoice_id, op.amount, op.external_key)
        for op in p.ops
        if isinstance(op, UpsertCrmPayment)
    ] == [
        ("hs-1", Decimal("100.00"), "qbo-payment:pay-1:q-1"),
        ("hs-2", Decimal("50.50"), "qbo-payment:pay-1:q-2"),
    ]


def test_qbo_payment_waits_for_its_invoice() -> None:
    key = RecordKey(CONN, PAYMENT, Side.QUICKBOOKS, "pay-1")
    payment = qbo_payment(("q-1", "100.00"))
    p = plan_payment(PaymentInput(key, payment, None, {"q-1": None}, frozenset(), SyncSettings()))
    assert p.decision.status is SyncStatus.BLOCKED
    assert p.decision.blocked_on == RecordKey(CONN, INVOICE, Side.QUICKBOOKS, "q-1")
    assert p.wake == (RecordKey(CONN, INVOICE, Side.QUICKBOOKS, "q-1"),)
    assert not p.ops


def test_qbo_payment_already_mirrored_is_in_sync() -> None:
    from ledgerbridge.engine.payments import payment_hash

    key = RecordKey(CONN, PAYMENT, Side.QUICKBOOKS, "pay-1")
    payment = qbo_payment(("q-1", "100.00"))
    link = Link(
        CONN, PAYMENT, None, "pay-1", qbo_hash=payment_hash(payment), extra={"origin": "quickbooks"}
    )
    p = plan_payment(
        PaymentInput(
            key, payment, link, {"q-1": inv_link("hs-1", "q-1")}, frozenset(), SyncSettings()
        )
    )
    assert p.decision.status is SyncStatus.SYNCED and not p.ops


def test_hubspot_payment_becomes_qbo_payment_on_the_linked_invoice() -> None:
    key = RecordKey(CONN, PAYMENT, Side.HUBSPOT, "hp-1")
    payment = Payment(
        amount=Decimal("75.25"),
        currency="USD",
        date=dt.date(2026, 11, 3),
        processor="hs_payments",
        applications=(PaymentApplication("hs-1", Decimal("75.25")),),
        id="hp-1",
    )
    p = plan_payment(
        PaymentInput(
            key, payment, None, {"hs-1": inv_link("hs-1", "q-1")}, frozenset(), SyncSettings()
        )
    )
    (op,) = p.ops
    assert isinstance(op, CreateLedgerPayment)
    assert op.customer_id == "qc-9" and op.external_key == "hubspot-payment:hp-1"
    assert op.payment.applications == (PaymentApplication("q-1", Decimal("75.25")),)


def test_hubspot_payments_we_recorded_or_unsettled_are_skipped() -> None:
    key = RecordKey(CONN, PAYMENT, Side.HUBSPOT, "hp-1")
    ours = Payment(
        amount=Decimal(1),
        currency="USD",
        date=dt.date(2026, 1, 1),
        processor="quickbooks",
        applications=(PaymentApplication("hs-1", Decimal(1)),),
    )
    links = {"hs-1": inv_link("hs-1", "q-1")}
    assert (
        plan_payment(
            PaymentInput(key, ours, None, links, frozenset(), SyncSettings())
        ).decision.status
        is None
    )
    processing = replace(ours, processor="hs_payments", status="processing")
    assert (
        plan_payment(
            PaymentInput(key, processing, None, links, frozenset(), SyncSettings())
        ).decision.status
        is None
    )


def test_payment_on_excluded_invoice_is_excluded() -> None:
    key = RecordKey(CONN, PAYMENT, Side.QUICKBOOKS, "pay-1")
    payment = qbo_payment(("q-1", "10.00"))
    p = plan_payment(
        PaymentInput(key, payment, None, {"q-1": None}, frozenset({"q-1"}), SyncSettings())
    )
    assert p.decision.status is SyncStatus.EXCLUDED


def test_hubspot_payment_split_pro_rata_when_shares_unknown() -> None:
    key = RecordKey(CONN, PAYMENT, Side.HUBSPOT, "hp-2")
    payment = Payment(
        amount=Decimal("100.00"),
        currency="USD",
        date=dt.date(2026, 11, 3),
        processor="byo_stripe",
        applications=(
            PaymentApplication("hs-1", Decimal("0")),
            PaymentApplication("hs-2", Decimal("0")),
        ),
    )
    links = {"hs-1": inv_link("hs-1", "q-1"), "hs-2": inv_link("hs-2", "q-2")}
    (op,) = plan_payment(PaymentInput(key, payment, None, links, frozenset(), SyncSettings())).ops
    assert isinstance(op, CreateLedgerPayment)
    assert [a.amount for a in op.payment.applications] == [Decimal("50.00"), Decimal("50.00")]
    assert op.payment.amount == Decimal("100.00")


def test_custom_mapping_direction_hubspot_to_qbo_only() -> None:
    from ledgerbridge.engine.fieldmap import Direction

    settings = SyncSettings(
        custom_mappings=[
            CustomFieldMapping(
                hubspot_property=PO_PROPERTY,
                qbo_field="PO Number",
                direction=Direction.HUBSPOT_TO_QBO,
            )
        ]
    )
    hs = hs_invoice()
    qbo = qbo_from(hs)
    link = link_for(hs, qbo, settings)
    edited = replace(qbo, custom_fields={"PO Number": "PO-EDITED"}, version="1")
    p = plan(hs, edited, link, settings=settings)
    # QBO edit of a HubSpot->QBO field is written back over, and reported
    assert [type(op) for op in p.ops] == [Audit, UpdateLedgerInvoice]
    update = p.ops[1]
    assert isinstance(update, UpdateLedgerInvoice) and update.custom_fields == {
        "PO Number": "PO-4100"
    }
