"""Property definitions per object type (the Properties API) and value validation.

HubSpot stores every value as a string; writes are checked against the property's type and
options, and unknown properties are refused with PROPERTY_DOESNT_EXIST.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .clock import iso_ms, parse_instant
from .errors import ApiError, validation
from .schema import DEFAULT_PROPERTIES, OBJECT_TYPES, resolve_type

TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = (
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_OPTIONAL_FIELDS = (
    "description",
    "displayOrder",
    "hidden",
    "formField",
    "calculationFormula",
    "currencyPropertyName",
    "dataSensitivity",
    "externalOptions",
    "referencedObjectType",
    "numberDisplayHint",
    "textDisplayHint",
    "showCurrencySymbol",
)


def default_group(object_type: str) -> str:
    t = resolve_type(object_type)
    return f"{t.singular if t else object_type}information"


def _definition(
    object_type: str,
    name: str,
    ptype: str,
    field_type: str,
    options: tuple[str, ...],
    read_only: bool,
    now_iso: str,
    *,
    hubspot_defined: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": name.replace("hs_", "").replace("_", " ").capitalize(),
        "type": ptype,
        "fieldType": field_type,
        "description": "",
        "groupName": default_group(object_type),
        "options": [
            {
                "label": o.replace("_", " ").capitalize(),
                "value": o,
                "displayOrder": i,
                "hidden": False,
            }
            for i, o in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": read_only,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": not read_only,
        "dataSensitivity": "non_sensitive",
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "createdAt": now_iso,
        "updatedAt": now_iso,
        "archived": False,
    }


class PropertyRegistry:
    """Definitions keyed by object type then property name, plus property groups."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, dict[str, Any]]] = {}
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}

    @classmethod
    def defaults(cls, now_ms: int) -> PropertyRegistry:
        reg = cls()
        now = iso_ms(now_ms)
        for t in OBJECT_TYPES:
            group = default_group(t.name)
            reg.groups[t.name] = {
                group: {
                    "name": group,
                    "label": f"{t.singular.replace('_', ' ').title()} information",
                    "displayOrder": -1,
                    "archived": False,
                }
            }
            reg.defs[t.name] = {}
            for name, ptype, ftype, options, ro in DEFAULT_PROPERTIES[t.name]:
                reg.defs[t.name][name] = _definition(t.name, name, ptype, ftype, options, ro, now)
        reg.defs["contacts"]["email"]["hasUniqueValue"] = True
        return reg

    def get(
        self, object_type: str, name: str, *, include_archived: bool = False
    ) -> dict[str, Any] | None:
        d = self.defs.get(object_type, {}).get(name)
        if d is None or (d["archived"] and not include_archived):
            return None
        return d

    def all(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        return [d for d in self.defs.get(object_type, {}).values() if d["archived"] == archived]

    def unique_names(self, object_type: str) -> list[str]:
        return [d["name"] for d in self.all(object_type) if d.get("hasUniqueValue")]

    # --- Properties API writes -------------------------------------------------------------------
    def create(self, object_type: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        missing = [
            f for f in ("name", "label", "type", "fieldType", "groupName") if not body.get(f)
        ]
        if missing:
            raise validation(
                f"Missing required fields: {', '.join(missing)}",
                errors=[
                    {"message": f"{m} is required", "code": "REQUIRED_FIELD", "in": m}
                    for m in missing
                ],
            )
        name = str(body["name"])
        if not _NAME_RE.match(name):
            raise validation(
                f"Property name '{name}' must be lowercase letters, digits and "
                "underscores, starting with a letter"
            )
        if body["type"] not in TYPES:
            raise validation(f"Invalid type '{body['type']}'; expected one of {list(TYPES)}")
        if body["fieldType"] not in FIELD_TYPES:
            raise validation(f"Invalid fieldType '{body['fieldType']}'")
        if body["groupName"] not in self.groups.get(object_type, {}):
            raise validation(f"Property group '{body['groupName']}' does not exist")
        existing = self.defs[object_type].get(name)
        if existing is not None and not existing["archived"]:
            raise ApiError(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{name}' already exists.",
                context={"name": [name]},
            )
        if (
            body["type"] == "enumeration"
            and not body.get("options")
            and body["fieldType"] != "booleancheckbox"
        ):
            raise validation("Enumeration properties need at least one option")
        d = _definition(
            object_type,
            name,
            body["type"],
            body["fieldType"],
            (),
            False,
            iso_ms(now_ms),
            hubspot_defined=False,
        )
        d.update(
            {
                "label": body["label"],
                "groupName": body["groupName"],
                "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
                "formField": False,
            }
        )
        for key in _OPTIONAL_FIELDS:
            if key in body and body[key] is not None:
                d[key] = body[key]
        d["options"] = [self._option(o, i) for i, o in enumerate(body.get("options") or [])]
        if body["type"] == "bool" and not d["options"]:
            d["options"] = [
                self._option({"label": "Yes", "value": "true"}, 0),
                self._option({"label": "No", "value": "false"}, 1),
            ]
        self.defs[object_type][name] = d
        return d

    @staticmethod
    def _option(o: dict[str, Any], i: int) -> dict[str, Any]:
        return {
            "label": o.get("label", o.get("value")),
            "value": str(o.get("value")),
            "displayOrder": o.get("displayOrder", i),
            "hidden": bool(o.get("hidden", False)),
            "description": o.get("description", ""),
        }

    def update(
        self, object_type: str, name: str, body: dict[str, Any], now_ms: int
    ) -> dict[str, Any]:
        d = self.get(object_type, name)
        if d is None:
            raise ApiError(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
            )
        if d["hubspotDefined"] and any(k in body for k in ("type", "fieldType", "hasUniqueValue")):
            raise validation(f"Property {name} is HubSpot-defined; its definition is read-only")
        if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != d["hasUniqueValue"]:
            raise validation("hasUniqueValue cannot be changed once a property is created")
        for key in ("label", "groupName", "type", "fieldType", *_OPTIONAL_FIELDS):
            if key in body:
                d[key] = body[key]
        if "options" in body:
            d["options"] = [self._option(o, i) for i, o in enumerate(body["options"] or [])]
        d["updatedAt"] = iso_ms(now_ms)
        return d

    def archive(self, object_type: str, name: str, now_ms: int) -> None:
        d = self.get(object_type, name)
        if d is None:
            raise ApiError(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
            )
        if d["hubspotDefined"]:
            raise validation(f"Property {name} is HubSpot-defined and cannot be archived")
        d["archived"] = True
        d["archivedAt"] = iso_ms(now_ms)

    # --- values ---------------------------------------------------------------------------------
    def normalize(self, d: dict[str, Any], raw: Any) -> tuple[str | None, str | None]:
        """(stored value or None to clear, error code or None)."""
        if raw is None:
            return None, None
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        value = raw if isinstance(raw, str) else str(raw)
        if value == "":
            return None, None
        ptype = d["type"]
        if ptype == "number":
            try:
                num = Decimal(value.strip())
            except InvalidOperation:
                return None, "INVALID_DECIMAL"
            if not num.is_finite():
                return None, "INVALID_DECIMAL"
            return value.strip(), None
        if ptype == "bool":
            low = value.strip().lower()
            if low not in ("true", "false"):
                return None, "INVALID_BOOLEAN"
            return low, None
        if ptype == "enumeration":
            allowed = {o["value"] for o in d.get("options") or []}
            if allowed and d["fieldType"] != "checkbox" and value not in allowed:
                return None, "INVALID_OPTION"
            if (
                allowed
                and d["fieldType"] == "checkbox"
                and any(v not in allowed for v in value.split(";"))
            ):
                return None, "INVALID_OPTION"
            return value, None
        if ptype in ("date", "datetime"):
            ms = parse_instant(value)
            if ms is None:
                return None, "INVALID_DATE"
            if ptype == "date":
                return iso_ms(ms)[:10], None
            return iso_ms(ms), None
        if len(value) > 65536:
            return None, "INVALID_STRING"
        return value, None

    # --- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"defs": self.defs, "groups": self.groups}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PropertyRegistry:
        reg = cls()
        reg.defs = data["defs"]
        reg.groups = data["groups"]
        return reg
