"""Checks that make one record fail alone, with a message a finance person can act on.

They run before anything is written, so an invoice that cannot go to QuickBooks creates nothing
there (no customer, no item, no half invoice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ledgerbridge.domain import Invoice
from ledgerbridge.engine.fieldmap import (
    QBO_DOC_NUMBER_MAX,
    QBO_STANDARD_FIELDS,
    LongTextPolicy,
    SyncSettings,
)
from ledgerbridge.errors import ConfigError, Invalid

QBO_CUSTOM_FIELD_MAX = 31  # legacy sales-form custom fields hold 31 characters
QBO_MEMO_MAX = 1000
QBO_LINE_DESCRIPTION_MAX = 4000  # a line's Description (QBO answers 2050 past it)


def check_currency(invoice: Invoice, home_currency: str, multicurrency: bool) -> None:
    currency = invoice.currency.upper()
    home = home_currency.upper()
    if currency != home and not multicurrency:
        raise Invalid(
            f"Invoice currency {currency} is not the QuickBooks company's currency ({home}), "
            "and multicurrency is off",
            hint=(
                f"QuickBooks company is {home}-only; turn on multicurrency in QuickBooks or "
                f"exclude {currency} invoices with a sync filter"
            ),
            code="currency_mismatch",
        )


def check_invoice_for_ledger(
    invoice: Invoice, settings: SyncSettings, doc_number: str | None
) -> None:
    """A HubSpot invoice about to be created or updated in QuickBooks."""
    customer = invoice.customer
    if customer is None:
        raise Invalid(
            "The invoice has no contact",
            hint="Associate a contact with an email address to the invoice in HubSpot, then retry",
            code="missing_contact",
        )
    if not customer.match_email:
        raise Invalid(
            f"The invoice's contact ({customer.preferred_name}) has no email address",
            hint=(
                "Customers are matched by email: add an email address to the contact in "
                "HubSpot, then retry"
            ),
            code="missing_email",
        )
    _check_lines(invoice, "HubSpot")
    if settings.long_text is not LongTextPolicy.CUT:
        _check_line_text(invoice)
    if doc_number is not None and len(doc_number) > QBO_DOC_NUMBER_MAX:
        raise Invalid(
            f"Invoice number '{doc_number}' is {len(doc_number)} characters; QuickBooks allows "
            f"{QBO_DOC_NUMBER_MAX}",
            hint="Use a shorter prefix, or let QuickBooks assign invoice numbers (sync settings)",
            code="doc_number_too_long",
        )
    if invoice.memo and len(invoice.memo) > QBO_MEMO_MAX:
        raise Invalid(
            f"The invoice comments are {len(invoice.memo)} characters; QuickBooks allows {QBO_MEMO_MAX}",
            hint="Shorten the comments on the invoice in HubSpot, then retry",
            code="memo_too_long",
        )


def cut_long_text(invoice: Invoice, settings: SyncSettings) -> Invoice:
    """With the "cut" policy, the invoice as QuickBooks gets it: each over-long line text cut,
    ending with a note that says how long it is in HubSpot. The merge compares lines by
    quantity and price only, so the cut copy is never carried back to HubSpot."""
    if settings.long_text is not LongTextPolicy.CUT:
        return invoice
    lines = []
    for line in invoice.lines:
        text = line.description or line.name
        if len(text) > QBO_LINE_DESCRIPTION_MAX:
            note = f" [cut: {len(text):,} characters in HubSpot]"
            text = text[: QBO_LINE_DESCRIPTION_MAX - len(note)].rstrip() + note
            line = replace(line, description=text)
        lines.append(line)
    return replace(invoice, lines=tuple(lines))


def _check_line_text(invoice: Invoice) -> None:
    # The QBO line description is the HubSpot description, else its name (see translate).
    for n, line in enumerate(invoice.lines, start=1):
        text = line.description or line.name
        if len(text) > QBO_LINE_DESCRIPTION_MAX:
            raise Invalid(
                f"Line {n} ({line.name[:40]}) has a description of {len(text):,} characters; "
                f"QuickBooks allows {QBO_LINE_DESCRIPTION_MAX:,}",
                hint="Shorten the line item's description in HubSpot, or set long text to "
                "'cut' in the sync settings, then retry",
                code="line_description_too_long",
            )


def check_invoice_for_crm(invoice: Invoice) -> None:
    """A QuickBooks invoice about to be created or updated in HubSpot."""
    customer = invoice.customer
    if customer is None or not customer.match_email:
        name = customer.preferred_name if customer else "(none)"
        raise Invalid(
            f"QuickBooks customer {name} has no email address",
            hint=(
                "HubSpot contacts are matched by email: add an email address to the customer in "
                "QuickBooks, then retry"
            ),
            code="missing_email",
        )
    _check_lines(invoice, "QuickBooks")


def check_custom_fields(values: Mapping[str, str], known: Mapping[str, str]) -> dict[str, str]:
    """Resolve mapped QBO custom fields (by name or DefinitionId) to DefinitionIds.

    `known` maps both names (lower-cased) and ids to DefinitionIds. An empty `known` means the
    company's definitions are unknown: names are passed through for the connector to resolve.
    """
    resolved: dict[str, str] = {}
    standard = {name.lower(): name for name in QBO_STANDARD_FIELDS}
    for ref, value in values.items():
        if ref.lower() in standard:  # a standard invoice field: its own rules, in the connector
            resolved[standard[ref.lower()]] = value
            continue
        if len(value) > QBO_CUSTOM_FIELD_MAX:
            raise Invalid(
                f"'{value}' is too long for the QuickBooks custom field '{ref}' "
                f"({len(value)} characters; at most {QBO_CUSTOM_FIELD_MAX})",
                hint="Shorten the value in HubSpot, then retry",
                code="custom_field_too_long",
            )
        if not known:
            resolved[ref] = value
            continue
        definition = known.get(ref) or known.get(ref.lower())
        if definition is None:
            raise ConfigError(
                f"QuickBooks has no sales-form custom field named '{ref}'",
                hint=(
                    f"Create a custom field '{ref}' in QuickBooks (Settings > Custom fields) or "
                    "change the custom field mapping in the sync settings"
                ),
                code="custom_field_missing",
            )
        resolved[definition] = value
    return resolved


def _check_lines(invoice: Invoice, side: str) -> None:
    if not invoice.lines:
        raise Invalid(
            "The invoice has no line items",
            hint=f"Add at least one line item to the invoice in {side}, then retry",
            code="no_lines",
        )
    for line in invoice.lines:
        if line.quantity < 0:
            raise Invalid(
                f"Line '{line.name}' has a negative quantity ({line.quantity})",
                hint=(
                    "QuickBooks invoices cannot have negative quantities: use a discount, or a "
                    "credit memo for returns"
                ),
                code="negative_quantity",
            )
        if line.unit_price < 0:
            raise Invalid(
                f"Line '{line.name}' has a negative price ({line.unit_price})",
                hint="Use a discount instead of a negative price, then retry",
                code="negative_price",
            )
    discount = invoice.discount
    if discount is not None:
        if discount.kind == "percent" and not (0 <= discount.value <= 100):
            raise Invalid(
                f"The discount is {discount.value}%",
                hint="A percentage discount must be between 0 and 100",
                code="bad_discount",
            )
        if discount.value < 0 or invoice.discount_amount > invoice.subtotal:
            raise Invalid(
                f"The discount ({invoice.discount_amount} {invoice.currency}) is larger than the "
                f"invoice subtotal ({invoice.subtotal} {invoice.currency})",
                hint="Lower the discount so the invoice total is not negative, then retry",
                code="bad_discount",
            )
