"""Which QBO tax code an invoice's HubSpot taxes go under, when the company uses tax codes.

A QBO company that computes sales tax (Preferences.TaxPrefs.UsingSalesTax) takes tax as the
invoice's TxnTaxDetail with one tax code (a group of rates), never as a line on an income or
liability item. The code is chosen by the `tax_code_mapping` setting: a HubSpot tax's label
(case-insensitive) or its rate ("8.25%" or "8.25") -> a QBO tax code's name or id. QBO then
computes the tax from the code's rates, so the code's rate must be HubSpot's (checked here,
before anything is written; the rounding parity check still judges the cent afterwards). With
Automated Sales Tax (TaxPrefs.PartnerTaxEnabled) QBO picks the code itself and honours the
amount sent: a mapping is optional there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from ledgerbridge.domain import LineItem, LineKind
from ledgerbridge.engine.ports import TAX_CODE_PREFIX, TaxCode, TaxSetup
from ledgerbridge.errors import ConfigError, Invalid

_WHERE = "Settings → Sync → Tax code mapping"


def _rate_key(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().rstrip("%").strip()).normalize()
    except (InvalidOperation, ValueError):
        return None


def _shown(line: LineItem) -> str:
    rate = f" ({line.rate.normalize():f}%)" if line.rate is not None else ""
    return f"'{line.name}'{rate}"


def _codes_text(codes: Sequence[TaxCode]) -> str:
    return ", ".join(f"{c.name} ({c.rate.normalize():f}%)" for c in codes) or "none"


def mapped_code_name(line: LineItem, mapping: Mapping[str, str]) -> str | None:
    """The QBO tax code the mapping names for this tax line: its label first, then its rate."""
    label = line.name.strip().lower()
    for key, value in mapping.items():
        if key.strip().lower() == label and value.strip():
            return value.strip()
    if line.rate is not None:
        rate = line.rate.normalize()
        for key, value in mapping.items():
            if _rate_key(key) == rate and value.strip():
                return value.strip()
    return None


def _find_code(name: str, codes: Sequence[TaxCode]) -> TaxCode | None:
    for code in codes:
        if code.id == name:
            return code
    wanted = name.lower()
    return next((c for c in codes if c.name.strip().lower() == wanted), None)


def choose_tax_code(lines: Sequence[LineItem], setup: TaxSetup, mapping: Mapping[str, str]) -> str:
    """The item reference every tax line of the invoice gets: TAX_CODE_PREFIX + the code's id
    (TAX_CODE_PREFIX alone under Automated Sales Tax with no mapping). Raises ConfigError with
    the fix when a tax has no mapping, names a code QBO lacks, or the code's rate is not
    HubSpot's; Invalid when the taxes map to several codes (QBO takes one per invoice)."""
    taxes = [line for line in lines if line.kind is LineKind.TAX]
    chosen: dict[str, TaxCode] = {}
    unmapped: list[LineItem] = []
    for line in taxes:
        name = mapped_code_name(line, mapping)
        if name is None:
            unmapped.append(line)
            continue
        code = _find_code(name, setup.codes)
        if code is None:
            raise ConfigError(
                message=f"The tax code mapping sends HubSpot tax {_shown(line)} to '{name}', "
                "which is not an active sales tax code in QuickBooks",
                hint=f"In {_WHERE}, choose one of QuickBooks' tax codes: "
                f"{_codes_text(setup.codes)}, then retry",
                code="tax_code_not_found",
            )
        chosen[code.id] = code
    if unmapped and not (setup.automated and not chosen):
        names = ", ".join(_shown(line) for line in unmapped)
        raise ConfigError(
            message=f"No tax code mapping for HubSpot tax {names}: this QuickBooks company "
            "computes sales tax with tax codes",
            hint=f"In {_WHERE}, map the tax's label or rate to a QuickBooks tax code "
            f"(available: {_codes_text(setup.codes)}), then retry",
            code="tax_code_unmapped",
        )
    if not chosen:
        return TAX_CODE_PREFIX  # automated sales tax: QBO assigns the code
    if len(chosen) > 1:
        raise Invalid(
            message="The invoice's taxes map to several QuickBooks tax codes ("
            + ", ".join(c.name for c in chosen.values())
            + "); QuickBooks takes one tax code per invoice",
            hint="In QuickBooks, use a combined tax code (a tax group of these rates) and map "
            f"every HubSpot tax of the invoice to it in {_WHERE}, then retry",
            code="tax_code_several",
        )
    code = next(iter(chosen.values()))
    rates = [line.rate for line in taxes]
    if not setup.automated and all(r is not None for r in rates):
        hubspot_rate = sum((r for r in rates if r is not None), Decimal(0))
        if hubspot_rate.normalize() != code.rate.normalize():
            raise ConfigError(
                message=f"HubSpot taxes this invoice at {hubspot_rate.normalize():f}% but the "
                f"QuickBooks tax code '{code.name}' is {code.rate.normalize():f}%: QuickBooks "
                "computes the tax from its code, so the totals would differ",
                hint=f"Map the tax to a QuickBooks tax code of the same rate in {_WHERE}, or "
                "correct the rate on one side, then retry",
                code="tax_rate_mismatch",
            )
    return TAX_CODE_PREFIX + code.id
