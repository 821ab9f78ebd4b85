"""The invoice lifecycle through the official SDK: draft -> open needs one contact and a line
item, hs_number is assigned, amounts are computed from lines, discounts and payments, payments
make an invoice partially paid then paid, and only drafts can be archived."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.commerce.invoices import ApiException as InvoicesApiException
from hubspot.crm.commerce.invoices import BatchInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.commerce.invoices import SimplePublicObjectInput as InvoiceUpdate
from hubspot.crm.commerce.invoices import SimplePublicObjectInputForCreate as InvoiceCreate
from hubspot.crm.line_items import SimplePublicObjectInputForCreate as LineItemCreate
from hubspot.crm.objects import SimplePublicObjectInput as ObjectUpdate
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectCreate

INVOICE_PROPS = [
    "hs_invoice_status",
    "hs_number",
    "hs_amount_billed",
    "hs_amount_paid",
    "hs_balance_due",
    "hs_payment_status",
    "hs_subtotal",
    "hs_discount_amount",
    "hs_purchase_order_number",
]


def _assoc(to_id: str, type_id: int) -> dict:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _read(client: HubSpot, invoice_id: str) -> dict:
    return client.crm.commerce.invoices.basic_api.get_by_id(
        invoice_id, properties=INVOICE_PROPS
    ).properties


def _set_status(client: HubSpot, invoice_id: str, status: str) -> None:
    client.crm.commerce.invoices.basic_api.update(
        invoice_id,
        simple_public_object_input=InvoiceUpdate(properties={"hs_invoice_status": status}),
    )


def _pay(client: HubSpot, invoice_id: str, amount: str, status: str = "succeeded") -> str:
    return client.crm.objects.basic_api.create(
        "commerce_payments",
        simple_public_object_input_for_create=ObjectCreate(
            properties={
                "hs_initial_amount": amount,
                "hs_initiated_date": "2026-03-01T10:00:00Z",
                "hs_latest_status": status,
                "hs_processor_type": "quickbooks",
            },
            associations=[_assoc(invoice_id, 542)],
        ),
    ).id


def test_full_lifecycle(hubspot_client: HubSpot, hubspot_state) -> None:
    contact = hubspot_state.create_object("contacts", {"email": "buyer@acme.example"})
    product = hubspot_state.create_object(
        "products", {"name": "Support", "price": "200.00", "hs_sku": "SUP"}
    )
    invoices = hubspot_client.crm.commerce.invoices.basic_api
    inv = invoices.create(
        simple_public_object_input_for_create=InvoiceCreate(
            properties={"hs_currency": "USD", "hs_purchase_order_number": "PO-77"}
        )
    )
    props = _read(hubspot_client, inv.id)
    assert props["hs_invoice_status"] == "draft" and props["hs_number"].startswith("INV-")
    assert props["hs_purchase_order_number"] == "PO-77" and props["hs_amount_billed"] == "0.00"

    with pytest.raises(InvoicesApiException) as exc:
        _set_status(hubspot_client, inv.id, "open")  # no contact, no line item yet
    assert exc.value.status == 400 and json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"

    hubspot_client.crm.associations.v4.basic_api.create_default(
        "invoices", inv.id, "contacts", contact
    )
    with pytest.raises(InvoicesApiException):
        _set_status(hubspot_client, inv.id, "open")  # still no line item
    hubspot_client.crm.line_items.basic_api.create(
        simple_public_object_input_for_create=LineItemCreate(
            properties={"hs_product_id": product, "quantity": "2"},
            associations=[_assoc(inv.id, 410)],
        )
    )
    hubspot_client.crm.line_items.basic_api.create(
        simple_public_object_input_for_create=LineItemCreate(
            properties={"name": "Setup", "price": "100.00", "quantity": "1"},
            associations=[_assoc(inv.id, 410)],
        )
    )
    hubspot_client.crm.objects.basic_api.create(
        "discounts",
        simple_public_object_input_for_create=ObjectCreate(
            properties={"hs_label": "10% off", "hs_type": "PERCENT", "hs_value": "10"},
            associations=[_assoc(inv.id, 412)],
        ),
    )
    props = _read(hubspot_client, inv.id)
    assert (props["hs_subtotal"], props["hs_discount_amount"], props["hs_amount_billed"]) == (
        "500.00",
        "50.00",
        "450.00",
    )

    _set_status(hubspot_client, inv.id, "open")
    props = _read(hubspot_client, inv.id)
    assert (props["hs_invoice_status"], props["hs_balance_due"], props["hs_payment_status"]) == (
        "open",
        "450.00",
        "unpaid",
    )

    with pytest.raises(InvoicesApiException) as exc:
        _set_status(hubspot_client, inv.id, "paid")  # payments cannot be "recorded" by status
    assert exc.value.status == 400

    _pay(hubspot_client, inv.id, "100.00", status="processing")  # not settled: does not count
    assert _read(hubspot_client, inv.id)["hs_amount_paid"] == "0.00"
    first = _pay(hubspot_client, inv.id, "150.00")
    props = _read(hubspot_client, inv.id)
    assert (props["hs_invoice_status"], props["hs_payment_status"]) == ("open", "partially_paid")
    assert (props["hs_amount_paid"], props["hs_balance_due"]) == ("150.00", "300.00")
    second = _pay(hubspot_client, inv.id, "300.00")
    props = _read(hubspot_client, inv.id)
    assert (props["hs_invoice_status"], props["hs_payment_status"], props["hs_balance_due"]) == (
        "paid",
        "paid",
        "0.00",
    )

    # A refund on a payment reopens the balance.
    hubspot_client.crm.objects.basic_api.update(
        "commerce_payments",
        second,
        simple_public_object_input=ObjectUpdate(
            properties={"hs_refunds_amount": "300.00", "hs_latest_status": "refunded"}
        ),
    )
    props = _read(hubspot_client, inv.id)
    assert (props["hs_invoice_status"], props["hs_balance_due"]) == ("open", "300.00")
    hubspot_client.crm.objects.basic_api.archive("commerce_payments", first)
    assert _read(hubspot_client, inv.id)["hs_amount_paid"] == "0.00"

    with pytest.raises(InvoicesApiException) as exc:
        invoices.archive(inv.id)  # only drafts can be archived
    assert exc.value.status == 400
    with pytest.raises(InvoicesApiException):
        _set_status(hubspot_client, inv.id, "draft")
    _set_status(hubspot_client, inv.id, "voided")
    assert _read(hubspot_client, inv.id)["hs_invoice_status"] == "voided"
    with pytest.raises(InvoicesApiException):
        _set_status(hubspot_client, inv.id, "open")


def test_open_needs_exactly_one_contact(hubspot_client: HubSpot, hubspot_state) -> None:
    a = hubspot_state.create_object("contacts", {"email": "a@x.example"})
    b = hubspot_state.create_object("contacts", {"email": "b@x.example"})
    line = hubspot_state.create_object("line_items", {"name": "x", "price": "1", "quantity": "1"})
    inv = hubspot_client.crm.commerce.invoices.basic_api.create(
        simple_public_object_input_for_create=InvoiceCreate(
            properties={"hs_currency": "USD"},
            associations=[_assoc(a, 177), _assoc(b, 177), _assoc(line, 409)],
        )
    )
    with pytest.raises(InvoicesApiException) as exc:
        _set_status(hubspot_client, inv.id, "open")
    assert "one contact" in json.loads(exc.value.body)["message"]


def test_create_open_in_one_call_and_line_item_single_parent(
    hubspot_client: HubSpot, hubspot_state
) -> None:
    contact = hubspot_state.create_object("contacts", {"email": "a@x.example"})
    line = hubspot_state.create_object("line_items", {"name": "x", "price": "10", "quantity": "3"})
    inv = hubspot_client.crm.commerce.invoices.basic_api.create(
        simple_public_object_input_for_create=InvoiceCreate(
            properties={"hs_currency": "JPY", "hs_invoice_status": "open"},
            associations=[_assoc(contact, 177), _assoc(line, 409)],
        )
    )
    props = _read(hubspot_client, inv.id)
    # JPY has no minor unit: the amount carries no decimals.
    assert (props["hs_invoice_status"], props["hs_amount_billed"]) == ("open", "30")
    with pytest.raises(InvoicesApiException) as exc:
        hubspot_client.crm.commerce.invoices.basic_api.create(
            simple_public_object_input_for_create=InvoiceCreate(
                properties={"hs_currency": "USD"}, associations=[_assoc(line, 409)]
            )
        )
    assert exc.value.status == 400  # a line item has a single parent
    # A failed open-on-create leaves nothing behind.
    before = len(hubspot_state.store.live("invoices"))
    with pytest.raises(InvoicesApiException):
        hubspot_client.crm.commerce.invoices.basic_api.create(
            simple_public_object_input_for_create=InvoiceCreate(
                properties={"hs_currency": "USD", "hs_invoice_status": "open"}
            )
        )
    assert len(hubspot_state.store.live("invoices")) == before


def test_batch_archive_refuses_non_drafts(hubspot_client: HubSpot, hubspot_state) -> None:
    contact = hubspot_state.create_object("contacts", {"email": "a@x.example"})
    line = hubspot_state.create_object("line_items", {"name": "x", "price": "10", "quantity": "1"})
    opened = hubspot_state.create_object(
        "invoices",
        {"hs_currency": "USD", "hs_invoice_status": "open"},
        [_assoc(contact, 177), _assoc(line, 409)],
    )
    draft = hubspot_state.create_object("invoices", {"hs_currency": "USD"})
    batch = hubspot_client.crm.commerce.invoices.batch_api
    with pytest.raises(InvoicesApiException):
        batch.archive(
            batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=opened), SimplePublicObjectId(id=draft)]
            )
        )
    assert hubspot_state.get_object("invoices", draft) is not None
    batch.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=draft)]
        )
    )
    assert hubspot_state.get_object("invoices", draft) is None
