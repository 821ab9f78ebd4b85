"""HubSpot wire ⇄ canonical translation: totals agree with HubSpot's own arithmetic (line
items, then discounts, fees and taxes), round trips with Hypothesis over Decimal amounts,
contacts, context for filters, payments, cursor encoding."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot import translate_payments as payments_tr
from ledgerbridge.connectors.hubspot import translate_write as tw
from ledgerbridge.connectors.hubspot.feed import decode_cursor, encode_cursor
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

CENT = Decimal("0.01")


def money(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def hubspot_totals(line_props, discounts, fees, taxes) -> Decimal:
    """HubSpot's billed amount: line amounts, discounts on them, fees, then taxes."""

    def amount(p):
        gross = Decimal(p.get("quantity") or "1") * Decimal(p.get("price") or "0")
        if p.get("hs_discount_percentage"):
            return money(gross - gross * Decimal(p["hs_discount_percentage"]) / 100)
        return money(gross - Decimal(p.get("quantity") or "1") * Decimal(p.get("discount") or "0"))

    def adjust(objs, base):
        total = Decimal(0)
        for o in objs:
            v = Decimal(o["hs_value"])
            total += money(base * v / 100) if o["hs_type"] == "PERCENT" else v
        return total

    subtotal = sum((amount(p) for p in line_props), Decimal(0))
    d = adjust(discounts, subtotal)
    f = adjust(fees, subtotal - d)
    t = adjust(taxes, subtotal - d + f)
    return subtotal - d + f + t


def rec(i: int, props: dict) -> dict:
    return {"id": str(i), "properties": props}


def test_hubspot_invoice_with_everything():
    line_props = [
        {
            "name": "Consulting hour",
            "quantity": "3",
            "price": "150.00",
            "hs_sku": "CONS-HR",
            "hs_position_on_quote": "0",
            "hs_product_id": "901",
        },
        {
            "name": "Support plan",
            "quantity": "2",
            "price": "89.99",
            "hs_discount_percentage": "10",
            "hs_position_on_quote": "1",
        },
        {
            "name": "Training seat",
            "quantity": "4",
            "price": "249.50",
            "discount": "9.50",
            "hs_position_on_quote": "2",
        },
    ]
    discounts = [
        {"hs_label": "Loyalty", "hs_type": "PERCENT", "hs_value": "7.5", "hs_sort_order": "0"}
    ]
    fees = [{"hs_label": "Card fee", "hs_type": "PERCENT", "hs_value": "2.9", "hs_sort_order": "0"}]
    taxes = [
        {"hs_label": "Sales tax", "hs_type": "PERCENT", "hs_value": "8.25", "hs_sort_order": "0"}
    ]
    bundle = tr.InvoiceBundle(
        invoice=rec(
            77,
            {
                "hs_currency": "USD",
                "hs_invoice_status": "open",
                "hs_number": "INV-1001",
                "hs_invoice_date": "2024-05-01T00:00:00.000Z",
                "hs_due_date": "1717113600000",
                "hs_purchase_order_number": "PO-77",
                "hs_comments": "Thanks",
                "hs_amount_paid": "0",
                "hs_balance_due": "1000.00",
                "hs_lastmodifieddate": "2024-05-01T10:00:00.123Z",
                "hs_object_id": "77",
                "custom_region": "EMEA",
                "ledgerbridge_sync_status": "pending",
                "hs_createdate": "2024-05-01T09:00:00Z",
            },
        ),
        line_items=[rec(3, line_props[2]), rec(1, line_props[0]), rec(2, line_props[1])],
        contact=rec(
            501,
            {
                "email": "Ada@Acme.example",
                "firstname": "Ada",
                "lastname": "Lovelace",
                "lifecyclestage": "customer",
                "city": "London",
            },
        ),
        company=rec(601, {"name": "Acme Analytics", "industry": "Software"}),
        deal=rec(701, {"pipeline": "default", "dealstage": "closedwon"}),
        discounts=[rec(11, discounts[0])],
        fees=[rec(12, fees[0])],
        taxes=[rec(13, taxes[0])],
    )
    inv = tr.invoice_from_wire(bundle)
    assert inv.total == hubspot_totals(line_props, discounts, fees, taxes)
    assert [line.name for line in inv.lines] == [
        "Consulting hour",
        "Support plan",
        "Training seat",
        "Card fee",
        "Sales tax",
    ]
    assert [line.kind for line in inv.lines][-2:] == [LineKind.FEE, LineKind.TAX]
    assert inv.lines[1].amount() == Decimal("161.98")  # 2 × 89.99 less 10 %
    assert inv.lines[2].unit_price == Decimal("240.00")
    assert inv.discount is not None and inv.discount.kind == "amount"  # fixed: fees/taxes present
    assert inv.number == "INV-1001" and inv.po_number == "PO-77" and inv.memo == "Thanks"
    assert inv.issue_date == dt.date(2024, 5, 1) and inv.due_date == dt.date(2024, 5, 31)
    assert inv.customer == Customer(
        email="Ada@Acme.example",
        first_name="Ada",
        last_name="Lovelace",
        company_name="Acme Analytics",
        address=inv.customer.address,
        id="501",
    )
    assert inv.custom_fields == {
        "custom_region": "EMEA",
        "hs_purchase_order_number": "PO-77",
        "hs_comments": "Thanks",
        "hs_number": "INV-1001",
    }
    assert inv.context["deal.dealstage"] == "closedwon"
    assert inv.context["contact.lifecyclestage"] == "customer"
    assert inv.context["company.industry"] == "Software"
    assert inv.version == "2024-05-01T10:00:00.123Z"
    assert inv.origin is Side.HUBSPOT and inv.status is InvoiceStatus.OPEN


def test_single_percent_discount_stays_percent():
    bundle = tr.InvoiceBundle(
        invoice=rec(1, {"hs_currency": "eur", "hs_invoice_status": "draft"}),
        line_items=[rec(5, {"name": "A", "quantity": "1", "price": "99.99"})],
        discounts=[rec(6, {"hs_label": "D", "hs_type": "PERCENT", "hs_value": "15"})],
    )
    inv = tr.invoice_from_wire(bundle)
    assert inv.currency == "EUR" and inv.discount == Discount("percent", Decimal("15"))
    assert inv.total == Decimal("84.99")  # 99.99 - 15.00 (14.9985 rounded)


amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2, allow_nan=False
)
qtys = st.decimals(min_value=Decimal("1"), max_value=Decimal("50"), places=2, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.tuples(qtys, amounts), min_size=1, max_size=6),
    fees=st.lists(amounts, max_size=2),
    taxes=st.lists(amounts, max_size=2),
    discount=st.one_of(
        st.none(),
        st.decimals(min_value=Decimal("1"), max_value=Decimal("40"), places=1, allow_nan=False),
    ),
)
def test_canonical_to_hubspot_and_back_keeps_total(lines, fees, taxes, discount):
    invoice = Invoice(
        currency="USD",
        lines=tuple(
            [LineItem(name=f"P{i}", quantity=q, unit_price=p) for i, (q, p) in enumerate(lines)]
            + [
                LineItem(name=f"F{i}", quantity=Decimal(1), unit_price=v, kind=LineKind.FEE)
                for i, v in enumerate(fees)
            ]
            + [
                LineItem(name=f"T{i}", quantity=Decimal(1), unit_price=v, kind=LineKind.TAX)
                for i, v in enumerate(taxes)
            ]
        ),
        discount=Discount("percent", discount) if discount else None,
    )
    line_props = [
        tw.line_to_wire(line, "USD", n) for n, line in enumerate(tw.product_lines(invoice))
    ]
    adj = tw.adjustments_to_wire(invoice)
    # What HubSpot would bill for what we wrote equals the canonical total...
    assert hubspot_totals(line_props, adj["discounts"], adj["fees"], adj["taxes"]) == invoice.total
    # ...and reading it back gives the same total and lines.
    bundle = tr.InvoiceBundle(
        invoice=rec(1, {"hs_currency": "USD", "hs_invoice_status": "open"}),
        line_items=[rec(100 + n, p) for n, p in enumerate(line_props)],
        discounts=[rec(200, d) for d in adj["discounts"]],
        fees=[rec(300 + n, f) for n, f in enumerate(adj["fees"])],
        taxes=[rec(400 + n, t) for n, t in enumerate(adj["taxes"])],
    )
    back = tr.invoice_from_wire(bundle)
    assert back.total == invoice.total
    assert [(x.name, x.amount()) for x in back.lines] == [
        (x.name, x.amount()) for x in invoice.lines
    ]


def test_line_signature_ignores_formatting_only():
    a = {"name": "A", "quantity": "2", "price": "150.00", "hs_position_on_quote": "0"}
    b = {
        "name": "A",
        "quantity": "2.0",
        "price": "150",
        "hs_position_on_quote": "0",
        "amount": "300.00",
    }
    assert tw.line_signature(a) == tw.line_signature(b)
    assert tw.line_signature(a) != tw.line_signature({**a, "discount": "5"})
    assert tw.line_signature(a) != tw.line_signature({**a, "hs_position_on_quote": "1"})


def test_invoice_properties_for_fields():
    invoice = Invoice(
        currency="USD",
        due_date=dt.date(2024, 7, 1),
        po_number=None,
        memo="m",
        custom_fields={"custom_region": "EMEA", "ledgerbridge_sync_status": "x"},
    )
    props = tw.invoice_properties(invoice, ["due_date", "po_number", "memo", "custom_fields"])
    assert props == {
        "hs_due_date": "2024-07-01T00:00:00.000Z",
        "hs_purchase_order_number": "",
        "hs_comments": "m",
        "custom_region": "EMEA",
    }


def test_a_named_field_wins_over_the_stale_custom_value_read_with_the_rest():
    # A QBO edit of the memo and a custom field together: the custom fields still hold the
    # HubSpot memo as read (hs_comments is mappable); the new memo must be what is written.
    invoice = Invoice(
        currency="USD",
        memo="memo from QBO",
        po_number="PO-2",
        custom_fields={"hs_comments": "old memo", "hs_purchase_order_number": "PO-2"},
    )
    props = tw.invoice_properties(invoice, ["memo", "po_number", "custom_fields"])
    assert props["hs_comments"] == "memo from QBO"
    assert props["hs_purchase_order_number"] == "PO-2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T00:00:00Z", dt.date(2024, 5, 1)),
        ("2024-05-01T00:00:00.000Z", dt.date(2024, 5, 1)),
        ("1714521600000", dt.date(2024, 5, 1)),
        ("", None),
        (None, None),
    ],
)
def test_dates(value, expected):
    assert tr.parse_date(value) == expected


def test_payment_translation():
    payment = Payment(
        amount=Decimal("150.00"),
        currency="USD",
        date=dt.date(2024, 6, 1),
        applications=(PaymentApplication("266", Decimal("100.00")),),
        method="check",
        reference="CHK-1001",
        customer=Customer(email="ada@acme.example"),
    )
    props = payments_tr.payment_to_wire(payment, Decimal("100.00"), "7:payment:90:266")
    assert props["hs_initial_amount"] == "100.00"
    assert props["hs_processor_type"] == "quickbooks" and props["hs_latest_status"] == "succeeded"
    assert props["hs_payment_method_type"] == "check" and props["hs_reference_number"] == "CHK-1001"
    assert props[tr.PAYMENT_KEY] == "7:payment:90:266"
    back = payments_tr.payment_from_wire(
        rec(900, {**props, "hs_lastmodifieddate": "2024-06-01T00:00:01Z"}), ["55"]
    )
    assert back.amount == Decimal("100.00") and back.applications == (
        PaymentApplication("55", Decimal("100.00")),
    )
    assert (
        back.method == "check"
        and back.origin is Side.QUICKBOOKS
        and back.date == dt.date(2024, 6, 1)
    )
    gone = payments_tr.payment_to_wire(
        Payment(amount=Decimal(10), currency="USD", date=dt.date(2024, 6, 1), status="deleted"),
        Decimal(10),
        "k",
    )
    assert gone["hs_latest_status"] == "refunded" and gone["hs_refunds_amount"] == "10.00"


def test_cursor_encoding():
    assert decode_cursor(None) == (0, 0)
    assert decode_cursor(encode_cursor(1714521600123, 42)) == (1714521600123, 42)
