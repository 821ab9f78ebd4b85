"""The merge and the agreement rules of customers and items after creation (pure)."""

from __future__ import annotations

from decimal import Decimal

from ledgerbridge.domain import Address, Customer, Product, Side
from ledgerbridge.engine.compare import compare_customer, compare_product, customer_values
from ledgerbridge.engine.masterdata import apply_customer, apply_product, merge


def test_one_side_changed_is_copied_both_changed_goes_to_the_owner() -> None:
    base = {"phone": "1", "email": "a@x.example", "first_name": "Ada"}
    hs = {"phone": "2", "email": "a@x.example", "first_name": "Ada L."}
    qbo = {"phone": "1", "email": "b@x.example", "first_name": "Ada M."}
    to_qbo, to_hs, conflicts = merge(base, hs, qbo, Side.HUBSPOT)
    assert to_qbo == ["phone", "first_name"]
    assert to_hs == ["email"]
    assert conflicts == [("first_name", "Ada L.", "Ada M.", Side.HUBSPOT)]
    # QuickBooks owning the field: its value goes to HubSpot instead.
    to_qbo, to_hs, _ = merge(base, hs, qbo, Side.QUICKBOOKS)
    assert to_qbo == ["phone"] and to_hs == ["email", "first_name"]


def test_an_unchanged_version_means_unchanged_whatever_the_values() -> None:
    base = {"phone": "1"}
    to_qbo, to_hs, conflicts = merge(
        base, {"phone": "2"}, {"phone": "3"}, Side.HUBSPOT, hs_changed=False
    )
    assert (to_qbo, to_hs, conflicts) == ([], ["phone"], [])


def test_without_a_base_blanks_are_filled_and_nothing_is_overwritten() -> None:
    hs = {"name": "A", "phone": None, "email": "a@x.example"}
    qbo = {"name": "B", "phone": "555", "email": None}
    to_qbo, to_hs, conflicts = merge(None, hs, qbo, Side.QUICKBOOKS)
    assert (to_qbo, to_hs, conflicts) == (["email"], ["phone"], [])
    # A field missing from a base counts as having none; the others merge as usual.
    assert merge({"name": "A"}, hs, qbo, Side.HUBSPOT)[:2] == (["email"], ["name", "phone"])


def test_customer_agreement_is_on_normalized_text() -> None:
    hs = Customer(email=" Ada@X.example ", first_name="Ada  ", phone="555 0100")
    qbo = Customer(email="ada@x.example", first_name="Ada", phone="555  0100")
    assert compare_customer(hs, qbo) == []
    moved = Customer(address=Address(line1=None, city="Portland"))
    other = Customer(address=Address(line1="Portland"))
    assert [d.field for d in compare_customer(moved, other)] == ["billing_address"]
    assert customer_values(Customer(address=Address()))["billing_address"] is None


def test_item_agreement_prices_exact_and_active() -> None:
    a = Product(name="Audit", unit_price=Decimal("850.00"))
    assert compare_product(a, Product(name="Audit", unit_price=Decimal("850"))) == []
    diffs = compare_product(a, Product(name="Audit", unit_price=Decimal("850.01"), active=False))
    assert [(d.field, d.hubspot, d.quickbooks) for d in diffs] == [
        ("unit_price", "850", "850.01"),
        ("active", "yes", "no"),
    ]


def test_apply_copies_only_the_named_fields() -> None:
    target = Customer(email="a@x.example", first_name="Ada", phone="1", id="7")
    source = Customer(email="b@x.example", first_name="Eve", phone="2")
    out = apply_customer(target, source, ["phone"])
    assert (out.email, out.first_name, out.phone, out.id) == ("a@x.example", "Ada", "2", "7")
    item = apply_product(Product(name="A", unit_price=Decimal(1)), Product(name="B"), ["name"])
    assert (item.name, item.unit_price) == ("B", Decimal(1))


def test_a_company_rename_swaps_the_old_name_at_the_start_of_the_display_name() -> None:
    from ledgerbridge.engine.masterdata import renamed_display_name

    assert renamed_display_name("Birch Works", "Birch Works", "Birch & Sons") == "Birch & Sons"
    assert renamed_display_name("birch works", "Birch Works", "Birch & Sons") == "Birch & Sons"
    assert (
        renamed_display_name("Birch Works (EUR)", "Birch Works", "Birch & Sons")
        == "Birch & Sons (EUR)"
    )
    assert (
        renamed_display_name("Birch Works (2)", "Birch Works", "Birch & Sons") == "Birch & Sons (2)"
    )
    # A name a bookkeeper chose is kept.
    assert renamed_display_name("B. Works Ltd", "Birch Works", "Birch & Sons") is None
    assert renamed_display_name("Birch Workshop", "Birch Works", "Birch & Sons") is None
