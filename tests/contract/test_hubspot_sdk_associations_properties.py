"""Associations v4 (default, labelled, batch, labels) and the Properties API through the
official SDK."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.associations.v4.schema import PublicAssociationDefinitionCreateRequest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate


@pytest.fixture
def people(hubspot_state) -> tuple[str, str, str]:
    contact = hubspot_state.create_object("contacts", {"email": "ada@acme.example"})
    company = hubspot_state.create_object("companies", {"name": "Acme"})
    other = hubspot_state.create_object("companies", {"name": "Birch"})
    return contact, company, other


def _types(page) -> dict[str, set[int]]:
    return {r.to_object_id: {t.type_id for t in r.association_types} for r in page.results}


def test_default_association_both_directions(hubspot_client: HubSpot, people) -> None:
    contact, company, _ = people
    v4 = hubspot_client.crm.associations.v4.basic_api
    result = v4.create_default("contacts", contact, "companies", company)
    specs = {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in result.results}
    assert (contact, company, 279) in specs and (company, contact, 280) in specs
    assert _types(v4.get_page("contacts", contact, "companies")) == {company: {279}}
    assert _types(v4.get_page("companies", company, "contacts")) == {contact: {280}}
    # The v3-style read of a record lists its associations too.
    read = hubspot_client.crm.contacts.basic_api.get_by_id(contact, associations=["companies"])
    assert [(a.id, a.type) for a in read.associations["companies"].results] == [
        (company, "contact_to_company_unlabeled")
    ]
    v4.archive("contacts", contact, "companies", company)
    assert v4.get_page("contacts", contact, "companies").results == []


def test_labelled_primary_and_user_defined(hubspot_client: HubSpot, people) -> None:
    contact, company, other = people
    assoc = hubspot_client.crm.associations.v4
    made = assoc.basic_api.create(
        "contacts",
        contact,
        "companies",
        company,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )
    assert made.labels == ["Primary"]
    # A labelled link implies the unlabeled default type.
    assert _types(assoc.basic_api.get_page("contacts", contact, "companies")) == {company: {1, 279}}
    labels = assoc.schema.definitions_api.create(
        "contacts",
        "companies",
        PublicAssociationDefinitionCreateRequest(
            label="Billing contact", name="billing_contact", inverse_label="Billed company"
        ),
    )
    fwd_id = next(r.type_id for r in labels.results if r.label == "Billing contact")
    assoc.basic_api.create(
        "contacts",
        contact,
        "companies",
        other,
        [AssociationSpec(association_category="USER_DEFINED", association_type_id=fwd_id)],
    )
    page = assoc.basic_api.get_page("contacts", contact, "companies")
    by_id = {
        r.to_object_id: {(t.category, t.label) for t in r.association_types} for r in page.results
    }
    assert by_id[other] == {("HUBSPOT_DEFINED", None), ("USER_DEFINED", "Billing contact")}
    back = assoc.basic_api.get_page("companies", other, "contacts")
    assert ("USER_DEFINED", "Billed company") in {
        (t.category, t.label) for t in back.results[0].association_types
    }
    all_labels = assoc.schema.definitions_api.get_all("contacts", "companies")
    assert {"Primary", "Billing contact"} <= {r.label for r in all_labels.results}
    # Removing only the label keeps the default link.
    assoc.batch_api.archive_labels(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=PublicObjectId(id=contact),
                    to=PublicObjectId(id=other),
                    types=[
                        AssociationSpec(
                            association_category="USER_DEFINED", association_type_id=fwd_id
                        )
                    ],
                )
            ]
        ),
    )
    assert _types(assoc.basic_api.get_page("contacts", contact, "companies"))[other] == {279}
    with pytest.raises(Exception) as exc:
        assoc.basic_api.create(
            "contacts",
            contact,
            "companies",
            company,
            [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=177)],
        )
    assert exc.value.status == 400  # type: ignore[attr-defined]


def test_batch_associations(hubspot_client: HubSpot, people, hubspot_state) -> None:
    contact, company, other = people
    second = hubspot_state.create_object("contacts", {"email": "ben@acme.example"})
    batch = hubspot_client.crm.associations.v4.batch_api
    batch.create_default(
        "contacts",
        "companies",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=contact), to=PublicObjectId(id=company)
                ),
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=second), to=PublicObjectId(id=company)
                ),
            ]
        ),
    )
    created = batch.create(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=PublicObjectId(id=contact),
                    to=PublicObjectId(id=other),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=279
                        )
                    ],
                )
            ]
        ),
    )
    assert created.results[0].to_object_id == other
    read = batch.get_page(
        "contacts",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=contact),
                PublicFetchAssociationsBatchRequest(id=second),
            ]
        ),
    )
    by_from = {r._from.id: sorted(t.to_object_id for t in r.to) for r in read.results}
    assert by_from == {contact: sorted([company, other]), second: [company]}
    batch.archive(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiArchive(
            inputs=[
                PublicAssociationMultiArchive(
                    _from=PublicObjectId(id=contact),
                    to=[PublicObjectId(id=company), PublicObjectId(id=other)],
                )
            ]
        ),
    )
    again = batch.get_page(
        "contacts",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=contact)]
        ),
    )
    assert again.results == [] and again.num_errors == 1


def test_create_with_associations_in_body(hubspot_client: HubSpot, people) -> None:
    _, company, _ = people
    made = hubspot_client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create=ContactCreate(
            properties={"email": "new@acme.example"},
            associations=[
                {
                    "to": {"id": company},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
            ],
        )
    )
    page = hubspot_client.crm.associations.v4.basic_api.get_page("contacts", made.id, "companies")
    assert [r.to_object_id for r in page.results] == [company]


def test_custom_unique_property_and_upsert(hubspot_client: HubSpot) -> None:
    core = hubspot_client.crm.properties.core_api
    prop = core.create(
        "contacts",
        PropertyCreate(
            name="qbo_customer_id",
            label="QBO customer id",
            type="string",
            field_type="text",
            group_name="contactinformation",
            has_unique_value=True,
        ),
    )
    assert prop.has_unique_value is True and prop.hubspot_defined is False
    assert core.get_by_name("contacts", "qbo_customer_id").label == "QBO customer id"
    assert "qbo_customer_id" in {p.name for p in core.get_all("contacts").results}
    with pytest.raises(PropertiesApiException) as exc:
        core.create(
            "contacts",
            PropertyCreate(
                name="qbo_customer_id",
                label="again",
                type="string",
                field_type="text",
                group_name="contactinformation",
            ),
        )
    assert exc.value.status == 409

    contacts = hubspot_client.crm.contacts
    first = contacts.basic_api.create(
        simple_public_object_input_for_create=ContactCreate(
            properties={"email": "a@x.example", "qbo_customer_id": "58"}
        )
    )
    with pytest.raises(ContactsApiException) as exc:
        contacts.basic_api.create(
            simple_public_object_input_for_create=ContactCreate(
                properties={"email": "b@x.example", "qbo_customer_id": "58"}
            )
        )
    assert exc.value.status == 409
    upserted = contacts.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="58", id_property="qbo_customer_id", properties={"firstname": "Known"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="59", id_property="qbo_customer_id", properties={"email": "c@x.example"}
                ),
            ]
        )
    )
    result = {r.properties["qbo_customer_id"]: r for r in upserted.results}
    assert result["58"].id == first.id and result["58"].new is False
    assert result["59"].new is True
    with pytest.raises(ContactsApiException) as exc:
        contacts.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    SimplePublicObjectBatchInputUpsert(
                        id="x", id_property="firstname", properties={}
                    )
                ]
            )
        )
    assert exc.value.status == 400  # idProperty must be a unique-value property


def test_unknown_property_write_is_400_with_hubspot_body(hubspot_client: HubSpot) -> None:
    with pytest.raises(ContactsApiException) as exc:
        hubspot_client.crm.contacts.basic_api.create(
            simple_public_object_input_for_create=ContactCreate(
                properties={"email": "a@x.example", "testproperty": "1"}
            )
        )
    assert exc.value.status == 400
    body = json.loads(exc.value.body)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    detail = json.loads(body["message"].split(": ", 1)[1])
    assert detail[0]["error"] == "PROPERTY_DOESNT_EXIST" and detail[0]["name"] == "testproperty"
    assert body["errors"][0] == {
        "message": 'Property "testproperty" does not exist',
        "code": "PROPERTY_DOESNT_EXIST",
        "context": {"propertyName": ["testproperty"]},
    }
    assert body["correlationId"]


def test_enumeration_options_and_archive(hubspot_client: HubSpot) -> None:
    core = hubspot_client.crm.properties.core_api
    core.create(
        "invoices",
        PropertyCreate(
            name="ledgerbridge_sync_status",
            label="Sync status",
            type="enumeration",
            field_type="select",
            group_name="invoiceinformation",
            options=[
                {"label": "Synced", "value": "synced"},
                {"label": "Failed", "value": "failed"},
            ],
        ),
    )
    inv = hubspot_client.crm.commerce.invoices.basic_api
    from hubspot.crm.commerce.invoices import ApiException as InvoicesApiException
    from hubspot.crm.commerce.invoices import SimplePublicObjectInputForCreate as InvoiceCreate

    ok = inv.create(
        simple_public_object_input_for_create=InvoiceCreate(
            properties={"hs_currency": "USD", "ledgerbridge_sync_status": "synced"}
        )
    )
    assert ok.properties["ledgerbridge_sync_status"] == "synced"
    with pytest.raises(InvoicesApiException) as exc:
        inv.create(
            simple_public_object_input_for_create=InvoiceCreate(
                properties={"hs_currency": "USD", "ledgerbridge_sync_status": "bogus"}
            )
        )
    assert json.loads(exc.value.body)["errors"][0]["code"] == "INVALID_OPTION"
    core.archive("invoices", "ledgerbridge_sync_status")
    with pytest.raises(PropertiesApiException) as exc:
        core.get_by_name("invoices", "ledgerbridge_sync_status")
    assert exc.value.status == 404
    with pytest.raises(PropertiesApiException) as exc:
        core.archive("invoices", "hs_currency")
    assert exc.value.status == 400  # HubSpot-defined properties stay
