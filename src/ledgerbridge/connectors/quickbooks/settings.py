"""Company settings read from QBO Preferences: home currency, multicurrency, and the legacy
sales-form custom fields (three string slots; the slot number is the DefinitionId and the label
is found by name, never assumed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerbridge.engine.ports import CustomFieldDef
from ledgerbridge.errors import ConfigError


def currency_from_preferences(prefs: Mapping[str, Any]) -> tuple[str, bool]:
    currency = prefs.get("CurrencyPrefs") or {}
    home = (currency.get("HomeCurrency") or {}).get("value") or "USD"
    return str(home), bool(currency.get("MultiCurrencyEnabled"))


def custom_fields_from_preferences(prefs: Mapping[str, Any]) -> list[CustomFieldDef]:
    enabled: dict[str, bool] = {}
    names: dict[str, str] = {}
    for group in (prefs.get("SalesFormsPrefs") or {}).get("CustomField") or []:
        for field in group.get("CustomField") or []:
            name = str(field.get("Name") or "")
            if name.startswith("SalesFormsPrefs.UseSalesCustom"):
                enabled[name[-1]] = bool(field.get("BooleanValue"))
            elif name.startswith("SalesFormsPrefs.SalesCustomName"):
                names[name[-1]] = str(field.get("StringValue") or "")
    return [
        CustomFieldDef(definition_id=slot, name=names[slot])
        for slot in sorted(names)
        if names[slot] and enabled.get(slot, True)
    ]


def resolve_custom_fields(
    defs: list[CustomFieldDef], values: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Mapping keys are DefinitionIds or field names (case-insensitive) → (DefinitionId, value)."""
    by_name = {d.name.lower(): d.definition_id for d in defs}
    ids = {d.definition_id for d in defs}
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        def_id = key if key in ids else by_name.get(key.lower())
        if def_id is None:
            raise ConfigError(
                message=f"QuickBooks has no enabled sales-form custom field named {key!r}",
                hint="In QuickBooks, add the custom field (type Text, for all sales forms) and "
                "enable it, or change the custom field mapping in Settings → Sync.",
            )
        out.append((def_id, value))
    return out
