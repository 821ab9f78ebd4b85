"""The invoice lifecycle with python-quickbooks: computed totals, discounts, tax, custom fields,
numbering, payments and their effect on balances, void, delete, send and PDF."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from qbo_harness import Company, Served, serve
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.base import CustomField, LinkedTxn, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import (
    DiscountLine,
    DiscountLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


@pytest.fixture
def co(served: Served) -> Company:
    return served.company()


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def _invoice(
    customer_id: str,
    lines: list[tuple[str, str, str]],
    *,
    discount_percent: str | None = None,
    po: str | None = None,
) -> Invoice:
    invoice = Invoice()
    invoice.CustomerRef = _ref(customer_id)
    for item_id, qty, price in lines:
        line = SalesItemLine()
        line.Amount = Decimal(qty) * Decimal(price)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = _ref(item_id)
        line.SalesItemLineDetail.Qty = Decimal(qty)
        line.SalesItemLineDetail.UnitPrice = Decimal(price)
        invoice.Line.append(line)
    if discount_percent:
        discount = DiscountLine()
        discount.DiscountLineDetail = DiscountLineDetail()
        discount.DiscountLineDetail.PercentBased = True
        discount.DiscountLineDetail.DiscountPercent = Decimal(discount_percent)
        invoice.Line.append(discount)
    if po:
        field = CustomField()
        field.DefinitionId, field.StringValue = "1", po
        invoice.CustomField.append(field)
    return invoice


def _pdf_text(content: bytes) -> str:
    """The strings shown by a PDF's (Flate-compressed) content streams."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.DOTALL):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            data = stream
        shown += [m.decode("latin-1") for m in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", data)]
    return " ".join(shown)


def _pay(co: Company, customer_id: str, amount: str, invoice_id: str) -> Payment:
    payment = Payment()
    payment.CustomerRef = _ref(customer_id)
    payment.TotalAmt = Decimal(amount)
    line = PaymentLine()
    line.Amount = Decimal(amount)
    link = LinkedTxn()
    link.TxnId, link.TxnType = invoice_id, "Invoice"
    line.LinkedTxn.append(link)
    payment.Line.append(line)
    return payment.save(qb=co.qb)


def test_create_computes_lines_discount_totals_and_custom_fields(co: Company) -> None:
    customer = co.customer("Lifecycle Ltd", BillAddr={"Line1": "1 Main St", "City": "Springfield"})
    a, b = co.item("Consulting", "150"), co.item("License", "499")
    saved = _invoice(
        customer["Id"],
        [(a["Id"], "3", "150"), (b["Id"], "1", "499")],
        discount_percent="10",
        po="PO-4100",
    ).save(qb=co.qb)
    assert saved.DocNumber == "1001" and saved.SyncToken == "0"
    kinds = [line.DetailType for line in saved.Line]
    assert kinds == [
        "SalesItemLineDetail",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
        "DiscountLineDetail",
    ]
    assert [line.LineNum for line in saved.Line if line.DetailType == "SalesItemLineDetail"] == [
        1,
        2,
    ]
    assert not getattr(saved.Line[3], "Id", None)  # as recorded: the discount line has no Id
    assert saved.Line[2].Amount == Decimal("949.00")
    assert saved.Line[3].Amount == Decimal("94.90")
    assert saved.TotalAmt == Decimal("854.10") and saved.Balance == Decimal("854.10")
    assert saved.TxnTaxDetail.TotalTax == 0
    assert saved.BillAddr.City == "Springfield"
    assert saved.DueDate and saved.TxnDate and saved.DueDate > saved.TxnDate  # Net 30 by default
    fields = {f["Name"]: f.get("StringValue") for f in co.get("Invoice", saved.Id)["CustomField"]}
    assert fields == {
        "PO Number": "PO-4100",
        "Sales Rep": None,
        "Project": None,
    }  # unset: no StringValue
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("854.10")
    second = _invoice(customer["Id"], [(a["Id"], "1", "150")]).save(qb=co.qb)
    assert second.DocNumber == "1002"


def test_amount_must_match_quantity_times_price(co: Company) -> None:
    customer, item = co.customer("Math Co"), co.item("Thing", "10")
    invoice = _invoice(customer["Id"], [(item["Id"], "3", "10")])
    invoice.Line[0].Amount = Decimal("31")
    with pytest.raises(QuickbooksException) as wrong:
        invoice.save(qb=co.qb)
    assert wrong.value.error_code == 6070


def test_tax_code_and_full_update_keeps_line_ids(co: Company) -> None:
    customer = co.customer("Taxed Inc")
    item = co.item("Gadget", "100", Taxable=True)
    invoice = _invoice(customer["Id"], [(item["Id"], "2", "100")])
    invoice.TxnTaxDetail = None
    saved = invoice.save(qb=co.qb)
    assert saved.Line[0].SalesItemLineDetail.TaxCodeRef.value == "TAX"
    raw = co.http.post(
        "/invoice",
        json={
            "Id": saved.Id,
            "SyncToken": saved.SyncToken,
            "sparse": True,
            "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "1"}},
        },
    ).json()["Invoice"]
    assert raw["TxnTaxDetail"]["TotalTax"] == Decimal("16.00")  # 8 % on 200.00
    assert raw["TotalAmt"] == Decimal("216.00") and raw["SyncToken"] == "1"
    fetched = Invoice.get(saved.Id, qb=co.qb)
    fetched.PrivateNote = "edited"
    updated = fetched.save(qb=co.qb)  # full update sends the subtotal line back: it is recomputed
    assert updated.SyncToken == "2" and updated.Line[0].Id == saved.Line[0].Id
    assert [line.DetailType for line in updated.Line].count("SubTotalLineDetail") == 1
    assert updated.TotalAmt == Decimal("216.00")


def test_doc_number_sequence_duplicates_and_override(co: Company) -> None:
    customer, item = co.customer("Numbers"), co.item("N", "1")
    first = _invoice(customer["Id"], [(item["Id"], "1", "1")])
    first.DocNumber = "INV-0099"
    first = first.save(qb=co.qb)
    follow = _invoice(customer["Id"], [(item["Id"], "1", "1")]).save(qb=co.qb)
    assert follow.DocNumber == "INV-0100"  # QBO continues the last pattern, prefix included
    dup = _invoice(customer["Id"], [(item["Id"], "1", "1")])
    dup.DocNumber = "INV-0099"
    with pytest.raises(QuickbooksException) as clash:
        dup.save(qb=co.qb)
    assert clash.value.error_code == 6140 and f"TxnId={first.Id}" in clash.value.detail
    allowed = dup.save(qb=co.qb, params={"include": "allowduplicatedocnum"})
    assert allowed.DocNumber == "INV-0099"
    long = _invoice(customer["Id"], [(item["Id"], "1", "1")])
    long.DocNumber = "X" * 22
    with pytest.raises(QuickbooksException) as too_long:
        long.save(qb=co.qb)
    assert too_long.value.error_code == 2050


def test_payments_update_balances_and_revert_on_delete_and_void(co: Company) -> None:
    customer, item = co.customer("Payer"), co.item("Service", "100")
    invoice = _invoice(customer["Id"], [(item["Id"], "1", "100")]).save(qb=co.qb)
    partial = _pay(co, customer["Id"], "40", invoice.Id)
    assert partial.UnappliedAmt == 0
    assert partial.Line[0].LineEx["any"][1]["value"] == {
        "Name": "txnOpenBalance",
        "Value": "100.00",
    }
    after = Invoice.get(invoice.Id, qb=co.qb)
    assert after.Balance == Decimal("60.00")
    assert [(x.TxnId, x.TxnType) for x in after.LinkedTxn] == [(partial.Id, "Payment")]
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("60.00")
    rest = _pay(co, customer["Id"], "60", invoice.Id)
    assert Invoice.get(invoice.Id, qb=co.qb).Balance == 0
    with pytest.raises(QuickbooksException) as over:
        _pay(co, customer["Id"], "1", invoice.Id)
    assert over.value.error_code == 6000
    rest.delete(qb=co.qb)
    assert Invoice.get(invoice.Id, qb=co.qb).Balance == Decimal("60.00")
    with pytest.raises(ObjectNotFoundException):
        Payment.get(rest.Id, qb=co.qb)
    voided = Payment.get(partial.Id, qb=co.qb)
    voided.void(qb=co.qb)
    after_void = Payment.get(partial.Id, qb=co.qb)
    assert after_void.TotalAmt == 0 and after_void.PrivateNote.startswith("Voided")
    assert Invoice.get(invoice.Id, qb=co.qb).Balance == Decimal("100.00")
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("100.00")


def test_overpayment_is_unapplied_credit_and_other_customers_cannot_link(co: Company) -> None:
    customer, other, item = co.customer("Generous"), co.customer("Stranger"), co.item("S", "50")
    invoice = _invoice(customer["Id"], [(item["Id"], "1", "50")]).save(qb=co.qb)
    payment = Payment()
    payment.CustomerRef, payment.TotalAmt = _ref(customer["Id"]), Decimal("80")
    line = PaymentLine()
    line.Amount = Decimal("50")
    link = LinkedTxn()
    link.TxnId, link.TxnType = invoice.Id, "Invoice"
    line.LinkedTxn.append(link)
    payment.Line.append(line)
    saved = payment.save(qb=co.qb)
    assert saved.UnappliedAmt == Decimal("30.00")
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("-30.00")
    with pytest.raises(QuickbooksException) as foreign:
        _pay(co, other["Id"], "10", invoice.Id)
    assert foreign.value.error_code == 620


def test_void_zeroes_and_unlinks_payments(co: Company) -> None:
    customer, item = co.customer("Voider"), co.item("V", "100")
    invoice = _invoice(customer["Id"], [(item["Id"], "1", "100")]).save(qb=co.qb)
    payment = _pay(co, customer["Id"], "25", invoice.Id)
    Invoice.get(invoice.Id, qb=co.qb).void(qb=co.qb)
    voided = Invoice.get(invoice.Id, qb=co.qb)
    assert voided.TotalAmt == 0 and voided.Balance == 0 and voided.PrivateNote == "Voided"
    assert all(line.Amount == 0 for line in voided.Line)
    assert voided.DocNumber == invoice.DocNumber and voided.SyncToken == "1"
    assert Payment.get(payment.Id, qb=co.qb).UnappliedAmt == Decimal("25.00")
    assert Customer.get(customer["Id"], qb=co.qb).Balance == Decimal("-25.00")


def test_delete_removes_and_later_reads_are_610(co: Company) -> None:
    customer, item = co.customer("Deleter"), co.item("D", "10")
    invoice = _invoice(customer["Id"], [(item["Id"], "1", "10")]).save(qb=co.qb)
    stale = co.http.post(
        "/invoice", params={"operation": "delete"}, json={"Id": invoice.Id, "SyncToken": "7"}
    )
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
    result = invoice.delete(qb=co.qb)
    assert result["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": invoice.Id}
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(invoice.Id, qb=co.qb)
    assert Customer.get(customer["Id"], qb=co.qb).Balance == 0


def test_send_and_pdf(co: Company) -> None:
    customer, item = (
        co.customer("Mailer", PrimaryEmailAddr={"Address": "ap@mailer.example"}),
        co.item("M", "75"),
    )
    invoice = _invoice(customer["Id"], [(item["Id"], "2", "75")], po="PO-77").save(qb=co.qb)
    with pytest.raises(QuickbooksException) as no_address:
        invoice.send(qb=co.qb)
    assert no_address.value.error_code == 6000
    sent = invoice.send(qb=co.qb, send_to="billing@mailer.example")["Invoice"]
    assert (
        sent["EmailStatus"] == "EmailSent"
        and sent["BillEmail"]["Address"] == "billing@mailer.example"
    )
    assert sent["DeliveryInfo"]["DeliveryType"] == "Email" and sent["SyncToken"] == "1"
    assert co.state.companies[co.realm].outbox[-1]["to"] == "billing@mailer.example"
    content = invoice.download_pdf(qb=co.qb)
    assert content.startswith(b"%PDF-")
    text = _pdf_text(content)
    assert "INVOICE" in text and invoice.DocNumber in text and "150.00" in text and "PO-77" in text
