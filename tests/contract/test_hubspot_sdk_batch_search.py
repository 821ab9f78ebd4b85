"""Batch and search APIs through the official SDK: batch read/create/update/upsert/archive with
their multi-status answers, search filters/sorts/query/paging and the 10,000-result cap."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.products import ApiException as ProductsApiException
from hubspot.crm.products import PublicObjectSearchRequest as ProductSearch


def _create_contacts(client: HubSpot, n: int, **extra: str) -> list[str]:
    batch = client.crm.contacts.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"email": f"user{i}@example.com", "firstname": f"User{i}", **extra}
                )
                for i in range(n)
            ]
        )
    )
    return [r.id for r in batch.results]


def test_batch_create_read_update_archive(hubspot_client: HubSpot) -> None:
    batch = hubspot_client.crm.contacts.batch_api
    ids = _create_contacts(hubspot_client, 3)
    assert len(set(ids)) == 3

    read = batch.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert sorted(r.properties["email"] for r in read.results) == [
        f"user{i}@example.com" for i in range(3)
    ]
    assert read.status == "COMPLETE"

    updated = batch.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=i, properties={"lastname": "Batch"}) for i in ids
            ]
        )
    )
    assert {r.properties["lastname"] for r in updated.results} == {"Batch"}

    by_email = batch.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="user1@example.com")],
            id_property="email",
            properties=["lastname"],
            properties_with_history=[],
        )
    )
    assert by_email.results[0].id == ids[1]

    batch.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids[:2]]
        )
    )
    after = batch.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=[],
            properties_with_history=[],
        )
    )
    # Missing ids answer 207 with an error naming them, and the rest as results.
    assert [r.id for r in after.results] == [ids[2]]
    assert after.num_errors == 1
    assert after.errors[0].category == "OBJECT_NOT_FOUND"
    assert sorted(after.errors[0].context["ids"]) == sorted(ids[:2])


def test_batch_create_is_all_or_nothing_without_trace_ids(
    hubspot_client: HubSpot, hubspot_state
) -> None:
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.batch_api.create(
            batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties={"email": "ok@example.com"}),
                    SimplePublicObjectBatchInputForCreate(properties={"nope": "x"}),
                ]
            )
        )
    assert exc.value.status == 400
    assert hubspot_state.store.live("contacts") == []


def test_batch_create_with_trace_ids_is_multi_status(hubspot_client: HubSpot) -> None:
    result = hubspot_client.crm.contacts.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"email": "ok@example.com"}, object_write_trace_id="t1"
                ),
                SimplePublicObjectBatchInputForCreate(
                    properties={"nope": "x"}, object_write_trace_id="t2"
                ),
            ]
        )
    )
    assert [r.properties["email"] for r in result.results] == ["ok@example.com"]
    assert result.num_errors == 1 and result.errors[0].context["objectWriteTraceId"] == ["t2"]


def test_batch_limit_is_100(hubspot_client: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        hubspot_client.crm.contacts.batch_api.archive(
            batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)]
            )
        )
    assert exc.value.status == 400


def test_batch_upsert_by_unique_property(hubspot_client: HubSpot) -> None:
    existing = _create_contacts(hubspot_client, 1)[0]
    result = hubspot_client.crm.contacts.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="user0@example.com", id_property="email", properties={"lastname": "Old"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="new@example.com", id_property="email", properties={"lastname": "New"}
                ),
            ]
        )
    )
    by_email = {r.properties["email"]: r for r in result.results}
    assert (
        by_email["user0@example.com"].id == existing and by_email["user0@example.com"].new is False
    )
    assert by_email["new@example.com"].new is True
    assert by_email["new@example.com"].properties["lastname"] == "New"


def _search(client: HubSpot, **kw) -> object:
    return client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(**kw)
    )


def test_search_filters_operators_and_groups(hubspot_client: HubSpot, hubspot_state) -> None:
    for i, (name, score) in enumerate([("Ada", "10"), ("Ben", "25"), ("Chloe", "40"), ("Dev", "")]):
        hubspot_state.create_object(
            "contacts",
            {
                "email": f"{name.lower()}@x.example",
                "firstname": name,
                "lastname": "Smith" if i % 2 else "Jones",
                "zip": score or None,
            },
        )
    eq = _search(
        hubspot_client,
        filter_groups=[
            FilterGroup(filters=[Filter(property_name="firstname", operator="EQ", value="ada")])
        ],
    )
    assert eq.total == 1 and eq.results[0].properties["firstname"] == "Ada"  # case-insensitive
    both = _search(
        hubspot_client,
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(property_name="lastname", operator="EQ", value="Smith"),
                    Filter(property_name="firstname", operator="NEQ", value="Ben"),
                ]
            ),
            FilterGroup(
                filters=[Filter(property_name="firstname", operator="IN", values=["chloe"])]
            ),
        ],
    )
    assert sorted(r.properties["firstname"] for r in both.results) == ["Chloe", "Dev"]
    has = _search(
        hubspot_client,
        filter_groups=[FilterGroup(filters=[Filter(property_name="zip", operator="HAS_PROPERTY")])],
        properties=["zip"],
    )
    assert has.total == 3
    token = _search(
        hubspot_client,
        filter_groups=[
            FilterGroup(
                filters=[Filter(property_name="email", operator="CONTAINS_TOKEN", value="chl*")]
            )
        ],
    )
    assert token.total == 1
    query = _search(hubspot_client, query="jones")
    assert query.total == 2


def test_search_sorts_numbers_and_dates_and_pages(hubspot_client: HubSpot, hubspot_state) -> None:
    for price in ["9.5", "100", "20", "3"]:
        hubspot_state.create_object("products", {"name": f"P{price}", "price": price})
    products = hubspot_client.crm.products.search_api
    desc = products.do_search(
        public_object_search_request=ProductSearch(
            sorts=[{"propertyName": "price", "direction": "DESCENDING"}],
            properties=["price"],
            limit=2,
        )
    )
    assert [r.properties["price"] for r in desc.results] == ["100", "20"]
    assert desc.paging.next.after == "2"
    rest = products.do_search(
        public_object_search_request=ProductSearch(
            sorts=[{"propertyName": "price", "direction": "DESCENDING"}],
            properties=["price"],
            limit=2,
            after=desc.paging.next.after,
        )
    )
    assert [r.properties["price"] for r in rest.results] == ["9.5", "3"] and rest.paging is None
    # The SDK types sorts as strings; a leading '-' means descending.
    as_string = products.do_search(
        public_object_search_request=ProductSearch(sorts=["-price"], properties=["price"], limit=1)
    )
    assert as_string.results[0].properties["price"] == "100"
    gt = products.do_search(
        public_object_search_request=ProductSearch(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "price",
                            "operator": "BETWEEN",
                            "value": "5",
                            "highValue": "50",
                        }
                    ]
                }
            ]
        )
    )
    assert gt.total == 2
    newest = max(hubspot_state.store.live("products"), key=lambda r: int(r.id))
    since = products.do_search(
        public_object_search_request=ProductSearch(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(newest.updated_ms),
                        }
                    ]
                }
            ]
        )
    )
    assert [r.id for r in since.results] == [newest.id]


def test_search_limits(hubspot_client: HubSpot) -> None:
    products = hubspot_client.crm.products.search_api
    with pytest.raises(ProductsApiException) as exc:
        products.do_search(public_object_search_request=ProductSearch(limit=201))
    assert exc.value.status == 400
    groups = [
        {"filters": [{"propertyName": "name", "operator": "EQ", "value": str(i)}]} for i in range(6)
    ]
    with pytest.raises(ProductsApiException) as exc:
        products.do_search(public_object_search_request=ProductSearch(filter_groups=groups))
    assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"
    with pytest.raises(ProductsApiException):
        products.do_search(
            public_object_search_request=ProductSearch(
                filter_groups=[
                    {"filters": [{"propertyName": "no_such_prop", "operator": "EQ", "value": "1"}]}
                ]
            )
        )


def test_search_caps_at_10000_results(hubspot_client: HubSpot, hubspot_state) -> None:
    with hubspot_state.batch():
        for i in range(10_050):
            hubspot_state.create_object("products", {"name": f"bulk {i}"})
    products = hubspot_client.crm.products.search_api
    last = products.do_search(public_object_search_request=ProductSearch(limit=200, after="9900"))
    assert last.total == 10_050  # the total is honest...
    assert len(last.results) == 100  # ...but no page reaches past result 10,000
    assert last.paging.next.after == "10000"
    with pytest.raises(ProductsApiException) as exc:
        products.do_search(
            public_object_search_request=ProductSearch(limit=10, after=last.paging.next.after)
        )
    assert exc.value.status == 400
