"""QBO wire ⇄ canonical translation: round trips (Hypothesis over Decimal amounts), recorded
response shapes, query escaping, markers, payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.connectors.http import dumps, loads
from ledgerbridge.connectors.quickbooks import translate as tr
from ledgerbridge.connectors.quickbooks import translate_payments as tp
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
    quantize,
)

quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal("500"), places=3, allow_nan=False
)
prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999"), places=4, allow_nan=False)
lines = st.lists(
    st.tuples(quantities, prices, st.sampled_from(list(LineKind))), min_size=1, max_size=8
)
discounts = st.one_of(
    st.none(),
    st.builds(
        lambda v: Discount("percent", v),
        st.decimals(min_value=Decimal("0.5"), max_value=Decimal("50"), places=2, allow_nan=False),
    ),
    st.builds(
        lambda v: Discount("amount", v),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=2, allow_nan=False),
    ),
)


def qbo_server(body: dict, invoice_id: str = "266") -> dict:
    """What QBO answers for a created invoice: ids, names, subtotal line, totals (computed the
    way QBO does: line amounts, then the discount line against the subtotal above it)."""
    wire = loads(dumps(body))  # through real JSON, Decimal preserved
    out_lines = []
    subtotal = Decimal(0)
    for n, line in enumerate(wire["Line"], start=1):
        line = dict(line, Id=str(n), LineNum=n)
        if line["DetailType"] == "SalesItemLineDetail":
            detail = line["SalesItemLineDetail"]
            assert line["Amount"] == quantize(detail["Qty"] * detail["UnitPrice"])  # no 6070
            detail["ItemRef"]["name"] = f"Item {detail['ItemRef']['value']}"
            detail["TaxCodeRef"] = {"value": "NON"}
            subtotal += line["Amount"]
        out_lines.append(line)
    discount = Decimal(0)
    for line in out_lines:
        if line["DetailType"] == "DiscountLineDetail":
            d = line["DiscountLineDetail"]
            discount = (
                quantize(subtotal * d["DiscountPercent"] / 100)
                if d["PercentBased"]
                else line["Amount"]
            )
            line["Amount"] = discount
    out_lines.append(
        {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    )
    total = subtotal - discount
    return {
        **wire,
        "Id": invoice_id,
        "SyncToken": "0",
        "Line": out_lines,
        "TotalAmt": total,
        "Balance": total,
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "CustomerRef": {"value": wire["CustomerRef"]["value"], "name": "Amy's Bird Sanctuary"},
        "CustomField": [
            {**f, "Name": f"Field {f['DefinitionId']}"} for f in wire.get("CustomField", [])
        ],
    }


@settings(max_examples=150, deadline=None)
@given(lines=lines, discount=discounts)
def test_invoice_round_trip_keeps_every_amount(lines, discount):
    invoice = Invoice(
        currency="USD",
        lines=tuple(
            LineItem(name=f"L{i}", quantity=q, unit_price=p, kind=k)
            for i, (q, p, k) in enumerate(lines)
        ),
        discount=discount,
        status=InvoiceStatus.OPEN,
        issue_date=dt.date(2024, 5, 1),
        due_date=dt.date(2024, 5, 31),
    )
    body = tr.invoice_to_wire(
        invoice, "58", [str(100 + i) for i in range(len(lines))], external_key="k-1"
    )
    back = tr.invoice_from_wire(qbo_server(body), "USD")
    assert back.total == invoice.total
    assert back.subtotal == invoice.subtotal
    assert back.discount_amount == invoice.discount_amount
    assert [(x.quantity, x.unit_price) for x in back.lines] == [
        (x.quantity, x.unit_price) for x in invoice.lines
    ]
    assert back.discount == (discount if discount and discount.value else None)
    assert back.balance_due == invoice.total and back.amount_paid == 0


def test_invoice_body_fields():
    invoice = Invoice(
        currency="USD",
        lines=(
            LineItem(
                name="Consulting hour",
                quantity=Decimal("2.5"),
                unit_price=Decimal("150"),
                description="Senior consultant",
            ),
            LineItem(
                name="Card fee", quantity=Decimal(1), unit_price=Decimal("3.10"), kind=LineKind.FEE
            ),
        ),
        discount=Discount("percent", Decimal("10")),
        number="INV-1001",
        issue_date=dt.date(2024, 5, 1),
        due_date=dt.date(2024, 5, 31),
        memo="Thanks!",
        customer=Customer(email="ada@acme.example"),
    )
    body = tr.invoice_to_wire(
        invoice, "58", ["1", "9"], [("2", "PO-77")], external_key="conn1:inv:42:g1", currency="USD"
    )
    assert body["CustomerRef"] == {"value": "58"}
    assert body["DocNumber"] == "INV-1001"
    assert body["TxnDate"] == "2024-05-01" and body["DueDate"] == "2024-05-31"
    assert body["CustomerMemo"] == {"value": "Thanks!"}
    assert body["PrivateNote"] == "ledgerbridge:conn1:inv:42:g1"
    assert body["BillEmail"] == {"Address": "ada@acme.example"}
    assert body["CurrencyRef"] == {"value": "USD"}
    assert body["CustomField"] == [
        {"DefinitionId": "2", "Type": "StringType", "StringValue": "PO-77"}
    ]
    first, fee, disc = body["Line"]
    assert first["Amount"] == Decimal("375.00") and first["Description"] == "Senior consultant"
    assert first["SalesItemLineDetail"] == {
        "ItemRef": {"value": "1"},
        "Qty": Decimal("2.5"),
        "UnitPrice": Decimal("150"),
    }
    assert fee["Description"] == "Card fee"
    assert disc == {
        "DetailType": "DiscountLineDetail",
        "Amount": Decimal("37.81"),
        "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": Decimal("10")},
    }
    # Nothing unset is sent (QBO treats unknown/empty fields strictly).
    minimal = tr.invoice_to_wire(Invoice(currency="USD", lines=(invoice.lines[0],)), "58", ["1"])
    assert set(minimal) == {"CustomerRef", "Line"}


RECORDED_INVOICE = {
    "AllowIPNPayment": False,
    "domain": "QBO",
    "sparse": False,
    "Id": "266",
    "SyncToken": "0",
    "MetaData": {
        "CreateTime": "2020-09-29T05:58:07-07:00",
        "LastUpdatedTime": "2020-09-29T05:58:07-07:00",
    },
    "CustomField": [{"DefinitionId": "1", "Name": "Crew #", "Type": "StringType"}],
    "DocNumber": "1043",
    "TxnDate": "2020-09-29",
    "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
    "LinkedTxn": [],
    "Line": [
        {
            "Id": "1",
            "LineNum": 1,
            "Amount": Decimal("100.00"),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {
                "ItemRef": {"value": "1", "name": "Services"},
                "TaxCodeRef": {"value": "NON"},
            },
        },
        {"Amount": Decimal("100.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
    ],
    "TxnTaxDetail": {"TotalTax": 0},
    "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
    "DueDate": "2020-10-29",
    "TotalAmt": Decimal("100.00"),
    "ApplyTaxAfterDiscount": False,
    "PrintStatus": "NeedToPrint",
    "EmailStatus": "NotSet",
    "Balance": Decimal("100.00"),
}


def test_recorded_invoice_without_qty_reads_as_one_unit():
    inv = tr.invoice_from_wire(RECORDED_INVOICE, "USD")
    assert inv.id == "266" and inv.version == "0" and inv.number == "1043"
    assert inv.lines[0].name == "Services" and inv.lines[0].product_id == "1"
    assert (inv.lines[0].quantity, inv.lines[0].unit_price) == (Decimal(1), Decimal("100.00"))
    assert inv.total == Decimal("100.00") and inv.status is InvoiceStatus.OPEN
    assert inv.customer == Customer(id="1", display_name="Amy's Bird Sanctuary")
    assert inv.custom_fields == {}  # defined but empty slot
    assert inv.origin is Side.QUICKBOOKS
    assert inv.due_date == dt.date(2020, 10, 29)


def test_paid_partial_and_voided_status():
    paid = tr.invoice_from_wire({**RECORDED_INVOICE, "Balance": 0}, "USD")
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid == Decimal("100.00")
    partial = tr.invoice_from_wire({**RECORDED_INVOICE, "Balance": Decimal("40.00")}, "USD")
    assert partial.status is InvoiceStatus.OPEN and partial.amount_paid == Decimal("60.00")
    voided = tr.invoice_from_wire(
        {**RECORDED_INVOICE, "TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided"}, "USD"
    )
    assert voided.status is InvoiceStatus.VOIDED


def test_marker_found_and_origin_is_hubspot():
    inv = tr.invoice_from_wire(
        {**RECORDED_INVOICE, "PrivateNote": "ledgerbridge:7:invoice:123:1"}, "USD"
    )
    assert inv.context["ledgerbridge.key"] == "7:invoice:123:1"
    assert inv.origin is Side.HUBSPOT
    assert tr.extract_marker("Voided ledgerbridge:abc def") == "abc"
    assert tr.extract_marker("hello") is None


def test_group_line_components_are_read():
    data = {
        **RECORDED_INVOICE,
        "Line": [
            {
                "DetailType": "GroupLineDetail",
                "GroupLineDetail": {
                    "GroupItemRef": {"value": "20"},
                    "Line": [
                        {
                            "Id": "2",
                            "Amount": Decimal("30.00"),
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {
                                "ItemRef": {"value": "3", "name": "Bolt"},
                                "Qty": 3,
                                "UnitPrice": Decimal(10),
                            },
                        }
                    ],
                },
            }
        ],
    }
    inv = tr.invoice_from_wire(data, "USD")
    assert [(line.name, line.amount()) for line in inv.lines] == [("Bolt", Decimal("30.00"))]


def test_query_quoting():
    assert tr.quote("Amy's Bird Sanctuary") == "'Amy\\'s Bird Sanctuary'"
    assert tr.quote("Birch & Co") == "'Birch & Co'"
    assert tr.quote("O'Brien") == "'O\\'Brien'"


def test_safe_name():
    assert tr.safe_name("  Acme:  West  ") == "Acme- West"
    assert len(tr.safe_name("x" * 300)) == tr.DISPLAY_NAME_MAX


def test_customer_round_trip():
    customer = Customer(
        email=" Ada@Acme.example ",
        first_name="Ada",
        last_name="Lovelace",
        company_name="Acme",
        display_name="Acme (Ada Lovelace)",
        phone="+1 555 0100",
    )
    body = tr.customer_to_wire(customer)
    assert body["DisplayName"] == "Acme (Ada Lovelace)"
    assert body["PrimaryEmailAddr"] == {"Address": "Ada@Acme.example"}
    back = tr.customer_from_wire({**body, "Id": "58"})
    assert (
        back.match_email == "ada@acme.example" and back.id == "58" and back.company_name == "Acme"
    )


def test_payment_round_trip_split_over_invoices():
    payment = Payment(
        amount=Decimal("150.00"),
        currency="USD",
        date=dt.date(2024, 6, 1),
        applications=(
            PaymentApplication("266", Decimal("100.00")),
            PaymentApplication("267", Decimal("50.00")),
        ),
        method="check",
        reference="CHK-1001",
    )
    body = tp.payment_to_wire(payment, "58", external_key="k", method_id="2")
    assert body["TotalAmt"] == Decimal("150.00") and body["PaymentRefNum"] == "CHK-1001"
    assert body["Line"][1] == {
        "Amount": Decimal("50.00"),
        "LinkedTxn": [{"TxnId": "267", "TxnType": "Invoice"}],
    }
    echoed = {
        **loads(dumps(body)),
        "Id": "90",
        "SyncToken": "0",
        "UnappliedAmt": 0,
        "PaymentMethodRef": {"value": "2", "name": "Check"},
    }
    back = tp.payment_from_wire(echoed, "USD")
    assert back.applications == payment.applications
    assert back.method == "check" and back.processor == "quickbooks" and back.status == "succeeded"
    assert back.origin is Side.HUBSPOT
    voided = tp.payment_from_wire({**echoed, "TotalAmt": 0, "PrivateNote": "Voided"}, "USD")
    assert voided.status == "voided"
