"""The CRM search API: filterGroups (groups ORed, filters ANDed), operators, one sort, `query`,
paging with an integer `after`, and the caps (200 per page, 10,000 results per query,
5 groups / 6 filters per group / 18 filters)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from . import plan
from .errors import validation
from .index import key_of
from .schema import ObjectType, resolve_type
from .store import Record

if TYPE_CHECKING:
    from .state import SandboxState

MAX_PAGE = 200
MAX_RESULTS = 10_000
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}


class _Compare:
    """Compares a stored value with filter values according to the property's type."""

    def __init__(self, ptype: str) -> None:
        self.ptype = ptype
        self.key = key_of(ptype)  # the same keys the indexes hold


@functools.lru_cache(maxsize=256)
def _token_regex(pattern: str) -> re.Pattern[str]:
    # One compile per pattern, not per record: a search over 10,000 records stays quick.
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.lower().split("*")) + "$")


_SEPARATORS = re.compile(r"[\s,;@.\-_/]+")


def _token_match(value: str, pattern: str) -> bool:
    regex = _token_regex(pattern)
    lowered = value.lower()
    tokens = [*_SEPARATORS.split(lowered), lowered]
    return any(regex.match(tok) for tok in tokens if tok)


def _matches(state: SandboxState, t: ObjectType, rec: Record, f: dict[str, Any]) -> bool:
    prop = f.get("propertyName", "")
    op = f.get("operator", "EQ")
    if prop.startswith("associations."):
        to = resolve_type(prop.split(".", 1)[1])
        ids = set(state.graph.targets(t.name, rec.id, to.name)) if to else set()
        wanted = {str(v) for v in (f.get("values") or [f.get("value")]) if v is not None}
        hit = bool(ids & wanted)
        return not hit if op in ("NEQ", "NOT_IN") else hit
    d = state.props.get(t.name, prop)
    if d is None:
        raise validation(
            f"There was a problem with the request: property {prop} does not exist",
            sub_category="crm.search.INVALID_PROPERTY",
        )
    raw = rec.properties.get(prop)
    if op == "HAS_PROPERTY":
        return raw not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return raw in (None, "")
    cmp = _Compare(d["type"])
    if op in ("IN", "NOT_IN"):
        # Converted once per search, not once per record (the filter dict is this request's).
        values = f.get("_keys")
        if values is None:
            values = f["_keys"] = {cmp.key(v) for v in f.get("values") or []}
        hit = raw is not None and cmp.key(raw) in values
        return hit if op == "IN" else not hit
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = raw is not None and _token_match(raw, str(f.get("value", "")))
        return hit if op == "CONTAINS_TOKEN" else not hit
    if raw is None:
        return op == "NEQ"
    have, want = cmp.key(raw), cmp.key(f.get("value", ""))
    if have is None or want is None:
        return op == "NEQ"
    if op == "EQ":
        return bool(have == want)
    if op == "NEQ":
        return bool(have != want)
    if op == "BETWEEN":
        high = cmp.key(f.get("highValue", ""))
        return high is not None and want <= have <= high
    try:
        return bool(
            {"LT": have < want, "LTE": have <= want, "GT": have > want, "GTE": have >= want}[op]
        )
    except TypeError:
        return False


def _validate(body: dict[str, Any]) -> None:
    groups = body.get("filterGroups") or []
    if len(groups) > 5:
        raise validation(
            "There was a problem with the request: at most 5 filterGroups are allowed",
            sub_category="crm.search.TOO_MANY_FILTER_GROUPS",
        )
    total = 0
    for g in groups:
        filters = g.get("filters") or []
        total += len(filters)
        if len(filters) > 6:
            raise validation(
                "There was a problem with the request: at most 6 filters per group",
                sub_category="crm.search.TOO_MANY_FILTERS",
            )
        for f in filters:
            if f.get("operator", "EQ") not in OPERATORS:
                raise validation(f"Invalid operator {f.get('operator')!r}")
    if total > 18:
        raise validation(
            "There was a problem with the request: at most 18 filters in total",
            sub_category="crm.search.TOO_MANY_FILTERS",
        )
    if len(str(body.get("query") or "")) > 3000:
        raise validation("query is longer than 3000 characters")


def _sort_key(state: SandboxState, t: ObjectType, sort: Any) -> tuple[str, bool]:
    """Sorts arrive as objects `{propertyName, direction}` (docs) or strings (the spec/SDK);
    a string may carry a leading '-' for descending."""
    if isinstance(sort, str):
        return (sort[1:], True) if sort.startswith("-") else (sort, False)
    return str(sort.get("propertyName", "")), str(
        sort.get("direction", "ASCENDING")
    ).upper().startswith("DESC")


def search(
    state: SandboxState, t: ObjectType, body: dict[str, Any], *, use_index: bool = True
) -> tuple[int, list[Record], int | None]:
    """Returns (total, page, next after or None). `use_index=False` scans every record (the
    reference the indexed answers are tested against)."""
    _validate(body)
    limit = int(body.get("limit") or 10)
    if limit < 1 or limit > MAX_PAGE:
        raise validation(f"limit must be between 1 and {MAX_PAGE}")
    try:
        after = int(body.get("after") or 0)
    except ValueError:
        raise validation(f"after must be an integer: {body.get('after')!r}") from None
    if after >= MAX_RESULTS:
        raise validation(
            f"There was a problem with the request: paging past {MAX_RESULTS} "
            "results is not supported; narrow the query",
            sub_category="crm.search.TOO_MANY_RESULTS",
        )
    groups = body.get("filterGroups") or []
    for g in groups:
        for f in g.get("filters") or []:
            prop = str(f.get("propertyName", ""))
            if not prop.startswith("associations.") and state.props.get(t.name, prop) is None:
                raise validation(
                    f"There was a problem with the request: property {prop} does not "
                    f"exist for {t.name}",
                    sub_category="crm.search.INVALID_PROPERTY",
                )
    query = str(body.get("query") or "").strip().lower()
    sorts = body.get("sorts") or []
    sort = _sort_key(state, t, sorts[0]) if sorts else ("hs_object_id", False)
    if use_index and not query:
        fast = plan.ordered_page(state, t, groups, sort, after, limit)
        if fast is not None:
            return _paged(*fast, after, limit)
    pool = plan.candidates(state, t, groups) if use_index else None
    records = state.store.live(t.name) if pool is None else pool
    hits = []
    for rec in records:
        if groups and not any(
            all(_matches(state, t, rec, f) for f in g.get("filters") or []) for g in groups
        ):
            continue
        if query and not any(
            query in (rec.properties.get(p) or "").lower() for p in t.search_text_props
        ):
            continue
        hits.append(rec)
    hits.sort(key=lambda r: int(r.id))
    if sorts:
        prop, desc = sort
        d = state.props.get(t.name, prop)
        cmp = _Compare(d["type"] if d else "string")
        present = [
            r
            for r in hits
            if r.properties.get(prop) not in (None, "") and cmp.key(r.properties[prop]) is not None
        ]
        present_ids = {r.id for r in present}
        missing = [r for r in hits if r.id not in present_ids]
        present.sort(key=lambda r: cmp.key(r.properties[prop]), reverse=desc)
        hits = present + missing
    total = len(hits)
    end = min(after + limit, total, MAX_RESULTS)
    return _paged(total, hits[after:end], after, limit)


def _paged(
    total: int, page: list[Record], after: int, limit: int
) -> tuple[int, list[Record], int | None]:
    end = min(after + limit, total, MAX_RESULTS)
    next_after = (
        end if end < min(total, MAX_RESULTS) or (end == MAX_RESULTS and total > end) else None
    )
    return total, page, next_after
