"""The HubSpot sandbox's indexed search answers exactly what a scan of every record answers:
same total, same page in the same order, same `after` for the next page, on random portals
(creates, updates, archives, associations) and random searches."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerbridge.sandbox.hubspot.clock import FakeClock
from ledgerbridge.sandbox.hubspot.routes_objects import _after
from ledgerbridge.sandbox.hubspot.sandbox import HubSpotSandbox
from ledgerbridge.sandbox.hubspot.search import search
from ledgerbridge.sandbox.hubspot.state import object_type

PRICES = ["1", "2.50", "2.5", "10", "99"]
SKUS = ["A-1", "a-1", "B-2", "C-3", "D-4"]
OPS = ["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY"]


def _build(draw: Any) -> tuple[HubSpotSandbox, list[str], list[str]]:
    clock = FakeClock()
    sb = HubSpotSandbox(clock=clock)
    products: list[str] = []
    contacts: list[str] = []
    for step in draw(st.lists(st.integers(0, 9), min_size=1, max_size=40)):
        clock.advance(draw(st.sampled_from([0, 0.001, 1, 60])))
        if step <= 3 or not products:
            props = {"dealname": f"P{draw(st.integers(0, 5))}"}
            if draw(st.booleans()):
                props["amount"] = draw(st.sampled_from(PRICES))
            if draw(st.booleans()):
                props["dealstage"] = draw(st.sampled_from(SKUS))
            products.append(sb.create_object("deals", props))
        elif step <= 5:
            pid = draw(st.sampled_from(products))
            if sb.get_object("deals", pid) is not None:
                sb.update_object("deals", pid, {"amount": draw(st.sampled_from(PRICES + [""]))})
        elif step == 6:
            sb.archive_object("deals", draw(st.sampled_from(products)))
        elif step == 7:
            contacts.append(sb.create_object("contacts", {"email": f"c{len(contacts)}@x.test"}))
        elif contacts:
            pid = draw(st.sampled_from(products))
            if sb.get_object("deals", pid) is not None:
                sb.associate("contacts", draw(st.sampled_from(contacts)), "deals", pid)
    return sb, products, contacts


def _value(draw: Any, prop: str, sb: HubSpotSandbox, ids: list[str], contacts: list[str]) -> str:
    if prop in ("hs_lastmodifieddate", "createdate"):
        rec = sb.store.of("deals").get(draw(st.sampled_from(ids)))
        base = int(rec.updated_ms if rec else 0) + draw(st.sampled_from([-1, 0, 0, 1]))
        return draw(st.sampled_from([str(base), rec.properties[prop] if rec else "x"]))
    if prop == "hs_object_id":
        return str(int(draw(st.sampled_from(ids))) + draw(st.sampled_from([-1, 0, 1])))
    if prop == "amount":
        return draw(st.sampled_from(PRICES + ["abc"]))
    if prop == "dealstage":
        return draw(st.sampled_from(SKUS))
    if prop == "associations.contact":
        return draw(st.sampled_from(contacts or ["1"]))
    return f"P{draw(st.integers(0, 5))}"


def _filter(draw: Any, sb: HubSpotSandbox, ids: list[str], contacts: list[str]) -> dict[str, Any]:
    prop = draw(
        st.sampled_from(
            [
                "hs_lastmodifieddate",
                "hs_lastmodifieddate",
                "createdate",
                "hs_object_id",
                "amount",
                "dealstage",
                "dealname",
                "associations.contact",
            ]
        )
    )
    op = draw(st.sampled_from(OPS))
    f: dict[str, Any] = {"propertyName": prop, "operator": op}
    if op in ("IN", "NOT_IN"):
        f["values"] = [
            _value(draw, prop, sb, ids, contacts) for _ in range(draw(st.integers(1, 3)))
        ]
    elif op != "HAS_PROPERTY":
        f["value"] = _value(draw, prop, sb, ids, contacts)
    if op == "BETWEEN":
        f["highValue"] = _value(draw, prop, sb, ids, contacts)
    return f


@st.composite
def portal_and_search(draw: Any) -> tuple[HubSpotSandbox, dict[str, Any]]:
    sb, ids, contacts = _build(draw)
    groups = [
        {"filters": [_filter(draw, sb, ids, contacts) for _ in range(draw(st.integers(1, 3)))]}
        for _ in range(draw(st.integers(0, 3)))
    ]
    body: dict[str, Any] = {
        "filterGroups": groups,
        "limit": draw(st.integers(1, 12)),
        "after": draw(st.integers(0, 15)),
    }
    if draw(st.booleans()):
        prop = draw(
            st.sampled_from(
                ["hs_lastmodifieddate", "createdate", "amount", "hs_object_id", "dealname"]
            )
        )
        body["sorts"] = [
            {"propertyName": prop, "direction": draw(st.sampled_from(["ASCENDING", "DESCENDING"]))}
        ]
    return sb, body


def _answer(sb: HubSpotSandbox, body: dict[str, Any], use_index: bool, kind: str = "deals") -> Any:
    total, page, after = search(sb, object_type(kind), body, use_index=use_index)
    return total, [r.id for r in page], after


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portal_and_search())
def test_indexed_search_equals_full_scan(case: tuple[HubSpotSandbox, dict[str, Any]]) -> None:
    sb, body = case
    assert _answer(sb, body, True) == _answer(sb, body, False)


def test_change_feed_shape_is_answered_from_the_index_in_order() -> None:
    """The connector's feed query (modified > T, or = T and id > I) pages in (value, id) order
    over a portal whose writes share timestamps."""
    clock = FakeClock()
    sb = HubSpotSandbox(clock=clock)
    ids = [sb.create_object("products", {"name": f"P{i}", "price": str(i % 3)}) for i in range(50)]
    t = object_type("products")
    # Records with equal prices sort by id; walking the sort with `after` visits all once.
    seen: list[str] = []
    after = 0
    while True:
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "price", "operator": "GTE", "value": "0"}]}
            ],
            "sorts": [{"propertyName": "price", "direction": "DESCENDING"}],
            "limit": 7,
            "after": after,
        }
        total, page, nxt = search(sb, t, body)
        assert (total, [r.id for r in page], nxt) == _answer(sb, body, False, "products")
        seen += [r.id for r in page]
        if nxt is None:
            break
        after = nxt
    assert total == 50
    by_price = sorted(
        ids, key=lambda i: (-int(sb.get_object("products", i).properties["price"]), int(i))
    )
    assert seen == by_price


@st.composite
def portal_and_page(draw: Any) -> tuple[HubSpotSandbox, int, int]:
    sb, ids, _ = _build(draw)
    after = int(draw(st.sampled_from(ids))) + draw(st.sampled_from([-1, 0, 1])) if ids else 0
    return sb, after, draw(st.integers(1, 10))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portal_and_page())
def test_list_page_from_the_id_index_equals_a_scan(case: tuple[HubSpotSandbox, int, int]) -> None:
    sb, after, limit = case
    scanned = sorted(
        (r for r in sb.store.of("deals").values() if not r.archived and int(r.id) > after),
        key=lambda r: int(r.id),
    )
    assert [r.id for r in _after(sb, "deals", after, limit, False)] == [
        r.id for r in scanned[: limit + 1]
    ]
