"""/settings/properties: invoice properties, and creating custom ones through HubSpot's
properties API (they show on the invoice panel and the create form, and can be mapped to QBO
custom fields)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ledgerbridge.errors import SyncError
from ledgerbridge.web.deps import console_of
from ledgerbridge.web.templating import flash, render

router = APIRouter()

# (our name, HubSpot type, HubSpot fieldType, label)
FIELD_TYPES = {
    "text": ("string", "text", "Single-line text"),
    "textarea": ("string", "textarea", "Multi-line text"),
    "number": ("number", "number", "Number"),
    "date": ("date", "date", "Date picker"),
    "select": ("enumeration", "select", "Dropdown select"),
    "checkbox": ("bool", "booleancheckbox", "Single checkbox"),
}
GROUP = "invoiceinformation"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def internal_name(label: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    if name and not name[0].isalpha():
        name = "p_" + name
    return name[:100]


async def _page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    definitions = await console.catalog.all("invoices")
    return render(
        request,
        "settings/properties.html",
        {
            "custom": [d for d in definitions if d.custom],
            "builtin": [d for d in definitions if not d.custom],
            "field_types": FIELD_TYPES,
            "values": values or {"field_type": "text"},
            "errors": errors or [],
            "tab": "properties",
        },
        status_code=status_code,
    )


@router.get("/settings/properties")
async def properties_page(request: Request) -> Response:
    return await _page(request)


@router.post("/settings/properties")
async def create_property(
    request: Request,
    label: str = Form(""),
    name: str = Form(""),
    field_type: str = Form("text"),
    description: str = Form(""),
    options: str = Form(""),
) -> Response:
    console = console_of(request)
    values = {
        "label": label,
        "name": name,
        "field_type": field_type,
        "description": description,
        "options": options,
    }
    errors: list[str] = []
    label = label.strip()
    name = name.strip() or internal_name(label)
    if not label:
        errors.append("Enter a label.")
    if not NAME_RE.match(name) or name.startswith("hs_"):
        errors.append(
            "The internal name uses lowercase letters, digits and underscores, starts with a letter, "
            "and cannot start with hs_."
        )
    if field_type not in FIELD_TYPES:
        errors.append("Choose a field type.")
    choices = [o.strip() for o in options.splitlines() if o.strip()]
    if field_type == "select" and not choices:
        errors.append("A dropdown needs options, one per line.")
    existing = {d.name for d in await console.catalog.all("invoices")}
    if name in existing:
        errors.append(f"An invoice property named {name} already exists.")
    if errors:
        return await _page(request, values, errors, status_code=400)
    kind, html_type, _ = FIELD_TYPES[field_type]
    definition = {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": html_type,
        "groupName": GROUP,
        "description": description.strip()[:500],
    }
    if field_type == "select":
        definition["options"] = [
            {
                "label": o,
                "value": internal_name(o) or f"option_{n}",
                "displayOrder": n,
                "hidden": False,
            }
            for n, o in enumerate(choices)
        ]
    elif field_type == "checkbox":
        definition["options"] = [
            {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
            {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
        ]
    try:
        await console.hubspot.create_property("invoices", definition)
    except SyncError as exc:
        return await _page(
            request, values, [f"HubSpot refused the property: {exc.message}"], status_code=400
        )
    console.catalog.forget("invoices")
    # The sync reads custom properties too: make it see the new one now, not in ten minutes.
    forget = getattr(console.bundle().crm, "forget_invoice_properties", None)
    if forget is not None:
        forget()
    flash(request, f"Property “{label}” created.")
    return RedirectResponse("/settings/properties", status_code=303)
