"""The portal: records, properties, associations and the business rules that tie them together.

`SandboxState` is what `app.state.sandbox` holds. Its public methods are the same operations the
HTTP API performs, so tests and the demo seeding can call them directly. They are thread-safe (a
test thread may seed while the server's loop thread serves requests). Every write stamps
hs_lastmodifieddate, records history, recomputes derived fields on the records it affects, and
queues webhook events, which are only released when the whole operation succeeded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies

from .associations import AssociationGraph
from .clock import Clock, iso_ms
from .errors import ApiError, invalid_property_values, not_found, validation
from .invoices import (
    COMPUTED_FROM,
    check_status_change,
    invoice_computed,
    line_item_computed,
    payment_computed,
)
from .properties import PropertyRegistry
from .schema import AssocType, ObjectType, resolve_type
from .store import ObjectStore, Record

_CURRENCIES = frozenset(list_currencies())
_SYSTEM = ("hs_object_id", "hs_createdate", "createdate", "hs_lastmodifieddate", "lastmodifieddate")
_LINE_ITEM_PARENTS = ("invoices", "deals")


def object_type(name: str) -> ObjectType:
    t = resolve_type(name)
    if t is None:
        raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
    return t


class SandboxState:
    """One HubSpot portal. Object types may be given by any name HubSpot accepts ("contacts",
    "contact", "0-1")."""

    def __init__(
        self, *, clock: Clock | None = None, portal_id: int = 62515, app_id: int = 1160452
    ) -> None:
        self.clock = clock or Clock()
        self.portal_id = portal_id
        self.app_id = app_id
        self.lock = threading.RLock()
        self.store = ObjectStore()
        self.props = PropertyRegistry.defaults(self.now_ms())
        self.graph = AssociationGraph()
        self.version = 0  # bumped on every committed change; persistence watches it
        self._depth = 0
        self._events: list[dict[str, Any]] = []
        self.on_events: list[Any] = []  # callables taking a list of raw events

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    @contextlib.contextmanager
    def _op(self) -> Iterator[None]:
        """One atomic operation: events are published only if the outermost call succeeds."""
        with self.lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._events = []
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                events, self._events = self._events, []
                self.version += 1
                for sink in self.on_events:
                    sink(events)

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group several writes into one operation (events released together, or not at all)."""
        return self._op()

    def discard_created(self, object_type_name: str, ids: list[str]) -> None:
        """Undo creations made earlier in a failing batch."""
        t = object_type(object_type_name)
        with self.lock:
            for i in ids:
                rec = self.store.of(t.name).get(i)
                if rec is not None:
                    self._hard_delete(rec)

    def _emit(self, kind: str, rec_type: str, object_id: str, **fields: Any) -> None:
        self._events.append(
            {
                "kind": kind,
                "object_type": rec_type,
                "objectId": object_id,
                "occurredAt": self.now_ms(),
                **fields,
            }
        )

    # --- reads ----------------------------------------------------------------------------------
    def get_object(
        self,
        object_type_name: str,
        object_id: str,
        *,
        id_property: str | None = None,
        archived: bool = False,
    ) -> Record | None:
        """The record by id (or by the value of a unique `id_property`), or None."""
        t = object_type(object_type_name)
        with self.lock:
            if id_property and id_property != "hs_object_id":
                if self.props.get(t.name, id_property) is None:
                    raise validation(f"Property {id_property} does not exist for {t.name}")
                rec = self.store.find_by(t.name, id_property, str(object_id))
                if rec is not None and rec.archived != archived:
                    return None
                return rec
            return self.store.get(t.name, str(object_id), archived=archived)

    def require(self, t: ObjectType, object_id: str, id_property: str | None = None) -> Record:
        rec = self.get_object(t.name, object_id, id_property=id_property)
        if rec is None:
            raise not_found("resource not found")
        return rec

    def linked(self, rec: Record, to_type: str) -> list[Record]:
        """Live records associated with `rec` in `to_type`, oldest first."""
        out = []
        for to_id in self.graph.targets(rec.object_type, rec.id, to_type):
            other = self.store.get(to_type, to_id)
            if other is not None:
                out.append(other)
        return sorted(out, key=lambda r: int(r.id))

    # --- writes ---------------------------------------------------------------------------------
    def validate_properties(
        self, t: ObjectType, props: dict[str, Any], rec: Record | None, *, trusted: bool = False
    ) -> dict[str, str | None]:
        """Normalized values for a write, or an ApiError (400 with every problem, 409 on a
        unique-value collision). Writes nothing."""
        problems: list[dict[str, str]] = []
        out: dict[str, str | None] = {}
        for name, raw in props.items():
            d = self.props.get(t.name, name)
            if d is None:
                problems.append(
                    {
                        "name": name,
                        "code": "PROPERTY_DOESNT_EXIST",
                        "message": f'Property "{name}" does not exist',
                    }
                )
                continue
            if d["modificationMetadata"].get("readOnlyValue") and not trusted:
                problems.append(
                    {
                        "name": name,
                        "code": "READ_ONLY_VALUE",
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                    }
                )
                continue
            value, code = self.props.normalize(d, raw)
            if code:
                problems.append(
                    {
                        "name": name,
                        "code": code,
                        "message": f"{raw!r} is not a valid value for {name} ({d['type']})",
                    }
                )
                continue
            out[name] = value
        if t.name == "invoices" and "hs_currency" in out:
            cur = out["hs_currency"]
            if cur is None or cur.upper() not in _CURRENCIES:
                problems.append(
                    {
                        "name": "hs_currency",
                        "code": "INVALID_OPTION",
                        "message": f"{cur!r} is not a valid ISO 4217 currency code",
                    }
                )
            else:
                out["hs_currency"] = cur.upper()
        if t.name == "line_items" and out.get("price") and Decimal(out["price"] or 0) < 0:
            problems.append(
                {"name": "price", "code": "INVALID_DECIMAL", "message": "price cannot be negative"}
            )
        if rec is None:
            for req in t.required:
                if out.get(req) in (None, ""):
                    problems.append(
                        {
                            "name": req,
                            "code": "REQUIRED",
                            "message": f'Property "{req}" is required',
                        }
                    )
        if problems:
            raise invalid_property_values(problems)
        for name in self.props.unique_names(t.name):
            value = out.get(name)
            if value is None:
                continue
            other = self.store.find_by(t.name, name, value)
            if other is not None and (rec is None or other.id != rec.id):
                raise ApiError(
                    409,
                    "CONFLICT",
                    f"{t.singular.replace('_', ' ').capitalize()} already exists. "
                    f"Existing ID: {other.id}",
                    context={"id": [other.id], "propertyName": [name]},
                )
        return out

    def create_object(
        self,
        object_type_name: str,
        properties: dict[str, Any] | None = None,
        associations: list[dict[str, Any]] | None = None,
        *,
        source: str = "API",
        trusted: bool = False,
    ) -> str:
        """Create a record; returns its id. `associations` use the API's shape
        `[{"to": {"id"}, "types": [{"associationCategory", "associationTypeId"}]}]`.
        `trusted=True` (seeding) may set read-only properties."""
        t = object_type(object_type_name)
        with self._op():
            props = dict(properties or {})
            target_status = None
            if t.name == "invoices" and props.get("hs_invoice_status") not in (None, "", "draft"):
                target_status = str(props.pop("hs_invoice_status"))
            values = self.validate_properties(t, props, None, trusted=trusted)
            now = self.store.stamp(self.now_ms())
            rec = Record(id=self.store.new_id(), object_type=t.name, created_ms=now, updated_ms=now)
            values = {**self._create_defaults(t, values, rec.id, now), **values}
            if t.name == "line_items":
                values = {**self._from_product(values), **values}
            for name, value in values.items():
                rec.set(name, value, now, source)
            self._stamp_system(rec, now, created=True)
            self.store.of(t.name)[rec.id] = rec
            self.store.reindex(rec)
            self._emit("creation", t.name, rec.id, changeSource=source, changeFlag="CREATED")
            try:
                for spec in associations or []:
                    self._associate_from_spec(t, rec, spec, source)
                self._recompute(rec, source)
                if target_status is not None:
                    check_status_change(self, rec, target_status)
                    self._write(rec, {"hs_invoice_status": target_status}, source)
            except ApiError:
                self._hard_delete(rec)
                raise
            return rec.id

    def _create_defaults(
        self, t: ObjectType, values: dict[str, Any], rec_id: str, now: int
    ) -> dict[str, str]:
        if t.name == "invoices":
            out = {
                "hs_invoice_status": "draft",
                "hs_invoice_date": iso_ms(now),
                "hs_due_date": iso_ms(now),
                "hs_invoice_source": "API",
                "hs_invoice_billable": "true",
                "hs_allow_partial_payments": "false",
            }
            if not values.get("hs_number"):
                self.store.sequences["invoice_number"] += 1
                out["hs_number"] = f"INV-{self.store.sequences['invoice_number']}"
            return out
        if t.name == "commerce_payments":
            return {
                "hs_latest_status": "processing",
                "hs_payment_creation_method": "OTHER",
                "hs_payment_id": rec_id,
                "hs_payment_type": "one_time_or_initial",
                "hs_currency_code": "USD",
            }
        if t.name in ("discounts", "fees", "taxes"):
            return {"hs_type": "FIXED"}
        return {}

    def _from_product(self, values: dict[str, Any]) -> dict[str, str | None]:
        """Line items created from a product copy its name, price, description and SKU."""
        pid = values.get("hs_product_id")
        if not pid:
            return {}
        product = self.store.get("products", str(pid))
        if product is None:
            raise invalid_property_values(
                [
                    {
                        "name": "hs_product_id",
                        "code": "INVALID_OBJECT_ID",
                        "message": f"Product {pid} does not exist",
                    }
                ]
            )
        return {
            k: product.properties.get(k)
            for k in ("name", "price", "description", "hs_sku")
            if product.properties.get(k) is not None
        }

    def _stamp_system(self, rec: Record, now: int, *, created: bool = False) -> None:
        rec.updated_ms = now
        rec.properties["hs_object_id"] = rec.id
        if created:
            rec.properties["hs_createdate"] = rec.properties["createdate"] = iso_ms(rec.created_ms)
        rec.properties["hs_lastmodifieddate"] = rec.properties["lastmodifieddate"] = iso_ms(now)

    def _write(self, rec: Record, values: dict[str, str | None], source: str) -> list[str]:
        now = self.store.stamp(self.now_ms())
        changed = [name for name, value in values.items() if rec.set(name, value, now, source)]
        if changed:
            self._stamp_system(rec, now)
            self.store.reindex(rec)
            for name in changed:
                self._emit(
                    "propertyChange",
                    rec.object_type,
                    rec.id,
                    propertyName=name,
                    propertyValue=rec.properties.get(name, ""),
                    changeSource=source,
                )
        return changed

    def update_object(
        self,
        object_type_name: str,
        object_id: str,
        properties: dict[str, Any],
        *,
        id_property: str | None = None,
        source: str = "API",
        trusted: bool = False,
    ) -> Record:
        """Update properties (HubSpot's PATCH); returns the record."""
        t = object_type(object_type_name)
        with self._op():
            rec = self.require(t, object_id, id_property)
            props = dict(properties)
            status = props.pop("hs_invoice_status", None) if t.name == "invoices" else None
            values = self.validate_properties(t, props, rec, trusted=trusted)
            if status is not None:
                check_status_change(self, rec, str(status))
                values["hs_invoice_status"] = str(status)
                if status == "voided":
                    values["hs_voided_date"] = iso_ms(self.now_ms())
            changed = self._write(rec, values, source)
            if t.name != "invoices" or not COMPUTED_FROM.isdisjoint(changed):
                self._recompute(rec, source)
            return rec

    def archive_object(self, object_type_name: str, object_id: str, *, source: str = "API") -> None:
        """Archive (HubSpot's DELETE): the record leaves reads and searches. Invoices must be
        drafts."""
        t = object_type(object_type_name)
        with self._op():
            rec = self.store.get(t.name, str(object_id))
            if rec is None:
                return  # HubSpot answers 204 for an id that is already gone
            if t.name == "invoices" and rec.properties.get("hs_invoice_status") != "draft":
                raise validation(
                    f"Invoice {rec.id} is {rec.properties.get('hs_invoice_status')}; "
                    "only draft invoices can be deleted."
                )
            rec.archived = True
            rec.archived_ms = self.store.stamp(self.now_ms())
            self.store.reindex(rec)
            self._emit("deletion", t.name, rec.id, changeSource=source, changeFlag="DELETED")
            for to_type in self.graph.linked_types(t.name, rec.id):
                for other in self.linked(rec, to_type):
                    self._recompute(other, "CALCULATED", cascade=False)

    def _hard_delete(self, rec: Record) -> None:
        self.graph.drop_object(rec.object_type, rec.id)
        self.store.of(rec.object_type).pop(rec.id, None)
        self.store.reindex(rec)
        self._events = [
            e
            for e in self._events
            if rec.id not in (e["objectId"], e.get("fromObjectId"), e.get("toObjectId"))
        ]

    # --- associations ---------------------------------------------------------------------------
    def _associate_from_spec(
        self, t: ObjectType, rec: Record, spec: dict[str, Any], source: str
    ) -> None:
        to_id = str((spec.get("to") or {}).get("id", ""))
        types = spec.get("types") or []
        if not to_id or not types:
            raise validation("Each association needs `to.id` and at least one type")
        for ty in types:
            type_id = int(ty.get("associationTypeId", 0))
            candidates = [
                c
                for c in self.graph.types_with_id(t.name, type_id)
                if self.store.get(c.to_type, to_id) is not None
            ]
            if not candidates:
                raise validation(
                    f"{t.singular} association with typeId {type_id} to object "
                    f"{to_id} is not valid: no such type or no such object",
                    sub_category="crm.associations.INVALID_ASSOCIATION",
                )
            self._link(t.name, rec.id, candidates[0].to_type, to_id, candidates[0], source)

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_id: int | None = None,
        category: str | None = None,
        *,
        source: str = "API",
    ) -> list[AssocType]:
        """Link two records with the pair's default type, or with `type_id` (labelled types also
        add the default). Returns the types newly added."""
        ft, tt = object_type(from_type), object_type(to_type)
        with self._op():
            a = self.require(ft, from_id)
            self.require(tt, to_id)
            if type_id is None:
                t = self.graph.default_type(ft.name, tt.name)
            else:
                found = self.graph.find_type(ft.name, tt.name, int(type_id))
                if found is None or (category and found.category != category):
                    raise validation(
                        f"{category or 'HUBSPOT_DEFINED'} association type {type_id} "
                        f"is not valid between {ft.name} and {tt.name}",
                        sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
                    )
                t = found
            return self._link(ft.name, a.id, tt.name, str(to_id), t, source)

    def _link(
        self, ft: str, from_id: str, tt: str, to_id: str, t: AssocType, source: str
    ) -> list[AssocType]:
        if (
            tt == "line_items"
            and ft in _LINE_ITEM_PARENTS
            or ft == "line_items"
            and tt in _LINE_ITEM_PARENTS
        ):
            li, parent_type, parent_id = (
                (to_id, ft, from_id) if tt == "line_items" else (from_id, tt, to_id)
            )
            for other_type in _LINE_ITEM_PARENTS:
                for pid in self.graph.targets("line_items", li, other_type):
                    if (other_type, pid) != (parent_type, parent_id) and self.store.get(
                        other_type, pid
                    ):
                        raise validation(
                            f"Line item {li} already belongs to {other_type} {pid}; "
                            "a line item has a single parent (copy it instead)."
                        )
        added = self.graph.add(ft, from_id, tt, to_id, t)
        for a in added:
            self._emit_assoc(a, from_id, to_id, removed=False, source=source)
        if added:
            self._recompute_pair(ft, from_id, tt, to_id)
        return added

    def unassociate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_ids: set[int] | None = None,
        *,
        source: str = "API",
    ) -> list[AssocType]:
        """Remove the given types (default: all) between two records."""
        ft, tt = object_type(from_type), object_type(to_type)
        with self._op():
            removed = self.graph.remove(ft.name, str(from_id), tt.name, str(to_id), type_ids)
            for r in removed:
                self._emit_assoc(r, str(from_id), str(to_id), removed=True, source=source)
            if removed:
                self._recompute_pair(ft.name, str(from_id), tt.name, str(to_id))
            return removed

    def _emit_assoc(
        self, t: AssocType, from_id: str, to_id: str, *, removed: bool, source: str
    ) -> None:
        inv = self.graph.inverse(t)
        for a, fid, tid in ((t, from_id, to_id), (inv, to_id, from_id)):
            fa, ta = resolve_type(a.from_type), resolve_type(a.to_type)
            self._emit(
                "associationChange",
                a.from_type,
                fid,
                changeSource=source,
                associationType=f"{fa.label}_TO_{ta.label}" if fa and ta else a.name.upper(),
                fromObjectId=fid,
                toObjectId=tid,
                associationRemoved=removed,
                isPrimaryAssociation=a.label == "Primary",
                fromObjectTypeId=fa.type_id if fa else None,
                toObjectTypeId=ta.type_id if ta else None,
                associationTypeId=a.type_id,
                associationCategory=a.category,
            )

    def _recompute_pair(self, ft: str, from_id: str, tt: str, to_id: str) -> None:
        # A new link changes the two records' derived fields, and through a line item or a
        # payment its invoices'; a contact's or company's other invoices read only its own
        # properties, which a link leaves as they were (and there may be thousands of them).
        for typ, oid in ((ft, from_id), (tt, to_id)):
            rec = self.store.get(typ, oid)
            if rec is not None:
                self._recompute(rec, "CALCULATED", cascade=typ not in ("contacts", "companies"))

    # --- derived fields -------------------------------------------------------------------------
    def _recompute(self, rec: Record, source: str, *, cascade: bool = True) -> None:
        """Refresh fields derived from `rec` and, for records that feed invoices, the invoices
        they are linked to."""
        typ = rec.object_type
        if typ == "line_items":
            self._write(rec, line_item_computed(rec), "CALCULATED")
        elif typ == "commerce_payments":
            self._write(rec, payment_computed(self, rec), "CALCULATED")
        elif typ == "invoices":
            self._write(rec, invoice_computed(self, rec), "CALCULATED")
        if cascade and typ in (
            "line_items",
            "commerce_payments",
            "discounts",
            "fees",
            "taxes",
            "contacts",
            "companies",
        ):
            for inv in self.linked(rec, "invoices"):
                self._write(inv, invoice_computed(self, inv), "CALCULATED")
