"""compare_invoice / compare_payment, field by field: equal -> nothing; different -> one
difference carrying both values; a documented exception -> allowed (and named)."""

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
    LineKind,
    Payment,
    PaymentApplication,
    Side,
)
from ledgerbridge.engine.compare import (
    NOTE_DIRECTION_NONE,
    NOTE_HUBSPOT_REFUND,
    NOTE_NO_METHOD,
    NOTE_OVERPAID,
    NOTE_QBO_DELETED,
    NOTE_REF_TRUNCATED,
    NOTE_REFUNDED_CREDIT,
    NOTE_VOIDED,
    allowed_invoice_differences,
    allowed_payment_differences,
    compare_invoice,
    compare_payment,
)
from ledgerbridge.engine.fieldmap import (
    CustomFieldMapping,
    Direction,
    FieldMapping,
    SyncSettings,
)
from ledgerbridge.engine.ports import LEDGER_TOTAL

D = Decimal
SETTINGS = SyncSettings()


def hs_invoice(**changes: object) -> Invoice:
    base = Invoice(
        currency="USD",
        lines=(
            LineItem("Widget", D("2"), D("50.00"), description="Blue widget", sku="W-1"),
            LineItem("Setup fee", D("1"), D("10"), kind=LineKind.FEE),
        ),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="Ada@Example.com", first_name="Ada"),
        number="INV-1",
        issue_date=dt.date(2026, 11, 1),
        due_date=dt.date(2026, 12, 1),
        discount=Discount("amount", D("5")),
        po_number="PO-7",
        memo="Thanks",
        custom_fields={"hs_purchase_order_number": "PO-7"},
        amount_paid=D("0"),
        balance_due=D("105.00"),
        context={"invoice.hs_amount_billed": "105.00"},
        id="hs-1",
        origin=Side.HUBSPOT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def qbo_invoice(**changes: object) -> Invoice:
    base = Invoice(
        currency="USD",
        lines=(
            # QBO shows its item's names; a HubSpot fee is a plain item line.
            LineItem("Widget (item)", D("2"), D("50"), product_id="11"),
            LineItem("Setup fee", D("1.00"), D("10.00"), product_id="12"),
        ),
        status=InvoiceStatus.OPEN,
        customer=Customer(email="ada@example.com ", id="58", display_name="Ada"),
        number="1001",
        issue_date=dt.date(2026, 11, 1),
        due_date=dt.date(2026, 12, 1),
        discount=Discount("amount", D("5.00")),
        memo=" Thanks ",
        custom_fields={"PO Number": "PO-7"},
        amount_paid=D("0"),
        balance_due=D("105"),
        context={LEDGER_TOTAL: "105.00"},
        id="q-1",
        origin=Side.HUBSPOT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_identical_invoices_agree() -> None:
    assert compare_invoice(hs_invoice(), qbo_invoice(), settings=SETTINGS) == []
    assert allowed_invoice_differences(hs_invoice(), qbo_invoice(), settings=SETTINGS) == []


def _one(hs: Invoice, qbo: Invoice, settings: SyncSettings = SETTINGS) -> tuple[str, ...]:
    diffs = compare_invoice(hs, qbo, settings=settings)
    assert len(diffs) == 1, diffs
    d = diffs[0]
    return (d.field, d.hubspot, d.quickbooks)


def test_customer() -> None:
    other = qbo_invoice(customer=Customer(email="bob@example.com", id="59"))
    assert _one(hs_invoice(), other) == ("customer", "ada@example.com", "bob@example.com")


@pytest.mark.parametrize(
    ("field", "hs_value", "qbo_value", "expected"),
    [
        ("issue_date", dt.date(2026, 11, 2), dt.date(2026, 11, 1), ("2026-11-02", "2026-11-01")),
        ("due_date", dt.date(2026, 12, 15), dt.date(2026, 12, 1), ("2026-12-15", "2026-12-01")),
        ("due_date", None, dt.date(2026, 12, 1), (None, "2026-12-01")),
        ("memo", "New memo", "Thanks", ("New memo", "Thanks")),
    ],
)
def test_dates_and_memo(field: str, hs_value: object, qbo_value: object, expected: tuple) -> None:
    hs = hs_invoice(**{field: hs_value})
    qbo = qbo_invoice(**{field: qbo_value})
    assert _one(hs, qbo) == (field, *expected)


def test_empty_memo_is_no_memo() -> None:
    assert compare_invoice(hs_invoice(memo=""), qbo_invoice(memo=None), settings=SETTINGS) == []


def test_po_number() -> None:
    qbo = qbo_invoice(custom_fields={"PO Number": "PO-8"})
    assert _one(hs_invoice(), qbo) == ("custom:hs_purchase_order_number", "PO-7", "PO-8")


def test_custom_mapping_by_definition_id() -> None:
    settings = SyncSettings(
        custom_mappings=[
            CustomFieldMapping(hubspot_property="project_code", qbo_definition_id="2"),
        ]
    )
    hs = hs_invoice(custom_fields={"project_code": "P-1"})
    assert compare_invoice(hs, qbo_invoice(custom_fields={"2": "P-1"}), settings=settings) == []
    qbo = qbo_invoice(custom_fields={"2": "P-2"})
    assert _one(hs, qbo, settings) == ("custom:project_code", "P-1", "P-2")


def test_custom_mapping_direction_none_is_allowed() -> None:
    settings = SyncSettings(
        custom_mappings=[
            CustomFieldMapping(
                hubspot_property="hs_purchase_order_number",
                qbo_field="PO Number",
                direction=Direction.NONE,
            )
        ]
    )
    qbo = qbo_invoice(custom_fields={"PO Number": "other"})
    assert compare_invoice(hs_invoice(), qbo, settings=settings) == []
    allowed = allowed_invoice_differences(hs_invoice(), qbo, settings=settings)
    assert [(d.field, d.note) for d in allowed] == [
        ("custom:hs_purchase_order_number", NOTE_DIRECTION_NONE)
    ]


def test_memo_direction_none_is_allowed() -> None:
    mappings = [
        m if m.field != "memo" else FieldMapping(**{**m.model_dump(), "direction": "none"})
        for m in SETTINGS.field_mappings
    ]
    settings = SyncSettings(field_mappings=mappings)
    assert compare_invoice(hs_invoice(memo="x"), qbo_invoice(), settings=settings) == []


def test_lines_differ_by_quantity() -> None:
    qbo = qbo_invoice(
        lines=(LineItem("Widget", D("3"), D("50")), LineItem("Setup fee", D("1"), D("10"))),
        context={LEDGER_TOTAL: "105.00"},
    )
    field, hs_text, qbo_text = _one(hs_invoice(), qbo)
    assert field == "lines"
    assert hs_text == "2 x 50; 1 x 10"
    assert qbo_text == "3 x 50; 1 x 10"


def test_line_removed_changes_lines_and_totals() -> None:
    qbo = qbo_invoice(
        lines=(LineItem("Widget", D("2"), D("50")),),
        context={LEDGER_TOTAL: "95.00"},
        balance_due=D("95.00"),
    )
    fields = [d.field for d in compare_invoice(hs_invoice(), qbo, settings=SETTINGS)]
    assert fields == ["lines", "total", "balance_due"]


def test_line_names_and_descriptions_are_not_compared() -> None:
    qbo = qbo_invoice(
        lines=(
            LineItem("Something else", D("2"), D("50"), description="x"),
            LineItem("Fee", D("1"), D("10")),
        )
    )
    assert compare_invoice(hs_invoice(), qbo, settings=SETTINGS) == []


def test_discount() -> None:
    qbo = qbo_invoice(discount=Discount("amount", D("6")), context={LEDGER_TOTAL: "105.00"})
    assert _one(hs_invoice(), qbo) == ("discount", "5.00", "6.00")
    no_discount = [
        d.field
        for d in compare_invoice(
            hs_invoice(discount=None, context={"invoice.hs_amount_billed": "110"}),
            qbo_invoice(discount=Discount("amount", D("0")), context={LEDGER_TOTAL: "110"}),
            settings=SETTINGS,
        )
    ]
    assert "discount" not in no_discount


def test_percent_discount_written_as_its_amount_is_the_same_discount() -> None:
    # 110 subtotal, 10% = 11.00; HubSpot (with a fee present) holds it as a fixed 11.00.
    hs = hs_invoice(
        discount=Discount("amount", D("11.00")),
        context={"invoice.hs_amount_billed": "99.00"},
        balance_due=D("99.00"),
    )
    qbo = qbo_invoice(
        discount=Discount("percent", D("10")),
        context={LEDGER_TOTAL: "99.00"},
        balance_due=D("99.00"),
    )
    assert compare_invoice(hs, qbo, settings=SETTINGS) == []
    qbo_12 = replace(qbo, discount=Discount("percent", D("12")))
    assert "discount" in [d.field for d in compare_invoice(hs, qbo_12, settings=SETTINGS)]


def test_total_names_both_amounts() -> None:
    qbo = qbo_invoice(context={LEDGER_TOTAL: "105.01"})
    assert _one(hs_invoice(), qbo) == ("total", "105.00", "105.01")


def test_currency() -> None:
    fields = [
        d.field
        for d in compare_invoice(hs_invoice(), qbo_invoice(currency="EUR"), settings=SETTINGS)
    ]
    assert fields == ["currency"]


def test_amount_paid_and_balance() -> None:
    qbo = qbo_invoice(amount_paid=D("40"), balance_due=D("65"))
    diffs = compare_invoice(hs_invoice(), qbo, settings=SETTINGS)
    assert [(d.field, d.hubspot, d.quickbooks) for d in diffs] == [
        ("amount_paid", "0.00", "40.00"),
        ("balance_due", "105.00", "65.00"),
    ]
    hs = hs_invoice(amount_paid=D("40"), balance_due=D("65"))
    assert compare_invoice(hs, qbo, settings=SETTINGS) == []


def test_refund_owned_by_hubspot_is_allowed_exactly() -> None:
    # QBO counts 40 paid; HubSpot refunded 15 of it (HubSpot owns refunds).
    hs = hs_invoice(amount_paid=D("25"), balance_due=D("80"))
    qbo = qbo_invoice(amount_paid=D("40"), balance_due=D("65"))
    owned = D("15")
    assert compare_invoice(hs, qbo, settings=SETTINGS, hubspot_owned_refunds=owned) == []
    allowed = allowed_invoice_differences(hs, qbo, settings=SETTINGS, hubspot_owned_refunds=owned)
    assert {(d.field, d.note) for d in allowed} == {
        ("amount_paid", NOTE_HUBSPOT_REFUND),
        ("balance_due", NOTE_HUBSPOT_REFUND),
    }
    # A refund that does not explain the gap exactly is a disagreement.
    fields = [
        d.field for d in compare_invoice(hs, qbo, settings=SETTINGS, hubspot_owned_refunds=D("10"))
    ]
    assert fields == ["amount_paid", "balance_due"]


def test_overpaid_invoice_is_allowed_exactly() -> None:
    # HubSpot counts 125 paid on 105 billed; QBO applied 105 and keeps 20 as customer credit.
    hs = hs_invoice(amount_paid=D("125"), balance_due=D("-20"))
    qbo = qbo_invoice(amount_paid=D("105"), balance_due=D("0"))
    assert compare_invoice(hs, qbo, settings=SETTINGS) == []
    allowed = allowed_invoice_differences(hs, qbo, settings=SETTINGS)
    assert {(d.field, d.hubspot, d.quickbooks, d.note) for d in allowed} == {
        ("amount_paid", "125.00", "105.00", NOTE_OVERPAID),
        ("balance_due", "-20.00", "0.00", NOTE_OVERPAID),
    }
    # QBO not paid in full: the extra HubSpot payment is not explained by QBO's limit.
    partly = qbo_invoice(amount_paid=D("90"), balance_due=D("15"))
    assert [d.field for d in compare_invoice(hs, partly, settings=SETTINGS)] == [
        "amount_paid",
        "balance_due",
    ]
    # HubSpot counting less than QBO is never an overpayment.
    less = hs_invoice(amount_paid=D("95"), balance_due=D("10"))
    assert [d.field for d in compare_invoice(less, qbo, settings=SETTINGS)] == [
        "amount_paid",
        "balance_due",
    ]


def test_refund_of_a_payment_partly_kept_as_credit_is_allowed_exactly() -> None:
    # 125 paid in HubSpot on 105 billed: QBO applied 105 and keeps 20 as credit. Then HubSpot
    # refunded 50: it counts 75 paid, QBO still 105 (a refund receipt does not reopen it).
    hs = hs_invoice(amount_paid=D("75"), balance_due=D("30"))
    qbo = qbo_invoice(amount_paid=D("105"), balance_due=D("0"))
    kept = {"hubspot_owned_refunds": D("50"), "hubspot_credit": D("20")}
    assert compare_invoice(hs, qbo, settings=SETTINGS, **kept) == []
    allowed = allowed_invoice_differences(hs, qbo, settings=SETTINGS, **kept)
    assert {(d.field, d.hubspot, d.quickbooks, d.note) for d in allowed} == {
        ("amount_paid", "75.00", "105.00", NOTE_REFUNDED_CREDIT),
        ("balance_due", "30.00", "0.00", NOTE_REFUNDED_CREDIT),
    }
    # The refund alone (the credit not counted) or a cent off is a disagreement.
    for refunds, credit in ((D("50"), D("0")), (D("50"), D("20.01")), (D("0"), D("20"))):
        found = compare_invoice(
            hs, qbo, settings=SETTINGS, hubspot_owned_refunds=refunds, hubspot_credit=credit
        )
        assert [d.field for d in found] == ["amount_paid", "balance_due"], (refunds, credit)
    # A refund smaller than the credit: HubSpot still counts more paid, by the difference.
    small = hs_invoice(amount_paid=D("115"), balance_due=D("-10"))
    assert (
        compare_invoice(
            small, qbo, settings=SETTINGS, hubspot_owned_refunds=D("10"), hubspot_credit=D("20")
        )
        == []
    )


def test_credit_alone_on_an_invoice_that_still_owes_is_a_disagreement() -> None:
    # HubSpot counts 60 paid; QBO applied 40 of that payment and keeps 20 as the customer's
    # credit although the invoice still owes 65 (e.g. it could not apply it): diverged, not a
    # documented difference (only an invoice QBO counts paid in full is "overpaid").
    hs = hs_invoice(amount_paid=D("60"), balance_due=D("45"))
    qbo = qbo_invoice(amount_paid=D("40"), balance_due=D("65"))
    found = compare_invoice(hs, qbo, settings=SETTINGS, hubspot_credit=D("20"))
    assert [d.field for d in found] == ["amount_paid", "balance_due"]


def test_voided_on_one_side_only() -> None:
    qbo = qbo_invoice(status=InvoiceStatus.VOIDED, balance_due=D("0"), context={LEDGER_TOTAL: "0"})
    diffs = compare_invoice(hs_invoice(), qbo, settings=SETTINGS)
    assert [(d.field, d.hubspot, d.quickbooks) for d in diffs] == [("voided", "open", "voided")]


def test_voided_both_sides_amounts_are_allowed() -> None:
    hs = hs_invoice(status=InvoiceStatus.VOIDED)
    qbo = qbo_invoice(
        status=InvoiceStatus.VOIDED,
        lines=(LineItem("Widget", D("0"), D("50")), LineItem("Setup fee", D("0"), D("10"))),
        balance_due=D("0"),
        context={LEDGER_TOTAL: "0"},
    )
    assert compare_invoice(hs, qbo, settings=SETTINGS) == []
    notes = {d.note for d in allowed_invoice_differences(hs, qbo, settings=SETTINGS)}
    assert notes == {NOTE_VOIDED}


# ---- payments ---------------------------------------------------------------------------------
def hs_payment(**changes: object) -> Payment:
    base = Payment(
        amount=D("40.00"),
        currency="USD",
        date=dt.date(2026, 11, 5),
        applications=(PaymentApplication("hs-1", D("40.00")),),
        method="check",
        reference="CHK-100",
        processor="quickbooks",
        id="hp-1",
        origin=Side.QUICKBOOKS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def qbo_payment(**changes: object) -> Payment:
    base = Payment(
        amount=D("100.00"),
        currency="USD",
        date=dt.date(2026, 11, 5),
        applications=(
            PaymentApplication("q-1", D("40")),
            PaymentApplication("q-2", D("60")),
        ),
        method="check",
        reference="CHK-100",
        id="qp-1",
        origin=Side.QUICKBOOKS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_payment_share_agrees() -> None:
    assert compare_payment(hs_payment(), qbo_payment(), invoice_id="q-1") == []


def _pone(hs: Payment, qbo: Payment) -> tuple[str, ...]:
    diffs = compare_payment(hs, qbo, invoice_id="q-1")
    assert len(diffs) == 1, diffs
    return (diffs[0].field, diffs[0].hubspot, diffs[0].quickbooks)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": D("41")}, ("amount", "41.00", "40.00")),
        ({"date": dt.date(2026, 11, 6)}, ("date", "2026-11-06", "2026-11-05")),
        ({"reference": "CHK-101"}, ("reference", "CHK-101", "CHK-100")),
        ({"method": "cash"}, ("method", "cash", "check")),
        ({"currency": "EUR"}, ("currency", "EUR", "USD")),
    ],
)
def test_payment_fields(changes: dict[str, object], expected: tuple[str, ...]) -> None:
    assert _pone(hs_payment(**changes), qbo_payment()) == expected


def test_payment_whole_amount_without_invoice() -> None:
    diffs = compare_payment(hs_payment(), qbo_payment())
    assert [(d.field, d.hubspot, d.quickbooks) for d in diffs] == [("amount", "40.00", "100.00")]


def test_payment_deleted_in_qbo_must_be_refunded_in_hubspot() -> None:
    gone = qbo_payment(status="deleted", amount=D("0"), applications=())
    assert _pone(hs_payment(), gone) == ("status", "succeeded", "voided or deleted")
    refunded = hs_payment(status="refunded")
    assert compare_payment(refunded, gone, invoice_id="q-1") == []
    notes = {d.note for d in allowed_payment_differences(refunded, gone, invoice_id="q-1")}
    assert notes == {NOTE_QBO_DELETED}


@pytest.mark.parametrize("status", ["refunded", "partially_refunded", "deleted"])
def test_refund_or_delete_in_hubspot_is_allowed(status: str) -> None:
    hs = hs_payment(status=status)
    assert compare_payment(hs, qbo_payment(), invoice_id="q-1") == []
    allowed = allowed_payment_differences(hs, qbo_payment(), invoice_id="q-1")
    assert [(d.field, d.note) for d in allowed] == [("status", NOTE_HUBSPOT_REFUND)]


def test_reference_truncated_by_qbo_is_allowed() -> None:
    long_ref = "REF-" + "9" * 30
    hs = hs_payment(reference=long_ref)
    qbo = qbo_payment(reference=long_ref[:21])
    assert compare_payment(hs, qbo, invoice_id="q-1") == []
    assert [d.note for d in allowed_payment_differences(hs, qbo, invoice_id="q-1")] == [
        NOTE_REF_TRUNCATED
    ]


def test_method_unknown_on_one_side_is_allowed() -> None:
    hs = hs_payment(method="other")
    qbo = qbo_payment(method="paypal")
    assert compare_payment(hs, qbo, invoice_id="q-1") == []
    assert [d.note for d in allowed_payment_differences(hs, qbo, invoice_id="q-1")] == [
        NOTE_NO_METHOD
    ]
