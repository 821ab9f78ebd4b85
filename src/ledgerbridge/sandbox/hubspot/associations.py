"""Associations between records, as the v4 API sees them: every link carries one or more
association types (category + type id, optionally labelled), and each type has an inverse, so a
link is always visible from both ends.

Labelled links imply the pair's unlabeled default type, as in HubSpot: adding "Primary" company
to a contact also adds the plain contact_to_company link, and removing the default removes all.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .errors import ApiError, validation
from .schema import AssocType, builtin_association_types

EdgeKey = tuple[str, str, str]  # (from_type, from_id, to_type)


class AssociationGraph:
    def __init__(self) -> None:
        self.types: list[AssocType] = []
        self._inverse: dict[tuple[str, str, int], AssocType] = {}
        for fwd, rev in builtin_association_types():
            self._register(fwd, rev)
        self.next_user_type_id = 1000
        # (from_type, from_id, to_type) -> {to_id: {type_id, ...}}
        self.edges: dict[EdgeKey, dict[str, set[int]]] = defaultdict(dict)
        self.dirty: set[EdgeKey] = set()  # edge keys changed since persistence last looked

    # --- type lookup ------------------------------------------------------------------------------
    def types_between(self, from_type: str, to_type: str) -> list[AssocType]:
        return [t for t in self.types if t.from_type == from_type and t.to_type == to_type]

    def find_type(self, from_type: str, to_type: str, type_id: int) -> AssocType | None:
        for t in self.types:
            if t.from_type == from_type and t.to_type == to_type and t.type_id == type_id:
                return t
        return None

    def types_with_id(self, from_type: str, type_id: int) -> list[AssocType]:
        return [t for t in self.types if t.from_type == from_type and t.type_id == type_id]

    def default_type(self, from_type: str, to_type: str) -> AssocType:
        for t in self.types_between(from_type, to_type):
            if t.label is None and t.category == "HUBSPOT_DEFINED":
                return t
        raise validation(
            f"No association type exists between {from_type} and {to_type}",
            sub_category="crm.associations.INVALID_OBJECT_TYPE_COMBINATION",
        )

    def _register(self, fwd: AssocType, rev: AssocType) -> None:
        self.types += [fwd, rev]
        self._inverse[(fwd.from_type, fwd.to_type, fwd.type_id)] = rev
        self._inverse[(rev.from_type, rev.to_type, rev.type_id)] = fwd

    def _unregister(self, t: AssocType) -> AssocType:
        inv = self.inverse(t)
        self.types = [x for x in self.types if x not in (t, inv)]
        self._inverse.pop((t.from_type, t.to_type, t.type_id), None)
        self._inverse.pop((inv.from_type, inv.to_type, inv.type_id), None)
        return inv

    def inverse(self, t: AssocType) -> AssocType:
        return self._inverse[(t.from_type, t.to_type, t.type_id)]

    # --- labels (USER_DEFINED types) ----------------------------------------------------------------
    def create_label(
        self, from_type: str, to_type: str, label: str, name: str | None, inverse_label: str | None
    ) -> tuple[AssocType, AssocType]:
        if not label:
            raise validation("label is required")
        name = name or label.lower().replace(" ", "_")
        if any(
            t.category == "USER_DEFINED" and t.name == name
            for t in self.types_between(from_type, to_type)
        ):
            raise ApiError(409, "CONFLICT", f"An association label named '{name}' already exists")
        fwd = AssocType(from_type, to_type, self.next_user_type_id, "USER_DEFINED", label, name)
        rev = AssocType(
            to_type,
            from_type,
            self.next_user_type_id + 1,
            "USER_DEFINED",
            inverse_label or label,
            name,
        )
        self.next_user_type_id += 2
        self._register(fwd, rev)
        return fwd, rev

    def update_label(
        self, from_type: str, to_type: str, type_id: int, label: str, inverse_label: str | None
    ) -> None:
        t = self.find_type(from_type, to_type, type_id)
        if t is None or t.category != "USER_DEFINED":
            raise ApiError(404, "OBJECT_NOT_FOUND", f"No user-defined association type {type_id}")
        inv = self._unregister(t)
        self._register(
            AssocType(t.from_type, t.to_type, t.type_id, t.category, label, t.name),
            AssocType(
                inv.from_type,
                inv.to_type,
                inv.type_id,
                inv.category,
                inverse_label or label,
                inv.name,
            ),
        )

    def delete_label(self, from_type: str, to_type: str, type_id: int) -> None:
        t = self.find_type(from_type, to_type, type_id)
        if t is None or t.category != "USER_DEFINED":
            raise ApiError(404, "OBJECT_NOT_FOUND", f"No user-defined association type {type_id}")
        inv = self._unregister(t)
        for key, targets in self.edges.items():
            if key[0] == t.from_type and key[2] == t.to_type:
                for ids in targets.values():
                    ids.discard(t.type_id)
            elif key[0] == inv.from_type and key[2] == inv.to_type:
                for ids in targets.values():
                    ids.discard(inv.type_id)

    # --- links -------------------------------------------------------------------------------------
    def add(
        self, from_type: str, from_id: str, to_type: str, to_id: str, t: AssocType
    ) -> list[AssocType]:
        """Add a link of type `t` (and its inverse, and the default type if `t` is labelled).
        Returns the forward types newly added."""
        added: list[AssocType] = []
        wanted = [t]
        if t.label is not None:
            wanted.insert(0, self.default_type(from_type, to_type))
        self.dirty.update(((from_type, from_id, to_type), (to_type, to_id, from_type)))
        for w in wanted:
            fwd = self.edges[(from_type, from_id, to_type)].setdefault(to_id, set())
            if w.type_id in fwd:
                continue
            fwd.add(w.type_id)
            inv = self.inverse(w)
            self.edges[(to_type, to_id, from_type)].setdefault(from_id, set()).add(inv.type_id)
            added.append(w)
        return added

    def remove(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_ids: set[int] | None = None,
    ) -> list[AssocType]:
        """Remove the given types (None = every type) between the pair. Removing the pair's
        default type removes them all. Returns the forward types removed."""
        fwd = self.edges.get((from_type, from_id, to_type), {}).get(to_id)
        if not fwd:
            return []
        default = self.default_type(from_type, to_type).type_id
        self.dirty.update(((from_type, from_id, to_type), (to_type, to_id, from_type)))
        if type_ids is None or default in type_ids:
            type_ids = set(fwd)
        removed: list[AssocType] = []
        back = self.edges.get((to_type, to_id, from_type), {}).get(from_id, set())
        for tid in sorted(type_ids & fwd):
            t = self.find_type(from_type, to_type, tid)
            fwd.discard(tid)
            if t is not None:
                back.discard(self.inverse(t).type_id)
                removed.append(t)
        if not fwd:
            self.edges[(from_type, from_id, to_type)].pop(to_id, None)
        if not back:
            self.edges.get((to_type, to_id, from_type), {}).pop(from_id, None)
        return removed

    def targets(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return self.edges.get((from_type, from_id, to_type), {})

    def linked_types(self, from_type: str, from_id: str) -> list[str]:
        return [k[2] for k, v in self.edges.items() if k[0] == from_type and k[1] == from_id and v]

    def drop_object(self, object_type: str, object_id: str) -> list[tuple[str, str]]:
        """Forget every link of a record (hard delete). Returns the (type, id) it was linked to."""
        touched: list[tuple[str, str]] = []
        for to_type in self.linked_types(object_type, object_id):
            for to_id in list(self.targets(object_type, object_id, to_type)):
                self.remove(object_type, object_id, to_type, to_id)
                touched.append((to_type, to_id))
        return touched

    def spec(self, from_type: str, to_type: str, type_id: int) -> dict[str, Any]:
        t = self.find_type(from_type, to_type, type_id)
        return {
            "category": t.category if t else "HUBSPOT_DEFINED",
            "typeId": type_id,
            "label": t.label if t else None,
        }

    # --- persistence -----------------------------------------------------------------------------
    def to_dict(self, *, edges: bool = True) -> dict[str, Any]:
        return {
            "user_types": [
                [t.__dict__, self.inverse(t).__dict__]
                for t in self.types
                if t.category == "USER_DEFINED" and t.type_id % 2 == 0
            ],
            "next_user_type_id": self.next_user_type_id,
            "edges": [
                [k[0], k[1], k[2], to_id, sorted(ids)]
                for k, targets in (self.edges.items() if edges else ())
                for to_id, ids in targets.items()
                if ids
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssociationGraph:
        g = cls()
        for fwd, rev in data["user_types"]:
            g._register(AssocType(**fwd), AssocType(**rev))
        g.next_user_type_id = data["next_user_type_id"]
        for from_type, from_id, to_type, to_id, ids in data["edges"]:
            g.edges[(from_type, from_id, to_type)][to_id] = set(ids)
        return g
