"""The /settings/sync forms ⇄ SyncSettings. Each section saves on its own; a section with a
mistake is shown again with what is wrong and nothing is saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from ledgerbridge.engine.fieldmap import (
    CustomFieldMapping,
    Direction,
    DocNumberStrategy,
    FeeSettings,
    LongTextPolicy,
    ObjectSync,
    ProductNotFoundPolicy,
    RefundSettings,
    SalesReceiptSettings,
    SyncSettings,
)
from ledgerbridge.engine.filters import BUILTIN_FIELDS, OP_TEXT, FilterOp, FilterRule, validate_rule

OBJECTS = (
    ("invoices", "Invoices"),
    ("payments", "Payments"),
    ("customers", "Contacts ⇄ customers"),
    ("items", "Products ⇄ items"),
)
OP_LABELS = OP_TEXT
LIST_OPS = {FilterOp.IN, FilterOp.NOT_IN, FilterOp.BETWEEN}
DIRECTION_LABELS = {
    Direction.BOTH: "Two-way",
    Direction.HUBSPOT_TO_QBO: "HubSpot → QuickBooks",
    Direction.QBO_TO_HUBSPOT: "QuickBooks → HubSpot",
    Direction.FROM_ORIGIN: "From the side it was created on",
    Direction.NONE: "Don't sync",
}
# What each choice means for the people who read the invoices (shown in the settings).
DOC_NUMBER_MEANINGS = {
    DocNumberStrategy.QBO_ASSIGNS: "Each invoice has two numbers: HubSpot's (the one your "
    "customer sees on invoices sent from HubSpot) and QuickBooks' own next number. The console "
    "shows both.",
    DocNumberStrategy.HUBSPOT_NUMBER: "QuickBooks uses the HubSpot number: one number everywhere.",
    DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER: "QuickBooks uses the HubSpot number with your "
    "prefix in front, so invoices from HubSpot stand out in QuickBooks.",
}
DOC_NUMBER_LABELS = {
    DocNumberStrategy.QBO_ASSIGNS: "QuickBooks assigns the next number",
    DocNumberStrategy.HUBSPOT_NUMBER: "Use the HubSpot invoice number",
    DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER: "Use the HubSpot invoice number with a prefix",
}
PRODUCT_POLICY_LABELS = {
    ProductNotFoundPolicy.CREATE_ITEM: "Create the item in QuickBooks",
    ProductNotFoundPolicy.USE_DEFAULT_ITEM: "Use a default item",
    ProductNotFoundPolicy.FAIL: "Fail the invoice (fix it by hand)",
}
MATCH_KEYS = {"email": "Email address"}

# The sides a filter rule can apply to, as the form sends them.
_APPLIES: dict[str, Literal["hubspot", "quickbooks", "both"]] = {
    "hubspot": "hubspot",
    "quickbooks": "quickbooks",
    "both": "both",
}


@dataclass
class SectionResult:
    settings: SyncSettings | None
    errors: list[str] = field(default_factory=list)


def _one(form: Any, name: str) -> str:
    value = form.get(name)
    return str(value).strip() if isinstance(value, str) else ""


def objects_from_form(current: SyncSettings, form: Any) -> SectionResult:
    changes = {
        name: ObjectSync(
            hubspot_to_qbo=_one(form, f"{name}.hubspot_to_qbo") == "on",
            qbo_to_hubspot=_one(form, f"{name}.qbo_to_hubspot") == "on",
        )
        for name, _ in OBJECTS
    }
    return SectionResult(current.model_copy(update=changes))


def filters_from_form(
    current: SyncSettings, form: Any
) -> tuple[SectionResult, list[dict[str, str]]]:
    """Also returns the rows as typed, to show them again when something is wrong."""
    fields, ops, values, applies, states, labels = (
        [str(v) for v in form.getlist(n)]
        for n in ("rule_field", "rule_op", "rule_value", "rule_applies", "rule_state", "rule_label")
    )
    rows: list[dict[str, str]] = []
    rules: list[FilterRule] = []
    errors: list[str] = []
    for n in range(len(fields)):
        row = {
            "field": fields[n].strip(),
            "op": ops[n] if n < len(ops) else "eq",
            "value": values[n].strip() if n < len(values) else "",
            "applies": applies[n] if n < len(applies) else "hubspot",
            "state": states[n] if n < len(states) else "on",
            "label": labels[n].strip() if n < len(labels) else "",
        }
        if row["state"] == "remove" or (not row["field"] and not row["value"]):
            continue
        rows.append(row)
        try:
            op = FilterOp(row["op"])
            value: str | list[str] | None = row["value"] or None
            if op in LIST_OPS and row["value"]:
                value = [v.strip() for v in row["value"].split(",") if v.strip()]
            rule = FilterRule(
                field=row["field"],
                op=op,
                value=value,
                label=row["label"] or None,
                enabled=row["state"] != "off",
                applies_to=_APPLIES.get(row["applies"], "hubspot"),
            )
        except (ValueError, ValidationError):
            errors.append(f"Rule {len(rows)}: choose a field and a condition.")
            continue
        problems = validate_rule(rule)
        if problems:
            errors.append(f"Rule {len(rows)} ({rule.describe()}): {'; '.join(problems)}.")
        rules.append(rule)
    if errors:
        return SectionResult(None, errors), rows
    return SectionResult(current.model_copy(update={"filters": rules})), rows


def rule_rows(settings: SyncSettings) -> list[dict[str, str]]:
    rows = []
    for rule in settings.filters:
        value = ", ".join(rule.value) if isinstance(rule.value, list) else (rule.value or "")
        rows.append(
            {
                "field": rule.field,
                "op": rule.op.value,
                "value": value,
                "applies": rule.applies_to,
                "state": "on" if rule.enabled else "off",
                "label": rule.label or "",
                "describe": rule.describe(),
            }
        )
    return rows


def mappings_from_form(current: SyncSettings, form: Any, qbo_fields: list[str]) -> SectionResult:
    props, targets, directions = (
        [str(v).strip() for v in form.getlist(n)]
        for n in ("map_hubspot", "map_qbo", "map_direction")
    )
    mappings: list[CustomFieldMapping] = []
    errors: list[str] = []
    seen: set[str] = set()
    for n, prop in enumerate(props):
        target = targets[n] if n < len(targets) else ""
        if not prop and not target:
            continue
        if not prop or not target:
            errors.append(
                f"Mapping {n + 1}: choose both a HubSpot property and a QuickBooks custom field."
            )
            continue
        if prop in seen:
            errors.append(f"The HubSpot property {prop} is mapped twice.")
            continue
        seen.add(prop)
        try:
            direction = Direction(directions[n] if n < len(directions) else "both")
        except ValueError:
            direction = Direction.BOTH
        if qbo_fields and target not in qbo_fields:
            errors.append(
                f"QuickBooks has no custom field named '{target}' (it has: {', '.join(qbo_fields)})."
            )
            continue
        mappings.append(
            CustomFieldMapping(hubspot_property=prop, qbo_field=target, direction=direction)
        )
    if errors:
        return SectionResult(None, errors)
    return SectionResult(current.model_copy(update={"custom_mappings": mappings}))


def policies_from_form(current: SyncSettings, form: Any) -> SectionResult:
    errors: list[str] = []
    try:
        doc_number = DocNumberStrategy(_one(form, "doc_number"))
        policy = ProductNotFoundPolicy(_one(form, "product_not_found"))
    except ValueError:
        return SectionResult(
            None, ["Choose a document number strategy and a product-not-found policy."]
        )
    prefix = _one(form, "doc_number_prefix")
    default_item = _one(form, "default_item_name") or current.default_item_name
    tax_item = _one(form, "tax_item_name") or current.tax_item_name
    tax_account = _one(form, "tax_account_name") or current.tax_account_name
    match_key = _one(form, "customer_match_key") or "email"
    tax_codes = _tax_code_mapping(form, current, errors)
    try:
        long_text = LongTextPolicy(_one(form, "long_text") or current.long_text)
    except ValueError:
        return SectionResult(None, ["Choose what to do with over-long line descriptions."])
    if doc_number is DocNumberStrategy.PREFIXED_HUBSPOT_NUMBER and not prefix:
        errors.append("Enter the prefix for document numbers.")
    if len(prefix) > 10:
        errors.append(
            "Keep the prefix to 10 characters (QuickBooks numbers are 21 characters at most)."
        )
    if match_key not in MATCH_KEYS:
        errors.append("Customers can only be matched by email address.")
    if errors:
        return SectionResult(None, errors)
    return SectionResult(
        current.model_copy(
            update={
                "doc_number": doc_number,
                "doc_number_prefix": prefix or current.doc_number_prefix,
                "product_not_found": policy,
                "default_item_name": default_item[:100],
                "tax_item_name": tax_item[:100],
                "tax_account_name": tax_account[:100],
                "tax_code_mapping": tax_codes,
                "fees": FeeSettings(
                    enabled=_one(form, "fees_enabled") == "on",
                    expense_account=(
                        _one(form, "fees_expense_account") or current.fees.expense_account
                    )[:100],
                    paid_from_account=(
                        _one(form, "fees_paid_from_account") or current.fees.paid_from_account
                    )[:100],
                    vendor_name=_one(form, "fees_vendor_name")[:100],
                ),
                "refunds": _refund_settings(form, current),
                "sales_receipts": _receipt_settings(form, current),
                "customer_match_key": match_key,
                "long_text": long_text,
            }
        )
    )


def tax_code_mapping_text(settings: SyncSettings) -> str:
    """The mapping as the form shows it: one "HubSpot tax = QuickBooks tax code" per line."""
    return "\n".join(f"{key} = {value}" for key, value in settings.tax_code_mapping.items())


def _tax_code_mapping(form: Any, current: SyncSettings, errors: list[str]) -> dict[str, str]:
    """Lines "HubSpot tax label or rate = QuickBooks tax code name or id"; a form that does not
    send the field keeps the current mapping."""
    if form.get("tax_code_mapping") is None:
        return dict(current.tax_code_mapping)
    mapping: dict[str, str] = {}
    for number, raw in enumerate(_one(form, "tax_code_mapping").splitlines(), start=1):
        if not raw.strip():
            continue
        key, sep, value = raw.partition("=")
        if not sep or not key.strip() or not value.strip():
            errors.append(
                f"Tax code mapping, line {number}: write it as "
                "“HubSpot tax name or rate = QuickBooks tax code”."
            )
            continue
        mapping[key.strip()[:100]] = value.strip()[:100]
    return mapping


_BOOKED_AS: dict[str, Literal["refund_receipt", "credit_memo"]] = {
    "refund_receipt": "refund_receipt",
    "credit_memo": "credit_memo",
}

_DELETED_PAYMENT: dict[str, Literal["void", "delete", "none"]] = {
    "void": "void",
    "delete": "delete",
    "none": "none",
}


def _refund_settings(form: Any, current: SyncSettings) -> RefundSettings:
    """Refunds and deletes of HubSpot payments towards QuickBooks; a field the form did not send
    keeps its current value."""
    to_qbo = _one(form, "refunds_to_quickbooks")
    deleted = _one(form, "refunds_deleted_payment")
    booked = _one(form, "refunds_booked_as")
    return RefundSettings(
        to_quickbooks=current.refunds.to_quickbooks if not to_qbo else to_qbo == "on",
        deleted_payment=_DELETED_PAYMENT.get(deleted, current.refunds.deleted_payment),
        booked_as=_BOOKED_AS.get(booked, current.refunds.booked_as),
    )


def _receipt_settings(form: Any, current: SyncSettings) -> SalesReceiptSettings:
    """Sales receipts (payments tied to no invoice, paid invoices); a field the form did not
    send keeps its current value."""
    now = current.sales_receipts
    enabled = _one(form, "receipts_enabled")
    paid = _one(form, "receipts_paid_invoice")
    settle = _one(form, "receipts_settle_seconds").strip()
    item = _one(form, "receipts_item_name").strip()
    return SalesReceiptSettings(
        enabled=now.enabled if not enabled else enabled == "on",
        paid_invoice="sales_receipt"
        if paid == "sales_receipt"
        else "invoice_and_payment"
        if paid == "invoice_and_payment"
        else now.paid_invoice,
        item_name=(item or now.item_name)[:100],
        deposit_account=(
            _one(form, "receipts_deposit_account").strip()
            if _present(form, "receipts_deposit_account")
            else now.deposit_account
        )[:100],
        settle_seconds=int(settle) if settle.isdigit() else now.settle_seconds,
    )


def _present(form: Any, name: str) -> bool:
    return name in form


def filter_fields() -> list[tuple[str, str]]:
    return list(BUILTIN_FIELDS.items())
