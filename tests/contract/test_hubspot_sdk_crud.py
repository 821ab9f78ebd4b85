"""HubSpot's official SDK (hubspot-api-client 12) against the sandbox over a socket: basic CRUD
on every object type the sync uses, list paging, reads with history and associations, auth."""

from __future__ import annotations

import json

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.commerce.invoices import SimplePublicObjectInputForCreate as InvoiceCreate
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyCreate
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInput as ContactUpdate
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.line_items import SimplePublicObjectInputForCreate as LineItemCreate
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.objects import SimplePublicObjectInput as ObjectUpdate
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectCreate
from hubspot.crm.products import SimplePublicObjectInputForCreate as ProductCreate


def error_body(exc: Exception) -> dict:
    return json.loads(exc.body)  # type: ignore[attr-defined]


def test_contact_crud_roundtrip(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.contacts.basic_api
    created = api.create(
        simple_public_object_input_for_create=ContactCreate(
            properties={"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"}
        )
    )
    assert created.id.isdigit()
    assert created.properties["email"] == "ada@example.com"
    assert created.properties["hs_object_id"] == created.id
    assert created.created_at is not None and created.archived is False

    read = api.get_by_id(created.id, properties=["email", "firstname", "phone"])
    assert read.properties["firstname"] == "Ada"
    assert read.properties["phone"] is None  # requested but unset comes back as null
    assert "lastname" not in read.properties  # not requested

    updated = api.update(
        created.id, simple_public_object_input=ContactUpdate(properties={"phone": "+1 555 0100"})
    )
    assert updated.properties["phone"] == "+1 555 0100"
    assert updated.updated_at > created.updated_at

    by_email = api.get_by_id("ADA@example.com", id_property="email", properties=["lastname"])
    assert by_email.id == created.id

    hist = api.get_by_id(created.id, properties_with_history=["phone"])
    assert [h.value for h in hist.properties_with_history["phone"]] == ["+1 555 0100"]

    api.archive(created.id)
    with pytest.raises(ContactsApiException) as exc:
        api.get_by_id(created.id)
    assert exc.value.status == 404
    assert error_body(exc.value)["category"] == "OBJECT_NOT_FOUND"
    archived = api.get_by_id(created.id, archived=True)
    assert archived.archived is True


def test_duplicate_contact_email_conflicts(hubspot_client: HubSpot) -> None:
    api = hubspot_client.crm.contacts.basic_api
    first = api.create(
        simple_public_object_input_for_create=ContactCreate(properties={"email": "dup@example.com"})
    )
    with pytest.raises(ContactsApiException) as exc:
        api.create(
            simple_public_object_input_for_create=ContactCreate(
                properties={"email": "DUP@example.com"}
            )
        )
    assert exc.value.status == 409
    body = error_body(exc.value)
    assert body["category"] == "CONFLICT" and f"Existing ID: {first.id}" in body["message"]


def test_company_product_line_item_crud(hubspot_client: HubSpot) -> None:
    company = hubspot_client.crm.companies.basic_api.create(
        simple_public_object_input_for_create=CompanyCreate(
            properties={"name": "Acme", "domain": "acme.example"}
        )
    )
    assert company.properties["name"] == "Acme"
    product = hubspot_client.crm.products.basic_api.create(
        simple_public_object_input_for_create=ProductCreate(
            properties={
                "name": "Consulting hour",
                "hs_sku": "CONS-HR",
                "price": "150.00",
                "description": "x",
            }
        )
    )
    line = hubspot_client.crm.line_items.basic_api.create(
        simple_public_object_input_for_create=LineItemCreate(
            properties={"hs_product_id": product.id, "quantity": "3"}
        )
    )
    # Line items made from a product copy its name, price and SKU; amount is computed.
    assert line.properties["name"] == "Consulting hour"
    assert line.properties["hs_sku"] == "CONS-HR"
    assert line.properties["amount"] == "450.00"
    with pytest.raises(Exception) as exc:
        hubspot_client.crm.line_items.basic_api.create(
            simple_public_object_input_for_create=LineItemCreate(
                properties={"price": "-1", "quantity": "1"}
            )
        )
    assert exc.value.status == 400  # type: ignore[attr-defined]

    # Read, update and archive through each dedicated API.
    cases = [
        (hubspot_client.crm.companies, company.id, "name", "Acme Inc"),
        (hubspot_client.crm.products, product.id, "price", "175.00"),
        (hubspot_client.crm.line_items, line.id, "quantity", "4"),
    ]
    for api, object_id, prop, value in cases:
        module = type(api.basic_api).__module__.rsplit(".api.", 1)[0]
        models = __import__(module, fromlist=["SimplePublicObjectInput", "ApiException"])
        api.basic_api.update(
            object_id,
            simple_public_object_input=models.SimplePublicObjectInput(properties={prop: value}),
        )
        assert api.basic_api.get_by_id(object_id, properties=[prop]).properties[prop] == value
        api.basic_api.archive(object_id)
        with pytest.raises(models.ApiException) as missing:
            api.basic_api.get_by_id(object_id)
        assert missing.value.status == 404
    # The line item kept the price copied at creation (4 x 150), not the product's new price.
    assert (
        hubspot_client.crm.line_items.basic_api.get_by_id(line.id, archived=True).properties[
            "amount"
        ]
        == "600.00"
    )


def test_invoice_and_commerce_payment_crud(hubspot_client: HubSpot) -> None:
    inv = hubspot_client.crm.commerce.invoices.basic_api.create(
        simple_public_object_input_for_create=InvoiceCreate(properties={"hs_currency": "EUR"})
    )
    assert inv.properties["hs_invoice_status"] == "draft"
    assert inv.properties["hs_number"].startswith("INV-")
    assert inv.properties["hs_currency"] == "EUR"
    objects = hubspot_client.crm.objects
    pay = objects.basic_api.create(
        "commerce_payments",
        simple_public_object_input_for_create=ObjectCreate(
            properties={
                "hs_initial_amount": "100.00",
                "hs_initiated_date": "2026-01-02T00:00:00Z",
                "hs_processor_type": "quickbooks",
                "hs_fees_amount": "2.50",
            }
        ),
    )
    assert pay.properties["hs_latest_status"] == "processing"
    assert pay.properties["hs_net_amount"] == "97.50"
    assert pay.properties["hs_initiated_date"] == "2026-01-02T00:00:00.000Z"
    same = objects.basic_api.get_by_id("0-101", pay.id, properties=["hs_processor_type"])
    assert same.properties["hs_processor_type"] == "quickbooks"
    objects.basic_api.update(
        "commerce_payments",
        pay.id,
        simple_public_object_input=ObjectUpdate(properties={"hs_latest_status": "succeeded"}),
    )
    objects.basic_api.archive("commerce_payments", pay.id)
    with pytest.raises(ObjectsApiException) as exc:
        objects.basic_api.get_by_id("commerce_payments", pay.id)
    assert exc.value.status == 404


def test_required_and_invalid_values(hubspot_client: HubSpot) -> None:
    from hubspot.crm.commerce.invoices import ApiException as InvoicesApiException

    with pytest.raises(InvoicesApiException) as exc:
        hubspot_client.crm.commerce.invoices.basic_api.create(
            simple_public_object_input_for_create=InvoiceCreate(
                properties={"hs_title": "no currency"}
            )
        )
    assert exc.value.status == 400
    assert error_body(exc.value)["errors"][0]["context"]["propertyName"] == ["hs_currency"]
    with pytest.raises(InvoicesApiException) as exc:
        hubspot_client.crm.commerce.invoices.basic_api.create(
            simple_public_object_input_for_create=InvoiceCreate(properties={"hs_currency": "ZZZ"})
        )
    assert exc.value.status == 400
    with pytest.raises(ObjectsApiException) as exc:
        hubspot_client.crm.objects.basic_api.create(
            "commerce_payments",
            simple_public_object_input_for_create=ObjectCreate(
                properties={"hs_initial_amount": "ten", "hs_initiated_date": "2026-01-02"}
            ),
        )
    assert error_body(exc.value)["errors"][0]["code"] == "INVALID_DECIMAL"


def test_get_all_pages_past_100(hubspot_client: HubSpot, hubspot_state) -> None:
    for i in range(230):
        hubspot_state.create_object("products", {"name": f"P{i}", "price": "1"})
    everything = hubspot_client.crm.products.get_all(properties=["name"])
    assert len(everything) == 230
    assert len({p.id for p in everything}) == 230
    page = hubspot_client.crm.products.basic_api.get_page(limit=100)
    assert len(page.results) == 100 and page.paging.next.after == page.results[-1].id


def test_list_params_as_csv_and_limit_cap(hubspot_url: str, hubspot_state) -> None:
    cid = hubspot_state.create_object("contacts", {"email": "a@b.example", "firstname": "A"})
    headers = {"Authorization": "Bearer pat-sandbox"}
    r = httpx.get(
        f"{hubspot_url}/crm/v3/objects/contacts/{cid}?properties=email,firstname", headers=headers
    )
    assert r.status_code == 200 and r.json()["properties"]["firstname"] == "A"
    r = httpx.get(f"{hubspot_url}/crm/v3/objects/contacts?limit=101", headers=headers)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    dated = httpx.get(f"{hubspot_url}/crm/objects/2026-03/contacts/{cid}", headers=headers)
    assert dated.status_code == 200 and dated.json()["id"] == cid


def test_bad_token_is_401_in_hubspot_shape(hubspot_url: str) -> None:
    bad = HubSpot(access_token="pat-wrong", host=hubspot_url)
    with pytest.raises(ContactsApiException) as exc:
        bad.crm.contacts.basic_api.get_page()
    assert exc.value.status == 401
    body = error_body(exc.value)
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]
    assert httpx.get(f"{hubspot_url}/crm/v3/objects/contacts").status_code == 401
