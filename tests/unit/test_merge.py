"""Three-way merge per field against each side's base."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import Direction, Owner
from ledgerbridge.engine.merge import FieldRule, three_way_merge
from ledgerbridge.engine.snapshot import equivalent

RULES = [FieldRule("due_date"), FieldRule("memo"), FieldRule("lines")]
BASE = {
    "due_date": "2026-10-31",
    "memo": "thanks",
    "lines": [{"quantity": "1", "unit_price": "10", "kind": "product"}],
}


def merge(
    hs: dict[str, Any],
    qbo: dict[str, Any],
    origin: Side = Side.HUBSPOT,
    rules: list[FieldRule] = RULES,
    base_hs: dict[str, Any] | None = BASE,
    base_qbo: dict[str, Any] | None = BASE,
):
    return three_way_merge(rules, origin, hs, qbo, base_hs, base_qbo, equivalent)


def test_nothing_changed() -> None:
    result = merge(dict(BASE), dict(BASE))
    assert result.in_sync and not result.conflicts


def test_changed_on_one_side_is_copied_across() -> None:
    result = merge({**BASE, "due_date": "2026-11-15"}, dict(BASE))
    assert result.to_quickbooks == ("due_date",) and result.to_hubspot == ()
    result = merge(dict(BASE), {**BASE, "memo": "net 30"})
    assert result.to_hubspot == ("memo",) and result.to_quickbooks == ()
    assert not result.conflicts


def test_both_changed_owner_wins_and_loser_is_reported() -> None:
    hs = {**BASE, "due_date": "2026-11-15"}
    qbo = {**BASE, "due_date": "2026-12-01"}
    result = merge(hs, qbo, origin=Side.HUBSPOT)
    assert result.to_quickbooks == ("due_date",)
    (conflict,) = result.conflicts
    assert conflict.winner is Side.HUBSPOT
    assert conflict.overwritten == "2026-12-01"
    assert conflict.base == "2026-10-31"
    # same edit, QBO-origin invoice: QBO wins
    result = merge(hs, qbo, origin=Side.QUICKBOOKS)
    assert result.to_hubspot == ("due_date",)
    assert result.conflicts[0].overwritten == "2026-11-15"


def test_explicit_owner_beats_origin() -> None:
    rules = [FieldRule("memo", owner=Owner.QUICKBOOKS)]
    result = merge(
        {"memo": "a"}, {"memo": "b"}, rules=rules, base_hs={"memo": "x"}, base_qbo={"memo": "x"}
    )
    assert result.to_hubspot == ("memo",)


def test_both_changed_to_the_same_value_is_no_conflict() -> None:
    result = merge({**BASE, "memo": "same"}, {**BASE, "memo": "same"})
    assert result.in_sync and not result.conflicts


def test_lines_compare_by_quantity_price_and_kind_across_sides() -> None:
    hs_lines = [
        {"name": "Consulting", "sku": "C1", "quantity": "2", "unit_price": "10", "kind": "product"}
    ]
    qbo_lines = [
        {
            "name": "Consulting hour (item)",
            "sku": None,
            "quantity": "2",
            "unit_price": "10",
            "kind": "product",
        }
    ]
    result = merge({**BASE, "lines": hs_lines}, {**BASE, "lines": qbo_lines})
    assert result.in_sync  # both changed to equivalent lines


def test_one_way_field_edited_on_mirror_is_written_back_and_reported() -> None:
    rules = [FieldRule("lines", direction=Direction.FROM_ORIGIN)]
    edited = {"lines": [{"quantity": "5", "unit_price": "10", "kind": "product"}]}
    result = merge(dict(BASE), {**BASE, **edited}, rules=rules)
    assert result.to_quickbooks == ("lines",)  # HubSpot (origin) is the truth
    (conflict,) = result.conflicts
    assert conflict.winner is Side.HUBSPOT and conflict.overwritten == edited["lines"]
    assert conflict.reason == "one-way field edited on the mirror side"


def test_direction_none_never_writes() -> None:
    rules = [FieldRule("memo", direction=Direction.NONE)]
    result = merge(
        {"memo": "a"}, {"memo": "b"}, rules=rules, base_hs={"memo": "x"}, base_qbo={"memo": "x"}
    )
    assert result.in_sync and not result.conflicts


def test_missing_base_means_owner_wins_on_differences() -> None:
    result = merge({**BASE, "memo": "hs"}, {**BASE, "memo": "qbo"}, base_hs=None, base_qbo=None)
    assert result.to_quickbooks == ("memo",)
    assert result.to_hubspot == ()


def test_changed_fields_are_listed_per_side() -> None:
    result = merge({**BASE, "memo": "x"}, {**BASE, "due_date": "2027-01-01"})
    assert result.changed_hubspot == ("memo",)
    assert result.changed_quickbooks == ("due_date",)


values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


@given(base=values, hs=values, qbo=values, origin=st.sampled_from(list(Side)))
def test_merge_converges(base: str | None, hs: str | None, qbo: str | None, origin: Side) -> None:
    """Applying the merge's writes always leaves both sides equal, and a side is only
    overwritten where it did not change or lost a reported conflict."""
    rules = [FieldRule("f")]
    result = three_way_merge(rules, origin, {"f": hs}, {"f": qbo}, {"f": base}, {"f": base})
    new_hs = qbo if "f" in result.to_hubspot else hs
    new_qbo = hs if "f" in result.to_quickbooks else qbo
    assert new_hs == new_qbo
    if hs != base and qbo != base and hs != qbo:
        assert len(result.conflicts) == 1
        assert result.conflicts[0].winner is origin
    else:
        assert not result.conflicts
    # a side that changed alone is never overwritten
    if hs != base and qbo == base:
        assert new_hs == hs
    if qbo != base and hs == base:
        assert new_qbo == qbo
