"""QBO's query language: parse and run `SELECT * | count(*) FROM Entity [WHERE ...]
[ORDER BY | ORDERBY ...] [STARTPOSITION n] [MAXRESULTS m]`.

Grammar details honoured: keywords in any case, `AND` only (`OR` is a parse error, 4000),
operators `= < > <= >= IN LIKE` (`LIKE` with `%` only), `'` escaped as `\\'`, `true`/`True`,
numbers quoted or not, property paths such as `MetaData.LastUpdatedTime` (any case). Unknown
entities and properties are 4001 faults. Inactive name-list records are left out unless the
query filters on `Active`. MAXRESULTS defaults to 100 and is capped at 1000; STARTPOSITION is
1-based. The answer's `maxResults` is the number of rows returned; `totalCount` only comes
with `count(*)`; an empty page is `{}`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors, schema
from ledgerbridge.sandbox.quickbooks.company import Company
from ledgerbridge.sandbox.quickbooks.wire import parse_time, to_decimal

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<op><=|>=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][\w.]*))"
)


@dataclass
class Condition:
    path: list[str]
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None = all
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[list[str], bool]] = field(default_factory=list)  # (path, descending)
    start: int = 1
    limit: int = DEFAULT_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise errors.query_parse(
                f'Lexical error at line 1, column {pos + 1}.  Encountered: "{text[pos]}"'
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() in words:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            kind, value = self.peek()
            raise errors.query_parse(
                f'Encountered " "{value or "<EOF>"}" " at line 1. Was expecting: "{word}"'
            )

    def parse(self, company: Company) -> Query:
        self.expect_keyword("SELECT")
        count, fields = self._select_list()
        self.expect_keyword("FROM")
        kind, name = self.take()
        entity = schema.BY_LOWER.get(name.lower()) if kind == "word" else None
        if entity is None:
            raise errors.query_invalid(f"invalid context declaration: {name}")
        query = Query(entity=entity, count=count, fields=fields)
        if self.keyword("WHERE"):
            query.conditions.append(self._condition(entity))
            while self.keyword("AND"):
                query.conditions.append(self._condition(entity))
        while self.peek()[0] != "eof":
            if self.keyword("ORDERBY") or (self.keyword("ORDER") and self._by()):
                query.order = self._order(entity)
            elif self.keyword("STARTPOSITION"):
                query.start = max(1, self._int())
            elif self.keyword("MAXRESULTS"):
                query.limit = min(MAX_RESULTS, max(0, self._int()))
            else:
                _, value = self.peek()
                raise errors.query_parse(f'Encountered " "{value}" "{value.upper()} "" at line 1.')
        return query

    def _by(self) -> bool:
        self.expect_keyword("BY")
        return True

    def _int(self) -> int:
        kind, value = self.take()
        if kind != "num" or "." in value:
            raise errors.query_parse(f'Encountered "{value}". Was expecting: <INTEGER>')
        return int(value)

    def _select_list(self) -> tuple[bool, list[str] | None]:
        kind, value = self.peek()
        if kind == "word" and value.lower() == "count":
            self.take()
            for expected in ("(", "*", ")"):
                if self.take()[1] != expected:
                    raise errors.query_parse("count(*) expected")
            return True, None
        star, fields = False, []
        while True:
            kind, value = self.take()
            if value == "*":
                star = True
            elif kind == "word":
                fields.append(value)
            else:
                raise errors.query_parse(f'Encountered "{value}" in the select list')
            if self.peek()[1] != ",":
                break
            self.take()
        return False, None if star else fields

    def _path(self, entity: str) -> list[str]:
        kind, value = self.take()
        if kind != "word":
            raise errors.query_parse(f'Encountered "{value}". Was expecting: <IDENTIFIER>')
        if value.upper() in ("OR", "NOT"):
            raise errors.query_parse(f'Encountered " "{value.upper()}" "{value} "" at line 1.')
        return _resolve_path(entity, value)

    def _condition(self, entity: str) -> Condition:
        path = self._path(entity)
        kind, op = self.take()
        if kind == "word" and op.upper() in ("IN", "LIKE"):
            op = op.upper()
        elif kind != "op" or op in ("!=", "<>"):
            raise errors.query_parse(
                f'Encountered "{op}" after {".".join(path)}; supported operators '
                "are =, <, >, <=, >=, IN and LIKE"
            )
        if op == "IN":
            if self.take()[1] != "(":
                raise errors.query_parse("IN expects a parenthesised list")
            values = [self._value()]
            while self.peek()[1] == ",":
                self.take()
                values.append(self._value())
            if self.take()[1] != ")":
                raise errors.query_parse("IN list not closed")
            return Condition(path, op, values)
        value = self._value()
        if self.peek()[0] == "word" and self.peek()[1].upper() == "OR":
            raise errors.query_parse('Encountered " "OR" "OR "" at line 1.')
        return Condition(path, op, [value])

    def _value(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value
        if kind == "num":
            return Decimal(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word":
            return value
        raise errors.query_parse(f'Encountered "{value}". Was expecting a value')

    def _order(self, entity: str) -> list[tuple[list[str], bool]]:
        order = []
        while True:
            path = self._path(entity)
            descending = False
            if self.keyword("DESC"):
                descending = True
            else:
                self.keyword("ASC")
            order.append((path, descending))
            if self.peek()[1] != ",":
                return order
            self.take()


def _resolve_path(entity: str, dotted: str) -> list[str]:
    parts = dotted.split(".")
    known = {k.lower(): k for k in schema.ENTITY_FIELDS[entity]}
    head = known.get(parts[0].lower())
    if head is None:
        raise errors.query_invalid(f"property '{parts[0]}' is not queryable")
    rest = [
        "LastUpdatedTime"
        if p.lower() == "lastupdatedtime"
        else "CreateTime"
        if p.lower() == "createtime"
        else p
        for p in parts[1:]
    ]
    return [head, *rest]


def _extract(record: dict[str, Any], path: list[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, dict):
        for key in ("value", "Address", "FreeFormNumber", "URI"):
            if key in value:
                return value[key]
        return None
    if path == ["Active"] and value is None:
        return True
    return value


def _comparable(path: list[str], value: Any, tz: dt.tzinfo) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if path[-1].endswith("Time"):
        return parse_time(str(value), tz)
    if path[-1] == "Id" or isinstance(value, (int, Decimal)):
        return to_decimal(value)
    return str(value).casefold()


def _literal(path: list[str], sample: Any, literal: Any, tz: dt.tzinfo) -> Any:
    if isinstance(literal, bool):
        return literal
    if isinstance(sample, bool):
        return str(literal).lower() == "true"
    if path[-1].endswith("Time"):
        return parse_time(str(literal), tz)
    if path[-1] == "Id" or isinstance(sample, (int, Decimal)):
        return to_decimal(literal)
    return str(literal).casefold()


def _matches(record: dict[str, Any], cond: Condition, tz: dt.tzinfo) -> bool:
    raw = _extract(record, cond.path)
    left = _comparable(cond.path, raw, tz)
    if left is None:
        return False
    if cond.op == "LIKE":
        pattern = "".join(".*" if ch == "%" else re.escape(ch) for ch in str(cond.values[0]))
        return re.fullmatch(pattern, str(raw), re.IGNORECASE | re.DOTALL) is not None
    rights = [_literal(cond.path, raw, v, tz) for v in cond.values]
    try:
        if cond.op == "IN" or cond.op == "=":
            return any(left == r for r in rights)
        right = rights[0]
        if right is None:
            return False
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
            cond.op
        ]
    except TypeError:
        return False


def _default_order(entity: str) -> Any:
    """Recorded QBO answers list names by name (ordinal: "PG&E" before "Pam Seitz"; a job right
    after its parent); the order of transactions is unspecified, here by Id."""

    def by_id(record: dict[str, Any]) -> Any:
        return int(record["Id"]) if str(record["Id"]).isdigit() else 0

    if schema.ENTITIES[entity].kind != "name":
        return by_id
    return lambda r: (
        str(r.get("FullyQualifiedName") or r.get("DisplayName") or r.get("Name") or ""),
        by_id(r),
    )


def parse(text: str, company: Company) -> Query:
    if not text or not text.strip():
        raise errors.query_parse("empty query")
    return _Parser(text).parse(company)


def _variants(path: list[str], literal: Any, tz: dt.tzinfo) -> set[Any]:
    """Every key `_literal` can turn a literal into (it depends on the row's value type)."""
    if isinstance(literal, bool):
        return {literal}
    out = {str(literal).lower() == "true", to_decimal(literal), str(literal).casefold()}
    return {k for k in out if k is not None}


def _indexed(query: Query, company: Company, tz: dt.tzinfo, conditions: list[Condition]) -> Any:
    """The rows one condition selects through an index (the most selective), in table order;
    None when no condition can use one."""
    idx = company.indexes()
    best: set[str] | None = None
    for c in conditions:
        path = tuple(c.path)

        def key(r: dict[str, Any], p: list[str] = c.path) -> Any:
            return _comparable(p, _extract(r, p), tz)

        if c.op in ("=", "IN") and not c.path[-1].endswith("Time") and c.path != ["Active"]:
            eq = idx.equal(query.entity, path, key)
            ids: set[str] = set()
            for v in c.values:
                for k in _variants(c.path, v, tz):
                    ids |= eq.by_key.get(k, set())
        elif c.op in (">", ">=", "<", "<=") and c.path[-1].endswith("Time"):
            right = None if isinstance(c.values[0], bool) else parse_time(str(c.values[0]), tz)
            if right is None:
                ids = set()
            else:
                times = idx.by_time(query.entity, path, key)
                if c.op.startswith(">"):
                    ids = set(times.since(right, strict=c.op == ">"))
                else:
                    ids = set(times.until(right, strict=c.op == "<"))
        else:
            continue
        if best is None or len(ids) < len(best):
            best = ids
    return None if best is None else idx.order(query.entity, best)


def run(query: Query, company: Company, tz: dt.tzinfo, *, use_index: bool = True) -> dict[str, Any]:
    """`use_index=False` scans every row (the reference indexed answers are tested against)."""
    from ledgerbridge.sandbox.quickbooks.operations import public

    conditions = list(query.conditions)
    if schema.ENTITIES[query.entity].kind == "name" and not any(
        c.path == ["Active"] for c in conditions
    ):
        conditions.append(Condition(["Active"], "=", [True]))
    rows = _indexed(query, company, tz, conditions) if use_index else None
    if rows is None:
        rows = company.all(query.entity)
    rows = [r for r in rows if all(_matches(r, c, tz) for c in conditions)]
    if query.count:
        return {"totalCount": len(rows)}
    rows.sort(key=_default_order(query.entity))
    for path, descending in reversed(query.order):
        present = [r for r in rows if _comparable(path, _extract(r, path), tz) is not None]
        missing = [r for r in rows if _comparable(path, _extract(r, path), tz) is None]
        present.sort(key=lambda r, p=path: _comparable(p, _extract(r, p), tz), reverse=descending)
        rows = missing + present if not descending else present + missing
    page = rows[query.start - 1 : query.start - 1 + query.limit]
    if not page:
        return {}
    out = [public(r) for r in page]
    if query.fields is not None:
        wanted = {f.split(".")[0].lower() for f in query.fields} | {"id"}
        out = [
            {k: v for k, v in r.items() if k.lower() in wanted or k in ("domain", "sparse")}
            for r in out
        ]
    return {query.entity: out, "startPosition": query.start, "maxResults": len(out)}
