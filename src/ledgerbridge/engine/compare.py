"""Do the two books agree? Field-by-field comparison of a linked invoice or payment. Pure.

"Synced" is a verified statement: a record is synced only when everything docs/sync-matrix.md
says must agree does agree, as read (or as written) on both sides. This module is that check.

Each comparison produces the differences that break agreement (`compare_invoice`,
`compare_payment`, `compare_sales_receipt`): each names the field and carries both values, as text a person can read.
The differences the sync matrix documents as expected (a refund HubSpot owns, a voided invoice
whose amounts QBO zeroes, a payment method QBO does not have) are not disagreements: they are
returned by `allowed_invoice_differences` / `allowed_payment_differences` instead, with `note`
naming the documented exception, so the console and the audit log can still show them.

What "agree" means per field (the matrix's section "What agree means" says the same):
- customer: the same normalized email on both sides (QBO: BillEmail, else the customer's own);
- lines: the same number of lines with the same quantity and unit price, in order (names and
  descriptions are not compared: QBO shows its item's name; a HubSpot fee or tax is a plain
  item line in QBO; when QBO holds the tax under a tax code, the taxes compare by their total);
- discount: the same amount off (a percent discount written to HubSpot as its fixed amount,
  which HubSpot needs when fees or taxes exist, is the same discount);
- invoice date, due date, memo (trimmed; empty is none), currency, voided;
- exchange rate, when HubSpot has one (hs_exchange_rate): QBO's ExchangeRate is the same;
- PO number and each custom mapping whose direction is not `none`: the same trimmed text;
- total: what HubSpot billed (hs_amount_billed) and what QBO computed (TotalAmt), to the cent;
- amount paid and balance: equal to the cent, except for refunds and deletes HubSpot owns,
  and an overpaid invoice: HubSpot counts more paid than billed (a negative balance), QBO counts
  it paid in full and holds the excess as the customer's credit (NOTE_OVERPAID); both at once
  (a HubSpot refund while QBO keeps part of HubSpot's payments on the invoice as credit: the
  refunded payment's own excess, or a payment made again after a full refund, which QBO cannot
  apply to an invoice it still counts paid) differ by exactly the refunds less that credit
  (NOTE_REFUNDED_CREDIT). Credit alone explains nothing beyond NOTE_OVERPAID.

Linked customers and items (`compare_customer`, `compare_product`): the fields that sync after
creation (first and last name, email, phone, billing address; item name, description, price,
active) are equal as normalized text (`customer_values`, `product_values`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.domain import Customer, Invoice, InvoiceStatus, LineKind, Payment, Product
from ledgerbridge.domain.models import normalize_email
from ledgerbridge.domain.money import quantize
from ledgerbridge.engine.fieldmap import (
    F_CUSTOMER,
    F_DISCOUNT,
    F_DUE_DATE,
    F_ISSUE_DATE,
    F_LINES,
    F_MEMO,
    F_VOIDED,
    Direction,
    SyncSettings,
)
from ledgerbridge.engine.parity import billed_total, ledger_total
from ledgerbridge.engine.ports import FieldDifference
from ledgerbridge.engine.snapshot import dec

# Fields compared beyond the merged ones (names used in FieldDifference.field).
F_CURRENCY = "currency"
F_EXCHANGE_RATE = "exchange_rate"
F_TOTAL = "total"
F_AMOUNT_PAID = "amount_paid"
F_BALANCE = "balance_due"
# Payment fields.
P_AMOUNT = "amount"
P_DATE = "date"
P_METHOD = "method"
P_REFERENCE = "reference"
P_STATUS = "status"
P_CURRENCY = "currency"
P_REFUNDED = "refunded"
P_REMOVED = "removed"

P_DEPOSIT_ACCOUNT = "deposit_account"
P_CUSTOMER = "customer"

# QBO keeps at most this many characters of a payment reference (PaymentRefNum).
QBO_PAYMENT_REF_MAX = 21

NOTE_HUBSPOT_REFUND = (
    "refund or delete recorded in HubSpot (QBO keeps the payment; a refund is booked there as a "
    "refund receipt, compared on its own)"
)
NOTE_OVERPAID = (
    "overpaid: HubSpot counts every payment on the invoice; QuickBooks applies up to the total "
    "and keeps the rest as the customer's credit"
)
NOTE_REFUNDED_CREDIT = (
    "refund recorded in HubSpot while QuickBooks keeps HubSpot payments on the invoice partly "
    "as the customer's credit: QuickBooks counts more paid by the refund less that credit"
)
NOTE_VOIDED = "voided invoice: QuickBooks zeroes a voided invoice's amounts"
NOTE_DIRECTION_NONE = "not synced: the field's direction is none"
NOTE_REF_TRUNCATED = f"QuickBooks keeps the first {QBO_PAYMENT_REF_MAX} characters"
NOTE_NO_METHOD = "payment method not known on one side (not copied)"
NOTE_QBO_DELETED = "payment voided or deleted in QuickBooks: amounts are zero there"


@dataclass(frozen=True)
class _Check:
    difference: FieldDifference
    allowed: bool


def compare_invoice(
    hubspot: Invoice,
    quickbooks: Invoice,
    *,
    settings: SyncSettings,
    hubspot_owned_refunds: Decimal = Decimal(0),
    hubspot_credit: Decimal = Decimal(0),
) -> list[FieldDifference]:
    """The fields on which the two invoices disagree (empty: they agree).

    `hubspot_owned_refunds`: what HubSpot no longer counts as paid because of refunds and
    deletes recorded in HubSpot on payments QBO still counts (the sync matrix: HubSpot owns
    them). `hubspot_credit`: what QBO keeps as the customer's credit of the HubSpot payments
    meant for this invoice (HubSpot counts it paid). Amount paid and balance may differ by
    exactly the refunds less that credit: QBO counts that much more paid than HubSpot.
    """
    return [
        c.difference
        for c in _invoice_checks(
            hubspot, quickbooks, settings, hubspot_owned_refunds, hubspot_credit
        )
        if not c.allowed
    ]


def allowed_invoice_differences(
    hubspot: Invoice,
    quickbooks: Invoice,
    *,
    settings: SyncSettings,
    hubspot_owned_refunds: Decimal = Decimal(0),
    hubspot_credit: Decimal = Decimal(0),
) -> list[FieldDifference]:
    """Differences the sync matrix documents as expected, each with `note` naming why."""
    return [
        c.difference
        for c in _invoice_checks(
            hubspot, quickbooks, settings, hubspot_owned_refunds, hubspot_credit
        )
        if c.allowed
    ]


def compare_payment(
    hubspot: Payment, quickbooks: Payment, *, invoice_id: str | None = None
) -> list[FieldDifference]:
    """The fields on which a HubSpot payment and its QBO counterpart disagree.

    `invoice_id`: the QBO invoice whose share the HubSpot payment stands for (a QBO payment
    split over several invoices is one HubSpot payment per share); None compares the whole QBO
    payment amount.
    """
    return [c.difference for c in _payment_checks(hubspot, quickbooks, invoice_id) if not c.allowed]


def allowed_payment_differences(
    hubspot: Payment, quickbooks: Payment, *, invoice_id: str | None = None
) -> list[FieldDifference]:
    return [c.difference for c in _payment_checks(hubspot, quickbooks, invoice_id) if c.allowed]


def compare_sales_receipt(
    hubspot: Payment,
    quickbooks: Payment,
    *,
    customer_id: str | None,
    deposit_account_id: str | None,
    expected_deposit_account_id: str | None,
) -> list[FieldDifference]:
    """A HubSpot payment tied to no invoice against the QBO sales receipt recording it: the
    payment's fields as for any payment (the receipt's TotalAmt is the amount), plus the
    customer the receipt names and the account the money was deposited to.

    `customer_id`: the QBO customer the HubSpot payment's contact is linked to;
    `expected_deposit_account_id`: the chosen account's id (None: Undeposited Funds' id)."""
    out = [c.difference for c in _payment_checks(hubspot, quickbooks, None) if not c.allowed]
    qbo_customer = quickbooks.customer.id if quickbooks.customer else None
    if customer_id is not None and qbo_customer != customer_id:
        out.append(_diff(P_CUSTOMER, customer_id, qbo_customer))
    if expected_deposit_account_id is not None and deposit_account_id != (
        expected_deposit_account_id
    ):
        out.append(_diff(P_DEPOSIT_ACCOUNT, expected_deposit_account_id, deposit_account_id))
    return out


# ---- invoices -------------------------------------------------------------------------------
def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # money arrives quantized: 105.00 stays 105.00
    text = str(value).strip()
    return text or None


def _diff(field: str, hs: object, qbo: object, note: str | None = None) -> FieldDifference:
    return FieldDifference(field=field, hubspot=_text(hs), quickbooks=_text(qbo), note=note)


def _lines_text(invoice: Invoice) -> str:
    return (
        "; ".join(f"{dec(line.quantity)} x {dec(line.unit_price)}" for line in invoice.lines)
        or "(no lines)"
    )


def _line_signature(
    invoice: Invoice, taxes_as_total: bool = False
) -> list[tuple[Decimal, Decimal]]:
    """(quantity, unit price) per line; with `taxes_as_total`, the tax lines as one line of
    their sum (QBO holds tax computed from a tax code as one total)."""
    out = [
        (line.quantity.normalize(), line.unit_price.normalize())
        for line in invoice.lines
        if not (taxes_as_total and line.kind is LineKind.TAX)
    ]
    taxes = [line.amount(invoice.currency) for line in invoice.lines if line.kind is LineKind.TAX]
    if taxes_as_total and taxes:
        out.append((Decimal(1), sum(taxes, Decimal(0)).normalize()))
    return out


def _lines_agree(hs: Invoice, qbo: Invoice) -> bool:
    """Line by line; when QBO holds the tax as TxnTaxDetail (a tax line read back from it),
    HubSpot's taxes compare by their total (several taxes under one combined code)."""
    as_total = any(line.kind is LineKind.TAX for line in qbo.lines)
    return _line_signature(hs, as_total) == _line_signature(qbo, as_total)


def _discount_text(invoice: Invoice) -> str | None:
    d = invoice.discount
    if d is None or not d.value:
        return None
    amount = quantize(invoice.discount_amount, invoice.currency)
    if d.kind == "percent":
        return f"{dec(d.value)}% ({amount})"
    return str(amount)


def _discounts_agree(hs: Invoice, qbo: Invoice) -> bool:
    a, b = hs.discount, qbo.discount
    a_on = a is not None and bool(a.value)
    b_on = b is not None and bool(b.value)
    if not a_on and not b_on:
        return True
    if not (a_on and b_on) or a is None or b is None:
        return False
    if quantize(hs.discount_amount, hs.currency) != quantize(qbo.discount_amount, hs.currency):
        return False
    # Same kind: the same value too. Different kinds with the same amount off: the percent was
    # written as its fixed amount (HubSpot needs that when fees or taxes exist).
    return a.kind != b.kind or a.value.normalize() == b.value.normalize()


def _direction_off(settings: SyncSettings, field: str) -> bool:
    mapping = settings.mapping(field)
    return mapping is not None and mapping.direction is Direction.NONE


def _memo(invoice: Invoice) -> str | None:
    return (invoice.memo or "").strip() or None


def _invoice_checks(
    hs: Invoice, qbo: Invoice, settings: SyncSettings, refunds: Decimal, credit: Decimal
) -> Iterator[_Check]:
    voided = InvoiceStatus.VOIDED in (hs.status, qbo.status)
    if (hs.status is InvoiceStatus.VOIDED) != (qbo.status is InvoiceStatus.VOIDED):
        yield _Check(_diff(F_VOIDED, _yes(hs), _yes(qbo)), _direction_off(settings, F_VOIDED))
    if hs.currency.upper() != qbo.currency.upper():
        yield _Check(_diff(F_CURRENCY, hs.currency, qbo.currency), False)
    elif hs.exchange_rate is not None and (
        qbo.exchange_rate is None or hs.exchange_rate.normalize() != qbo.exchange_rate.normalize()
    ):
        # HubSpot's rate is the one sent to QBO; without one, QBO's own rate stands (and is
        # copied to HubSpot for a QBO-created invoice), so there is nothing to disagree on.
        qbo_rate = qbo.exchange_rate.normalize() if qbo.exchange_rate is not None else None
        yield _Check(_diff(F_EXCHANGE_RATE, hs.exchange_rate.normalize(), qbo_rate), False)

    simple: Sequence[tuple[str, object, object]] = (
        (
            F_CUSTOMER,
            hs.customer.match_email if hs.customer else None,
            qbo.customer.match_email if qbo.customer else None,
        ),
        (F_ISSUE_DATE, hs.issue_date, qbo.issue_date),
        (F_DUE_DATE, hs.due_date, qbo.due_date),
        (F_MEMO, _memo(hs), _memo(qbo)),
    )
    for field, a, b in simple:
        if a != b:
            yield _Check(
                _diff(field, a, b, _off_note(settings, field)), _direction_off(settings, field)
            )

    for mapping in settings.custom_mappings:
        a_text, b_text = mapping.hubspot_value(hs), mapping.qbo_value(qbo)
        if a_text != b_text:
            off = mapping.direction is Direction.NONE
            yield _Check(
                _diff(mapping.key, a_text, b_text, NOTE_DIRECTION_NONE if off else None), off
            )

    # Money. A voided invoice keeps its amounts in HubSpot; QBO zeroes them.
    money: list[tuple[str, object, object, bool]] = []
    if not _lines_agree(hs, qbo):
        money.append(
            (F_LINES, _lines_text(hs), _lines_text(qbo), _direction_off(settings, F_LINES))
        )
    if not _discounts_agree(hs, qbo):
        money.append(
            (
                F_DISCOUNT,
                _discount_text(hs),
                _discount_text(qbo),
                _direction_off(settings, F_DISCOUNT),
            )
        )
    currency = hs.currency
    hs_total = billed_total(hs)
    qbo_total = quantize(ledger_total(qbo) or qbo.total, currency)
    if hs_total != qbo_total:
        money.append((F_TOTAL, hs_total, qbo_total, False))
    hs_paid, qbo_paid = quantize(hs.amount_paid, currency), quantize(qbo.amount_paid, currency)
    owned = quantize(refunds, currency)
    kept = quantize(credit, currency)
    # What QBO may count more paid than HubSpot: the refunds HubSpot owns, less the credit QBO
    # keeps of HubSpot's payments (HubSpot counts that credit paid; QBO does not). Credit alone
    # explains nothing beyond the overpaid case below: credit QBO keeps on an invoice that still
    # owes is a disagreement (the sync matrix: diverged, for a person to decide).
    gap = owned - kept
    explained = owned > 0 and gap != 0
    if hs_paid != qbo_paid:
        money.append((F_AMOUNT_PAID, hs_paid, qbo_paid, explained and qbo_paid - hs_paid == gap))
    hs_balance = quantize(
        hs.balance_due if hs.balance_due is not None else hs.computed_balance, currency
    )
    qbo_balance = quantize(
        qbo.balance_due if qbo.balance_due is not None else qbo.computed_balance, currency
    )
    if hs_balance != qbo_balance:
        money.append(
            (F_BALANCE, hs_balance, qbo_balance, explained and hs_balance - qbo_balance == gap)
        )
    refund_note = NOTE_REFUNDED_CREDIT if kept > 0 else NOTE_HUBSPOT_REFUND
    overpaid = _overpaid(hs_total, qbo_total, hs_paid, qbo_paid, hs_balance, qbo_balance)
    for field, a, b, allowed in money:
        if voided:
            yield _Check(_diff(field, a, b, NOTE_VOIDED), True)
        elif overpaid and field in (F_AMOUNT_PAID, F_BALANCE):
            yield _Check(_diff(field, a, b, NOTE_OVERPAID), True)
        elif allowed and field in (F_AMOUNT_PAID, F_BALANCE):
            yield _Check(_diff(field, a, b, refund_note), True)
        else:
            yield _Check(_diff(field, a, b, NOTE_DIRECTION_NONE if allowed else None), allowed)


def _overpaid(
    hs_total: Decimal,
    qbo_total: Decimal,
    hs_paid: Decimal,
    qbo_paid: Decimal,
    hs_balance: Decimal,
    qbo_balance: Decimal,
) -> bool:
    """The documented overpayment difference: the same total, QBO paid in full (it cannot
    apply more), HubSpot paid more than that by exactly its negative balance."""
    return (
        hs_total == qbo_total
        and qbo_balance == 0
        and qbo_paid == qbo_total
        and hs_paid > qbo_paid
        and hs_balance == qbo_paid - hs_paid
    )


def _off_note(settings: SyncSettings, field: str) -> str | None:
    return NOTE_DIRECTION_NONE if _direction_off(settings, field) else None


def _yes(invoice: Invoice) -> str:
    return "voided" if invoice.status is InvoiceStatus.VOIDED else invoice.status.value


# ---- payments -------------------------------------------------------------------------------
def _share(payment: Payment, invoice_id: str | None) -> Decimal:
    if invoice_id is None:
        return payment.amount
    return sum((a.amount for a in payment.applications if a.invoice_id == invoice_id), Decimal(0))


HUBSPOT_OWNED_STATUSES = ("refunded", "partially_refunded", "deleted")


def _payment_checks(hs: Payment, qbo: Payment, invoice_id: str | None) -> Iterator[_Check]:
    qbo_gone = qbo.status in ("deleted", "voided")
    if hs.currency.upper() != qbo.currency.upper():
        yield _Check(_diff(P_CURRENCY, hs.currency, qbo.currency), False)
    if qbo_gone:
        # The copy must have become refunded in full (the sync matrix), or HubSpot deleted it.
        if hs.status not in ("refunded", "deleted"):
            yield _Check(_diff(P_STATUS, hs.status, "voided or deleted"), False)
    elif hs.status in HUBSPOT_OWNED_STATUSES:
        yield _Check(_diff(P_STATUS, hs.status, qbo.status, NOTE_HUBSPOT_REFUND), True)
    currency = hs.currency
    hs_amount = quantize(hs.amount, currency)
    qbo_amount = quantize(_share(qbo, invoice_id), currency)
    if hs_amount != qbo_amount:
        yield _Check(
            _diff(P_AMOUNT, hs_amount, qbo_amount, NOTE_QBO_DELETED if qbo_gone else None), qbo_gone
        )
    if hs.date != qbo.date:
        yield _Check(_diff(P_DATE, hs.date, qbo.date), False)
    hs_ref, qbo_ref = _text(hs.reference), _text(qbo.reference)
    if hs_ref != qbo_ref:
        truncated = (
            hs_ref is not None
            and qbo_ref is not None
            and len(qbo_ref) == QBO_PAYMENT_REF_MAX
            and hs_ref.startswith(qbo_ref)
        )
        yield _Check(
            _diff(P_REFERENCE, hs_ref, qbo_ref, NOTE_REF_TRUNCATED if truncated else None),
            truncated,
        )
    if hs.method != qbo.method:
        unknown = hs.method in (None, "other") or qbo.method is None
        yield _Check(
            _diff(P_METHOD, hs.method, qbo.method, NOTE_NO_METHOD if unknown else None), unknown
        )


# ---- customers and items (after creation) ---------------------------------------------------
# The fields of a linked customer and item that sync both ways (docs/sync-matrix.md, "Customers
# and items"), as normalized text: what the merge keeps as base and what must agree afterwards.
C_FIRST_NAME = "first_name"
C_LAST_NAME = "last_name"
C_EMAIL = "email"
C_PHONE = "phone"
C_ADDRESS = "billing_address"
CUSTOMER_FIELDS = (C_FIRST_NAME, C_LAST_NAME, C_EMAIL, C_PHONE, C_ADDRESS)
I_NAME = "name"
I_DESCRIPTION = "description"
I_PRICE = "unit_price"
I_ACTIVE = "active"
ITEM_FIELDS = (I_NAME, I_DESCRIPTION, I_PRICE, I_ACTIVE)


def _clean(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    return text or None


def customer_values(customer: Customer) -> dict[str, str | None]:
    """Names and phone as trimmed text (inner spaces collapsed), the email lower-cased, the
    billing address as its parts joined by " | " (empty parts kept, so moving a value from one
    part to another is a change)."""
    a = customer.address
    parts = (
        [_clean(x) or "" for x in (a.line1, a.city, a.state, a.postal_code, a.country)] if a else []
    )
    return {
        C_FIRST_NAME: _clean(customer.first_name),
        C_LAST_NAME: _clean(customer.last_name),
        C_EMAIL: normalize_email(customer.email),
        C_PHONE: _clean(customer.phone),
        C_ADDRESS: " | ".join(parts) if any(parts) else None,
    }


C_COMPANY = "company_name"  # kept in a customer's base: a HubSpot company rename (masterdata.py)


def customer_base(customer: Customer) -> dict[str, str | None]:
    """The base stored for a customer both sides hold as sent: its compared values and its
    company name."""
    return {**customer_values(customer), C_COMPANY: _clean(customer.company_name)}


def product_values(product: Product) -> dict[str, str | None]:
    """Name and description trimmed, the price as an exact decimal without trailing zeros,
    active as "yes" / "no"."""
    return {
        I_NAME: _clean(product.name),
        I_DESCRIPTION: _clean(product.description),
        I_PRICE: dec(product.unit_price.normalize()),
        I_ACTIVE: "yes" if product.active else "no",
    }


def compare_customer(hubspot: Customer, quickbooks: Customer) -> list[FieldDifference]:
    """The fields on which a HubSpot contact and its linked QBO customer disagree."""
    return _compare_values(customer_values(hubspot), customer_values(quickbooks))


def compare_product(hubspot: Product, quickbooks: Product) -> list[FieldDifference]:
    """The fields on which a HubSpot product and its linked QBO item disagree."""
    return _compare_values(product_values(hubspot), product_values(quickbooks))


def _compare_values(hs: dict[str, str | None], qbo: dict[str, str | None]) -> list[FieldDifference]:
    return [
        FieldDifference(field=name, hubspot=hs[name], quickbooks=qbo[name])
        for name in hs
        if hs[name] != qbo[name]
    ]


def compare_refunds(
    hubspot: Payment, qbo_refunded: Decimal, currency: str
) -> list[FieldDifference]:
    """A HubSpot payment's refunded total against the RefundReceipts QBO holds for it: synced
    means both books hold the same refund, to the cent."""
    hs = quantize(hubspot.refunded, currency)
    qbo = quantize(qbo_refunded, currency)
    return [] if hs == qbo else [_diff(P_REFUNDED, hs, qbo)]


def compare_removed(how: str, qbo: Payment | None) -> list[FieldDifference]:
    """A HubSpot payment deleted: QBO's payment must be voided (how="void") or gone."""
    if how == "delete" and qbo is None:
        return []
    if how == "void" and qbo is not None and qbo.status == "voided":
        return []
    return [_diff(P_REMOVED, "deleted", qbo.status if qbo else "deleted")]
