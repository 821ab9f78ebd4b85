"""Field mappings and SyncSettings: defaults, directions, custom fields, DocNumber strategy."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.domain import Invoice, LineItem, Side
from ledgerbridge.engine.fieldmap import (
    DEFAULT_MAPPINGS,
    F_LINES,
    PO_PROPERTY,
    CustomFieldMapping,
    Direction,
    DocNumberStrategy,
    FieldMapping,
    Owner,
    ProductNotFoundPolicy,
    SyncSettings,
)
from ledgerbridge.engine.filters import FilterOp, FilterRule


def test_defaults_are_sensible() -> None:
    s = SyncSettings()
    assert s.doc_number is DocNumberStrategy.QBO_ASSIGNS
    assert s.product_not_found is ProductNotFoundPolicy.CREATE_ITEM
    assert s.customer_match_key == "email"
    assert s.filters == []
    assert [m.field for m in s.field_mappings] == [m.field for m in DEFAULT_MAPPINGS]
    assert all(m.direction is Direction.BOTH and m.owner is Owner.ORIGIN for m in s.field_mappings)
    assert s.custom_mappings == [
        CustomFieldMapping(hubspot_property=PO_PROPERTY, qbo_field="PO Number")
    ]
    assert s.invoices.allows(Side.HUBSPOT) and s.payments.allows(Side.QUICKBOOKS)


def test_settings_round_trip_json() -> None:
    s = SyncSettings(
        filters=[FilterRule(field="currency", op=FilterOp.EQ, value="USD")],
        custom_mappings=[
            CustomFieldMapping(
                hubspot_property="project_code",
                qbo_definition_id="2",
                direction=Direction.HUBSPOT_TO_QBO,
            )
        ],
        doc_number=DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER,
        doc_number_prefix="HS",
        product_not_found=ProductNotFoundPolicy.USE_DEFAULT_ITEM,
        field_mappings=[FieldMapping(field=F_LINES, hubspot="x", qbo="y", owner=Owner.HUBSPOT)],
    )
    again = SyncSettings.from_json(s.to_json())
    assert again == s
    assert SyncSettings.model_validate({}) == SyncSettings()  # empty stored settings = defaults


def test_doc_number_strategies() -> None:
    assert SyncSettings().doc_number_for("1042") is None
    assert (
        SyncSettings(doc_number=DocNumberStrategy.HUBSPOT_NUMBER).doc_number_for("1042") == "1042"
    )
    prefixed = SyncSettings(
        doc_number=DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER, doc_number_prefix="HS-"
    )
    assert prefixed.doc_number_for("1042") == "HS-1042"
    assert prefixed.doc_number_for(None) is None  # nothing to prefix: QBO assigns


def test_direction_rules() -> None:
    assert Direction.BOTH.allows(Side.QUICKBOOKS, Side.HUBSPOT)
    assert Direction.HUBSPOT_TO_QBO.allows(Side.HUBSPOT, Side.QUICKBOOKS)
    assert not Direction.HUBSPOT_TO_QBO.allows(Side.QUICKBOOKS, Side.QUICKBOOKS)
    assert Direction.FROM_ORIGIN.allows(Side.QUICKBOOKS, Side.QUICKBOOKS)
    assert not Direction.FROM_ORIGIN.allows(Side.HUBSPOT, Side.QUICKBOOKS)
    assert not Direction.NONE.allows(Side.HUBSPOT, Side.HUBSPOT)
    assert Owner.ORIGIN.side(Side.QUICKBOOKS) is Side.QUICKBOOKS
    assert Owner.HUBSPOT.side(Side.QUICKBOOKS) is Side.HUBSPOT


def _inv(**kw: object) -> Invoice:
    return Invoice(currency="USD", lines=(LineItem("a", Decimal(1), Decimal(1)),), **kw)  # type: ignore[arg-type]


def test_po_number_custom_mapping_reads_both_sides() -> None:
    po = CustomFieldMapping(hubspot_property=PO_PROPERTY, qbo_field="PO Number")
    assert po.hubspot_value(_inv(custom_fields={PO_PROPERTY: " PO-7 "})) == "PO-7"
    assert po.hubspot_value(_inv(po_number="PO-8")) == "PO-8"  # connector put it on po_number
    assert po.qbo_value(_inv(custom_fields={"PO Number": "PO-9"})) == "PO-9"
    assert po.qbo_value(_inv()) is None
    assert po.key == "custom:hs_purchase_order_number"
    assert po.qbo_ref == "PO Number"


def test_custom_mapping_by_definition_id() -> None:
    m = CustomFieldMapping(hubspot_property="crew", qbo_field="Crew #", qbo_definition_id="1")
    assert m.qbo_ref == "1"
    assert m.qbo_value(_inv(custom_fields={"1": "7"})) == "7"
    assert m.qbo_value(_inv(custom_fields={"Crew #": "8"})) == "8"
    assert m.hubspot_value(_inv(custom_fields={"crew": ""})) is None
