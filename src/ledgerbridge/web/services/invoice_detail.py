"""The invoice panel: the HubSpot invoice with everything attached, its payments, and what the
sync knows about it (from the store: category, message, hint, attempts)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot.translate_payments import GONE_NOTES
from ledgerbridge.domain import Side, SyncStatus, quantize
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.payments import REFUND_IDS, booked_refunds
from ledgerbridge.engine.ports import (
    HOME_TOTAL,
    INVOICE,
    PAYMENT,
    Link,
    RecordKey,
    StoredSyncState,
)
from ledgerbridge.errors import SyncError
from ledgerbridge.web import formatting
from ledgerbridge.web.context import Console
from ledgerbridge.web.formatting import decimal_or_zero, to_date
from ledgerbridge.web.services.links import (
    payment_kind_label,
    payment_page,
    qbo_payment_id,
    qbo_url,
)
from ledgerbridge.web.services.party import Party, party

ASSOCIATIONS = (
    "contacts",
    "companies",
    "deals",
    "line_items",
    "discounts",
    "fees",
    "taxes",
    "commerce_payments",
)
RELATED_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "city", "country"),
    "deals": ("dealname", "dealstage", "pipeline", "amount", "closedate"),
    "line_items": tr.LINE_ITEM_PROPERTIES,
    "discounts": tr.ADJUSTMENT_PROPERTIES,
    "fees": tr.ADJUSTMENT_PROPERTIES,
    "taxes": tr.ADJUSTMENT_PROPERTIES,
    "commerce_payments": (*tr.PAYMENT_PROPERTIES, "hs_net_amount_after_refunds", "hs_platform_fee"),
}
# Shown in the properties card, in this order, when set.
STANDARD_PROPERTIES = (
    ("hs_number", "Invoice number"),
    ("hs_title", "Title"),
    ("hs_invoice_date", "Invoice date"),
    ("hs_due_date", "Due date"),
    ("hs_purchase_order_number", "PO number"),
    ("hs_currency", "Currency"),
    ("hs_comments", "Comments"),
    ("hs_tax_id", "Tax id"),
    ("hs_invoice_source", "Source"),
    ("hs_createdate", "Created"),
)
DATE_PROPERTIES = {"hs_invoice_date", "hs_due_date", "hs_createdate"}
# hs_invoice_source's codes, as people say them.
SOURCE_WORDS = {
    "API": "Created through the HubSpot API (an app or integration)",
    "data_sync": "Brought in from QuickBooks by the sync",
    "CRM_UI": "Created in HubSpot",
}
REFUNDABLE = {"succeeded", "partially_refunded"}


@dataclass
class Line:
    name: str
    sku: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    description: str = ""


@dataclass
class Adjustment:
    kind: str  # discount | fee | tax
    label: str
    type: str  # PERCENT | FIXED
    value: Decimal
    amount: Decimal


@dataclass
class PaymentView:
    id: str
    source: str  # hs_processor_type
    date: dt.date | None
    status: str
    amount: Decimal
    currency: str
    method: str
    reference: str
    fees: Decimal
    refunds: Decimal
    comment: str
    qbo_id: str | None
    qbo_link: str | None
    qbo_kind: str = "payment"  # or "sales receipt": what QBO holds the payment as
    qbo_refunded: Decimal = Decimal(0)  # booked in QBO as refund receipts
    qbo_refund_ids: tuple[str, ...] = ()
    refund_action: str = ""  # what a refund does in QuickBooks (the refund dialog says it)
    delete_action: str = ""  # what a delete does in QuickBooks (the delete dialog says it)

    @property
    def gone_in_qbo(self) -> str | None:
        """ "Voided in QuickBooks" / "Deleted in QuickBooks" for a copy of a QBO payment that QBO
        no longer counts (the copy keeps the amount that was paid)."""
        if self.source != "quickbooks":
            return None
        first = self.comment.splitlines()[0] if self.comment else ""
        return first if first in GONE_NOTES.values() else None

    @property
    def status_label(self) -> str:
        return self.gone_in_qbo or formatting.label(formatting.PAYMENT_LATEST_STATUS, self.status)

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.refunds if self.status in REFUNDABLE else Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.amount - self.fees - self.refunds


@dataclass
class SyncView:
    status: str
    category: str | None = None
    message: str | None = None
    hint: str | None = None
    attempts: int = 0
    first_seen: dt.datetime | None = None
    last_attempt: dt.datetime | None = None
    next_attempt: dt.datetime | None = None
    qbo_id: str | None = None
    qbo_number: str | None = None
    qbo_link: str | None = None
    # "SalesReceipt" when the invoice was recorded in QBO as one sales receipt (the paid-invoice
    # workflow): qbo_id then names that receipt, and there is no QBO invoice to read.
    qbo_kind: str = ""
    origin: str = "hubspot"
    tracked: bool = False  # the store has a state for it (Retry); else only "Sync now"
    qbo: dict[str, Any] | None = None  # the invoice as QuickBooks holds it, when readable
    qbo_error: str | None = None
    # A diverged invoice: each differing field with both values (web/services/reconcile.py).
    differences: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InvoiceView:
    id: str
    number: str
    status: str
    payment_status: str
    currency: str
    properties: list[tuple[str, str, bool]]  # (label, value, is a date)
    custom: list[tuple[str, str, str]]  # (name, label, value)
    lines: list[Line]
    adjustments: list[Adjustment]
    subtotal: Decimal
    discount: Decimal
    fees: Decimal
    taxes: Decimal
    total: Decimal
    paid: Decimal
    balance: Decimal
    due_date: dt.date | None
    contact: dict[str, Any] | None
    company: dict[str, Any] | None
    party: Party
    deal: dict[str, Any] | None
    payments: list[PaymentView]
    sync: SyncView
    source: str
    raw: dict[str, Any] = field(default_factory=dict)


def _ids(record: dict[str, Any], kind: str) -> list[str]:
    block = (record.get("associations") or {}).get(kind) or {}
    return list(dict.fromkeys(str(r.get("id")) for r in block.get("results") or []))


def _props(record: dict[str, Any] | None) -> dict[str, Any]:
    return dict((record or {}).get("properties") or {})


async def load_invoice(
    console: Console, invoice_id: str, *, with_qbo: bool = True
) -> InvoiceView | None:
    catalog = console.catalog
    definitions = await catalog.all("invoices")
    custom_defs = [d for d in definitions if d.custom]
    names = list(
        dict.fromkeys(
            [
                *tr.INVOICE_PROPERTIES,
                "hs_fee_amount",
                "hs_tax_amount",
                *(d.name for d in custom_defs),
            ]
        )
    )
    record = await console.hubspot.get("invoices", invoice_id, names, associations=ASSOCIATIONS)
    if record is None or record.get("archived"):
        return None
    related_ids = {kind: _ids(record, kind) for kind in ASSOCIATIONS}
    kinds = [k for k, ids in related_ids.items() if ids]
    fetched = await asyncio.gather(
        *(console.hubspot.batch_read(k, related_ids[k], RELATED_PROPERTIES[k]) for k in kinds)
    )
    related = dict(zip(kinds, fetched, strict=True))

    def records(kind: str) -> list[dict[str, Any]]:
        got = related.get(kind, {})
        return [got[i] for i in related_ids[kind] if i in got]

    p = _props(record)
    currency = str(p.get("hs_currency") or "USD")
    lines = [_line(r, currency) for r in sorted(records("line_items"), key=_position)]
    subtotal = sum((line.amount for line in lines), Decimal(0))
    adjustments, discount, fees, taxes = _adjustments(records, subtotal, currency)
    total = (
        decimal_or_zero(p.get("hs_amount_billed"))
        if p.get("hs_amount_billed") not in (None, "")
        else subtotal - discount + fees + taxes
    )
    connection = console.connection()
    payments = [_payment(r, connection, console) for r in records("commerce_payments")]
    payments.sort(key=lambda x: (x.date or dt.date.min, x.id))

    def first(kind: str) -> dict[str, Any] | None:
        items = records(kind)
        return {"id": str(items[0]["id"]), **_props(items[0])} if items else None

    view = InvoiceView(
        id=str(record["id"]),
        number=str(p.get("hs_number") or f"#{record['id']}"),
        status=str(p.get("hs_invoice_status") or "draft"),
        payment_status=str(p.get("hs_payment_status") or ""),
        currency=currency,
        properties=[
            (
                label,
                SOURCE_WORDS.get(str(p[name]), str(p[name]))
                if name == "hs_invoice_source"
                else str(p[name]),
                name in DATE_PROPERTIES,
            )
            for name, label in STANDARD_PROPERTIES
            if p.get(name) not in (None, "")
        ],
        custom=[(d.name, d.label, str(p.get(d.name) or "")) for d in custom_defs],
        lines=lines,
        adjustments=adjustments,
        subtotal=subtotal,
        discount=discount,
        fees=fees,
        taxes=taxes,
        total=total,
        paid=decimal_or_zero(p.get("hs_amount_paid")),
        balance=decimal_or_zero(p.get("hs_balance_due"))
        if p.get("hs_balance_due") not in (None, "")
        else total,
        due_date=to_date(p.get("hs_due_date")),
        contact=first("contacts"),
        company=first("companies"),
        party=party(
            (first("companies") or {}).get("name"),
            first("contacts"),
            p.get("hs_invoice_latest_contact_email"),
        ),
        deal=first("deals"),
        payments=payments,
        sync=sync_view(console, str(record["id"]), p, connection),
        source="QuickBooks" if p.get("hs_invoice_source") == "data_sync" else "HubSpot",
        raw=p,
    )
    if with_qbo and view.sync.qbo_id and not view.sync.qbo_kind:
        await _attach_qbo(console, view.sync)
    return view


def _position(record: dict[str, Any]) -> tuple[Decimal, int]:
    p = _props(record)
    try:
        return decimal_or_zero(p.get("hs_position_on_quote")), int(record.get("id") or 0)
    except ValueError:
        return decimal_or_zero(p.get("hs_position_on_quote")), 0


def _line(record: dict[str, Any], currency: str) -> Line:
    p = _props(record)
    quantity = decimal_or_zero(p.get("quantity") or 1)
    price = decimal_or_zero(p.get("price"))
    amount = (
        decimal_or_zero(p.get("amount"))
        if p.get("amount") not in (None, "")
        else quantize(quantity * price, currency)
    )
    return Line(
        name=str(p.get("name") or "Line item"),
        sku=str(p.get("hs_sku") or ""),
        quantity=quantity,
        unit_price=price,
        amount=amount,
        description=str(p.get("description") or ""),
    )


def _adjustments(
    records: Any, subtotal: Decimal, currency: str
) -> tuple[list[Adjustment], Decimal, Decimal, Decimal]:
    """HubSpot's order: discounts apply to the subtotal, fees to what remains, taxes last."""
    out: list[Adjustment] = []
    running = subtotal
    totals: dict[str, Decimal] = {}
    for kind, label in (("discounts", "discount"), ("fees", "fee"), ("taxes", "tax")):
        base = running
        total = Decimal(0)
        for r in sorted(
            records(kind),
            key=lambda r: (decimal_or_zero(_props(r).get("hs_sort_order")), str(r.get("id"))),
        ):
            p = _props(r)
            value = decimal_or_zero(p.get("hs_value"))
            kind_type = str(p.get("hs_type") or "FIXED").upper()
            amount = (
                quantize(base * value / Decimal(100), currency) if kind_type == "PERCENT" else value
            )
            total += amount
            out.append(
                Adjustment(label, str(p.get("hs_label") or label.title()), kind_type, value, amount)
            )
        totals[label] = total
        running = running - total if label == "discount" else running + total
    return out, totals["discount"], totals["fee"], totals["tax"]


def _payment(record: dict[str, Any], connection: Any, console: Console) -> PaymentView:
    p = _props(record)
    payment_id = str(record["id"])
    qbo_id = qbo_payment_id(p.get(tr.PAYMENT_KEY))
    link = None
    if qbo_id is None:
        link = console.store.get_link(console.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
        qbo_id = link.qbo_id if link else None
    # a Payment, or a SalesReceipt (recorded while the payment was tied to no invoice)
    page = payment_page(link.qbo_kind) if link is not None else "payment"
    source = str(p.get("hs_processor_type") or "none")
    what = payment_kind_label(link.qbo_kind) if link is not None else "payment"
    refund_action, delete_action = _qbo_actions(console, source, qbo_id, what)
    return PaymentView(
        id=payment_id,
        source=str(p.get("hs_processor_type") or "none"),
        date=to_date(p.get("hs_initiated_date")),
        status=str(p.get("hs_latest_status") or "processing"),
        amount=decimal_or_zero(p.get("hs_initial_amount")),
        currency=str(p.get("hs_currency_code") or "USD"),
        method=str(p.get("hs_payment_method_type") or ""),
        reference=str(p.get("hs_reference_number") or ""),
        fees=decimal_or_zero(p.get("hs_fees_amount")),
        refunds=decimal_or_zero(p.get("hs_refunds_amount")),
        comment=str(p.get("hs_internal_comment") or ""),
        qbo_id=qbo_id,
        qbo_link=qbo_url(connection, page, qbo_id),
        qbo_kind=what,
        qbo_refunded=booked_refunds(link),
        qbo_refund_ids=tuple(str(i) for i in ((link.extra.get(REFUND_IDS) or []) if link else [])),
        refund_action=refund_action,
        delete_action=delete_action,
    )


def _refund_words(settings: SyncSettings, qbo_id: str | None, what: str = "payment") -> str:
    if settings.refunds.booked_as == "credit_memo":
        return (
            f"QuickBooks: a credit memo for this amount is created for the customer of {what} "
            f"{qbo_id}, with the reason as its message, and refunded from the payment's deposit "
            "account (an expense to the customer, applied to the credit memo)."
        )
    return (
        f"QuickBooks: a refund receipt for this amount is created against {what} {qbo_id}, "
        "for the same customer and deposit account, with the reason in its memo."
    )


def _qbo_actions(
    console: Console, source: str, qbo_id: str | None, what: str = "payment"
) -> tuple[str, str]:
    """What a refund and a delete of this HubSpot payment will do in QuickBooks, in words."""
    settings = console.sync_settings()
    if source == "quickbooks":
        keep = (
            f"QuickBooks: payment {qbo_id} stays as recorded there (this payment came from "
            "QuickBooks; void it in QuickBooks if its books must show it)."
        )
        refund = (
            _refund_words(settings, qbo_id)
            if settings.refunds.to_quickbooks and settings.payments.hubspot_to_qbo
            else keep
        )
        return refund, keep
    if not qbo_id:
        nothing = "QuickBooks: nothing changes (this payment is not recorded there yet)."
        return nothing, nothing
    refund = (
        _refund_words(settings, qbo_id, what)
        if settings.refunds.to_quickbooks
        else f"QuickBooks: nothing changes (refunds are not sent to QuickBooks); payment "
        f"{qbo_id} keeps counting the full amount."
    )
    how = settings.refunds.deleted_payment
    delete = {
        "void": f"QuickBooks: {what} {qbo_id} is voided (it stays on file at 0.00 and the "
        "invoice's balance goes back up there too).",
        "delete": f"QuickBooks: {what} {qbo_id} is deleted (the invoice's balance goes back "
        "up there too).",
        "none": f"QuickBooks: nothing changes; {what} {qbo_id} keeps counting the full amount.",
    }[how]
    return refund, delete


def invoice_state(
    console: Console, invoice_id: str
) -> tuple[StoredSyncState | None, Link | None, RecordKey]:
    """The stored state of a HubSpot invoice and the key it lives on: its HubSpot key, or, for
    an invoice that came from QuickBooks, its QuickBooks key (states live on the origin side)."""
    conn = console.connection_id
    link = console.store.get_link(conn, INVOICE, Side.HUBSPOT, invoice_id)
    keys = [RecordKey(conn, INVOICE, Side.HUBSPOT, invoice_id)]
    if link is not None and link.qbo_id:
        keys.append(RecordKey(conn, INVOICE, Side.QUICKBOOKS, link.qbo_id))
        if link.extra.get("origin") == Side.QUICKBOOKS.value:
            keys.reverse()
    for key in keys:
        state = console.store.get_state(key)
        if state is not None:
            return state, link, key
    return None, link, keys[0]


def sync_view(console: Console, invoice_id: str, p: dict[str, Any], connection: Any) -> SyncView:
    state, link, _key = invoice_state(console, invoice_id)
    status = state.status.value if state else str(p.get(tr.SYNC_STATUS) or "")
    qbo_id = (
        (link.qbo_id if link else None)
        or p.get(tr.QBO_INVOICE_ID)
        or (state.counterpart_id if state else None)
    )
    number = (
        (link.extra.get("doc_number") if link else None)
        or p.get(tr.QBO_DOC_NUMBER)
        or (state.counterpart_number if state else None)
    )
    view = SyncView(
        status=status,
        qbo_id=qbo_id or None,
        qbo_number=number or None,
        qbo_link=qbo_url(
            connection, "salesreceipt" if link and link.qbo_kind else "invoice", qbo_id
        ),
        qbo_kind=link.qbo_kind if link else "",
        origin=str(link.extra.get("origin", "hubspot")) if link else "hubspot",
        tracked=state is not None,
    )
    if state is not None:
        view.category, view.message, view.hint = state.category, state.message, state.hint
        view.attempts = state.attempts
        if state.status is SyncStatus.DIVERGED:
            from ledgerbridge.web.services.reconcile import difference_rows

            view.differences = difference_rows(state.differences)
        view.first_seen, view.last_attempt, view.next_attempt = (
            state.first_seen_at,
            state.last_attempt_at,
            state.next_attempt_at,
        )
    elif p.get(tr.SYNC_ERROR):
        view.message = str(p.get(tr.SYNC_ERROR))
    return view


async def _attach_qbo(console: Console, sync: SyncView) -> None:
    """What QuickBooks holds for the invoice (number, totals, custom fields): the proof that a
    mapping reached it. Best effort: the panel still shows when QuickBooks is unreachable."""
    try:
        invoice = await console.ledger.get_invoice(str(sync.qbo_id))
    except SyncError as exc:
        sync.qbo_error = exc.message
        return
    if invoice is None:
        sync.qbo_error = "QuickBooks no longer has this invoice."
        return
    sync.qbo = {
        "number": invoice.number,
        "total": invoice.total,
        "currency": invoice.currency,
        "balance": invoice.balance_due
        if invoice.balance_due is not None
        else invoice.computed_balance,
        "status": invoice.status.value,
        "due_date": invoice.due_date,
        "custom_fields": await _named_custom_fields(console, dict(invoice.custom_fields)),
    }
    if invoice.exchange_rate is not None:
        # A foreign-currency invoice: the rate QBO books it at and its home-currency total.
        with contextlib.suppress(SyncError):
            home, _ = await console.ledger.company_currency()
            home_total = invoice.context.get(HOME_TOTAL)
            sync.qbo["exchange_rate"] = invoice.exchange_rate
            sync.qbo["home_currency"] = home
            sync.qbo["home_total"] = Decimal(home_total) if home_total else None


async def _named_custom_fields(console: Console, values: dict[str, str]) -> list[tuple[str, str]]:
    """QBO custom field values by their names (the connector may key them by DefinitionId)."""
    names: dict[str, str] = {}
    with contextlib.suppress(SyncError):
        for definition in await console.ledger.custom_field_definitions():
            names[definition.definition_id] = definition.name
    out: dict[str, str] = {}
    for key, value in values.items():
        if value in (None, ""):
            continue
        out[names.get(key, key)] = str(value)
    return sorted(out.items())
