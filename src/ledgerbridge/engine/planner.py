"""Plan one invoice's sync step from both sides' current records, the link and the settings. Pure.

The step is level-triggered: whatever event woke it, the planner only looks at the current
state of both sides and the base snapshots, and returns what to write to converge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledgerbridge.domain import Invoice, InvoiceStatus, Side, SyncStatus
from ledgerbridge.engine.decisions import (
    Audit,
    CreateLedgerInvoice,
    Decision,
    EnsureCustomer,
    EnsureItems,
    Op,
    Plan,
    UpdateCrmInvoice,
    UpdateLedgerInvoice,
    UpsertCrmInvoice,
    VoidLedgerInvoice,
    failed,
    skipped,
)
from ledgerbridge.engine.fieldmap import (
    F_CUSTOMER,
    F_DISCOUNT,
    F_LINES,
    F_VOIDED,
    PO_PROPERTY,
    SyncSettings,
)
from ledgerbridge.engine.filters import evaluate
from ledgerbridge.engine.identity import external_key
from ledgerbridge.engine.merge import FieldRule, MergeResult, three_way_merge
from ledgerbridge.engine.ports import Link, RecordKey
from ledgerbridge.engine.snapshot import Snapshot, copy_fields, equivalent, invoice_snapshot
from ledgerbridge.engine.validate import (
    check_currency,
    check_custom_fields,
    check_invoice_for_crm,
    check_invoice_for_ledger,
    cut_long_text,
)
from ledgerbridge.errors import SyncError

# Fields HubSpot keeps in records of their own (not covered by the invoice's version).
HUBSPOT_CHILD_FIELDS = (F_LINES, F_DISCOUNT, F_CUSTOMER)
# CrmPort.update_invoice field names for canonical merge fields.
_CRM_FIELDS = {F_VOIDED: "status"}


@dataclass(frozen=True)
class LedgerInfo:
    """Facts about the QuickBooks company, read once per run."""

    home_currency: str = "USD"
    multicurrency: bool = False
    # custom field name (lower-cased) and DefinitionId -> DefinitionId; empty when unknown
    custom_fields: Mapping[str, str] | None = None


@dataclass(frozen=True)
class InvoiceInput:
    """Everything the invoice planner needs about one invoice, read beforehand (both sides, link,
    bases).
    """

    key: RecordKey
    hubspot: Invoice | None
    quickbooks: Invoice | None
    link: Link | None
    settings: SyncSettings
    ledger: LedgerInfo


def plan_invoice(inp: InvoiceInput) -> Plan:
    try:
        return _plan(inp)
    except SyncError as exc:
        return failed(inp.key, exc, _primary(inp))


def _plan(inp: InvoiceInput) -> Plan:
    hs, qbo, link = inp.hubspot, inp.quickbooks, inp.link
    if link is None and hs is not None and qbo is not None:
        # Counterpart found by natural key (lost link after a crash): adopt it, no base.
        # The QBO side knows best: our invoices there carry the HubSpot marker.
        origin = qbo.origin or hs.origin or Side.HUBSPOT
        return _plan_linked(inp, hs, qbo, origin, None, None)
    if link is None:
        if hs is not None:
            return _plan_new_from_hubspot(inp, hs)
        if qbo is not None:
            return _plan_new_from_ledger(inp, qbo)
        return skipped(inp.key, "the record no longer exists on either side")
    origin = Side(link.extra.get("origin", Side.HUBSPOT.value))
    if hs is None or qbo is None:
        gone, there = ("HubSpot", "QuickBooks") if hs is None else ("QuickBooks", "HubSpot")
        gone_id = link.hubspot_id if hs is None else link.qbo_id
        return Plan(
            inp.key,
            Decision(
                SyncStatus.FAILED,
                f"The {gone} invoice {gone_id} was deleted; its {there} counterpart was left as is",
                hint=f"Void or delete the invoice in {there} too, or restore it in {gone}",
                category="not_found",
                code="counterpart_deleted",
            ),
            origin=origin,
            hubspot_id=link.hubspot_id,
            qbo_id=link.qbo_id,
        )
    base = link.base or {}
    return _plan_linked(
        inp, hs, qbo, origin, _side_base(base, "hubspot"), _side_base(base, "quickbooks")
    )


# ---- new HubSpot invoice -> QuickBooks -------------------------------------------------------
def _plan_new_from_hubspot(inp: InvoiceInput, hs: Invoice) -> Plan:
    settings = inp.settings
    hs_id = hs.id or inp.key.source_id
    if not settings.invoices.hubspot_to_qbo:
        return skipped(inp.key, "HubSpot to QuickBooks invoice sync is off")
    if hs.status is InvoiceStatus.DRAFT:
        return skipped(inp.key, "draft: syncs when the invoice is finished")
    if hs.status is InvoiceStatus.VOIDED:
        # Excluded, not merely skipped: its payments then know not to wait for it.
        return Plan(
            inp.key,
            Decision(SyncStatus.EXCLUDED, "Voided in HubSpot before it was synced"),
            origin=Side.HUBSPOT,
            hubspot_id=hs_id,
            **_labels(hs),
        )
    if hs.origin is Side.QUICKBOOKS:
        return skipped(inp.key, "mirror of a QuickBooks invoice whose link is not recorded yet")
    common = _labels(hs)
    verdict = evaluate(settings.filters, hs, Side.HUBSPOT)
    if not verdict.eligible:
        return Plan(
            inp.key,
            Decision(SyncStatus.EXCLUDED, f"Excluded by sync filter: {verdict.reason}"),
            origin=Side.HUBSPOT,
            hubspot_id=hs_id,
            **common,
        )
    doc_number = settings.doc_number_for(hs.number)
    check_invoice_for_ledger(hs, settings, doc_number)
    check_currency(hs, inp.ledger.home_currency, inp.ledger.multicurrency)
    custom = _ledger_custom_fields(hs, inp)
    outgoing = cut_long_text(replace(hs, number=doc_number, id=None, version=None), settings)
    snap = invoice_snapshot(hs, Side.HUBSPOT, settings)
    assert hs.customer is not None  # check_invoice_for_ledger guarantees it
    ops: tuple[Op, ...] = (
        EnsureItems(hs.lines, settings.product_not_found, settings.default_item_name),
        EnsureCustomer(hs.customer, *_customer_currency(inp, hs)),
        CreateLedgerInvoice(outgoing, custom, hs_id, external_key(hs_id)),
    )
    return Plan(
        inp.key,
        Decision(SyncStatus.SYNCED),
        ops,
        action="create",
        summary="create the QuickBooks invoice",
        origin=Side.HUBSPOT,
        hubspot_id=hs_id,
        base_hubspot=snap,
        base_quickbooks=snap,
        hubspot_version=hs.version,
        **common,
    )


# ---- new QuickBooks invoice -> HubSpot -------------------------------------------------------
def _plan_new_from_ledger(inp: InvoiceInput, qbo: Invoice) -> Plan:
    settings = inp.settings
    qbo_id = qbo.id or inp.key.source_id
    if not settings.invoices.qbo_to_hubspot:
        return skipped(inp.key, "QuickBooks to HubSpot invoice sync is off")
    if qbo.origin is Side.HUBSPOT:
        return skipped(inp.key, "created from a HubSpot invoice whose link is not recorded yet")
    if qbo.status is InvoiceStatus.VOIDED:
        # Excluded, not merely skipped: its payments then know not to wait for it.
        return Plan(
            inp.key,
            Decision(SyncStatus.EXCLUDED, "Voided in QuickBooks before it was synced"),
            origin=Side.QUICKBOOKS,
            qbo_id=qbo_id,
            **_labels(qbo),
        )
    common = _labels(qbo)
    verdict = evaluate(settings.filters, qbo, Side.QUICKBOOKS)
    if not verdict.eligible:
        return Plan(
            inp.key,
            Decision(SyncStatus.EXCLUDED, f"Excluded by sync filter: {verdict.reason}"),
            origin=Side.QUICKBOOKS,
            qbo_id=qbo_id,
            **common,
        )
    check_invoice_for_crm(qbo)
    snap = invoice_snapshot(qbo, Side.QUICKBOOKS, settings)
    outgoing = to_crm_invoice(qbo, settings)
    return Plan(
        inp.key,
        Decision(SyncStatus.SYNCED),
        (UpsertCrmInvoice(outgoing, qbo_id),),
        action="create",
        summary="create the HubSpot invoice",
        origin=Side.QUICKBOOKS,
        qbo_id=qbo_id,
        base_hubspot=snap,
        base_quickbooks=snap,
        qbo_version=qbo.version,
        extra={
            "customer_qbo_id": qbo.customer.id if qbo.customer else None,
            "doc_number": qbo.number,
        },
        **common,
    )


# ---- linked invoice: three-way merge ----------------------------------------------------------
def _plan_linked(
    inp: InvoiceInput,
    hs: Invoice,
    qbo: Invoice,
    origin: Side,
    base_hs: Snapshot | None,
    base_qbo: Snapshot | None,
) -> Plan:
    settings, link = inp.settings, inp.link
    hs_id = hs.id or (link.hubspot_id if link else None) or ""
    qbo_id = qbo.id or (link.qbo_id if link else None) or ""
    snap_hs = invoice_snapshot(hs, Side.HUBSPOT, settings)
    snap_qbo = invoice_snapshot(qbo, Side.QUICKBOOKS, settings)
    # Echo suppression: a side whose version is the one we last wrote or saw has not changed,
    # whatever its translation looks like; its current reading becomes its base.
    if link is not None and link.hubspot_version and hs.version == link.hubspot_version:
        # Except what HubSpot keeps in other records (line items, discounts, fees, taxes, the
        # contact): editing those leaves the invoice's version as it was, so the stored base
        # still decides whether they changed.
        kept = {f: base_hs[f] for f in HUBSPOT_CHILD_FIELDS if base_hs and f in base_hs}
        base_hs = {**snap_hs, **kept}
    if link is not None and link.qbo_version and qbo.version == link.qbo_version:
        base_qbo = snap_qbo
    merge = three_way_merge(
        _rules(settings), origin, snap_hs, snap_qbo, base_hs, base_qbo, equivalent
    )
    to_qbo = merge.to_quickbooks if settings.invoices.hubspot_to_qbo else ()
    to_hs = merge.to_hubspot if settings.invoices.qbo_to_hubspot else ()
    ops: list[Op] = [Audit(c) for c in merge.conflicts]
    if to_qbo:
        ops.extend(_ledger_update_ops(inp, hs, qbo, qbo_id, to_qbo))
    if to_hs:
        target = copy_fields(hs, qbo, to_hs, settings, Side.HUBSPOT)
        fields = _crm_field_names(to_hs, settings)
        ops.append(UpdateCrmInvoice(hs_id, target, fields))
    new_base_hs = dict(snap_hs)
    new_base_qbo = dict(snap_qbo)
    for name in to_hs:
        new_base_hs[name] = snap_qbo[name]
    for name in to_qbo:
        new_base_qbo[name] = snap_hs[name]
    ops_tuple = tuple(ops)
    writes = [op for op in ops_tuple if not isinstance(op, Audit)]
    return Plan(
        inp.key,
        Decision(SyncStatus.SYNCED),
        ops_tuple,
        action="update" if writes else ("match" if link is None else "none"),
        summary=_summary(merge, to_hs, to_qbo),
        origin=origin,
        hubspot_id=hs_id,
        qbo_id=qbo_id,
        base_hubspot=new_base_hs,
        base_quickbooks=new_base_qbo,
        hubspot_version=hs.version,
        qbo_version=qbo.version,
        extra={
            "customer_qbo_id": qbo.customer.id if qbo.customer else None,
            "doc_number": qbo.number,
        },
        **_labels(hs if origin is Side.HUBSPOT else qbo),
    )


def _customer_currency(inp: InvoiceInput, invoice: Invoice) -> tuple[str | None, str | None]:
    """(invoice currency, home currency) when the QBO company has multicurrency on."""
    if not inp.ledger.multicurrency:
        return None, None
    return invoice.currency.upper(), inp.ledger.home_currency.upper()


def _ledger_update_ops(
    inp: InvoiceInput, hs: Invoice, qbo: Invoice, qbo_id: str, fields: tuple[str, ...]
) -> list[Op]:
    settings = inp.settings
    if F_VOIDED in fields:
        # Voiding wins over every other edit: QBO keeps a voided invoice at zero.
        return [VoidLedgerInvoice(qbo_id, qbo.version or "0")]
    target = copy_fields(qbo, hs, fields, settings, Side.QUICKBOOKS)
    check_invoice_for_ledger(target, settings, None)
    check_currency(target, inp.ledger.home_currency, inp.ledger.multicurrency)
    custom = _ledger_custom_fields(target, inp, source=Side.QUICKBOOKS)
    ops: list[Op] = []
    item_ids: tuple[str, ...] | None = tuple(line.product_id or "" for line in qbo.lines)
    customer_id = qbo.customer.id if qbo.customer else None
    if F_LINES in fields:
        ops.append(
            EnsureItems(target.lines, settings.product_not_found, settings.default_item_name)
        )
        item_ids = None
    if F_CUSTOMER in fields and target.customer is not None:
        ops.append(EnsureCustomer(target.customer, *_customer_currency(inp, target)))
        customer_id = None
    ops.append(
        UpdateLedgerInvoice(
            qbo_id,
            qbo.version or "0",
            cut_long_text(target, settings),
            fields,
            custom,
            item_ids,
            customer_id,
        )
    )
    return ops


# ---- helpers ---------------------------------------------------------------------------------
def _rules(settings: SyncSettings) -> list[FieldRule]:
    rules = [FieldRule(m.field, m.direction, m.owner) for m in settings.field_mappings]
    rules.extend(FieldRule(m.key, m.direction, m.owner) for m in settings.custom_mappings)
    return rules


def _ledger_custom_fields(
    invoice: Invoice, inp: InvoiceInput, source: Side = Side.HUBSPOT
) -> dict[str, str]:
    """QBO custom field values to send. `source` says how `invoice` keys its custom fields: a
    HubSpot invoice (a create: only fields allowed to flow to QBO) or the merged QBO invoice (an
    update: every mapped field, as QBO should hold it)."""
    values: dict[str, str] = {}
    for mapping in inp.settings.custom_mappings:
        if source is Side.HUBSPOT:
            if not mapping.direction.allows(Side.HUBSPOT, Side.HUBSPOT):
                continue
            value = mapping.hubspot_value(invoice)
        else:
            value = mapping.qbo_value(invoice)
        if value is not None and mapping.qbo_ref:
            values[mapping.qbo_ref] = value
    return check_custom_fields(values, inp.ledger.custom_fields or {})


def to_crm_invoice(qbo: Invoice, settings: SyncSettings) -> Invoice:
    """A QBO invoice as HubSpot should receive it: custom fields keyed by HubSpot property."""
    custom: dict[str, str] = {}
    po_number = None
    for mapping in settings.custom_mappings:
        value = mapping.qbo_value(qbo)
        if value is None:
            continue
        custom[mapping.hubspot_property] = value
        if mapping.hubspot_property == PO_PROPERTY:
            po_number = value
    return replace(
        qbo, custom_fields=custom, po_number=po_number or qbo.po_number, origin=Side.QUICKBOOKS
    )


def _crm_field_names(fields: tuple[str, ...], settings: SyncSettings) -> tuple[str, ...]:
    names: list[str] = []
    for name in fields:
        if name.startswith("custom:"):
            crm = "custom_fields"
            if name == "custom:" + PO_PROPERTY and "po_number" not in names:
                names.append("po_number")
        else:
            crm = _CRM_FIELDS.get(name, name)
        if crm not in names:
            names.append(crm)
    return tuple(names)


def _side_base(base: Mapping[str, Any], side: str) -> Snapshot | None:
    value = base.get(side)
    return dict(value) if isinstance(value, Mapping) else None


def _summary(merge: MergeResult, to_hs: tuple[str, ...], to_qbo: tuple[str, ...]) -> str:
    parts = []
    if to_qbo:
        parts.append("update QuickBooks: " + ", ".join(to_qbo))
    if to_hs:
        parts.append("update HubSpot: " + ", ".join(to_hs))
    if merge.conflicts:
        parts.append(f"{len(merge.conflicts)} conflict(s) resolved by field owner")
    return "; ".join(parts) or "in sync"


def _labels(invoice: Invoice) -> dict[str, Any]:
    label = invoice.number or (f"invoice {invoice.id}" if invoice.id else "invoice")
    return {"label": label, "amount": invoice.total, "currency": invoice.currency}


def _primary(inp: InvoiceInput) -> dict[str, Any]:
    source = inp.hubspot or inp.quickbooks
    result: dict[str, Any] = {
        "hubspot_id": inp.hubspot.id
        if inp.hubspot
        else (inp.link.hubspot_id if inp.link else None),
        "qbo_id": inp.quickbooks.id if inp.quickbooks else (inp.link.qbo_id if inp.link else None),
    }
    if source is not None:
        result.update(_labels(source))
        result["origin"] = source.origin or inp.key.side
    return result
