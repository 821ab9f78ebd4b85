"""Reading both sides of linked records in bulk and comparing them (for reconciliation).

`BulkReader` is what reconciliation needs from the connectors: many records per request on
each side (connectors/bulk_reads.py implements it over the paced transports).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from ledgerbridge.domain import Invoice, Payment, Side
from ledgerbridge.engine.compare import (
    F_AMOUNT_PAID,
    F_BALANCE,
    compare_invoice,
    compare_payment,
    compare_removed,
    compare_sales_receipt,
)
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.payments import (
    PAID_INVOICES,
    REMOVED_IN_QBO,
    UNAPPLIED_CREDIT,
    booked_refunds,
    share_key,
)
from ledgerbridge.engine.ports import SALES_RECEIPT, FieldDifference, Link


class BulkReader(Protocol):
    """Both sides, read many records per request. Implemented over the connectors."""

    async def hubspot_invoices(self, ids: Sequence[str]) -> dict[str, Invoice]: ...
    async def ledger_invoices(self, ids: Sequence[str]) -> dict[str, Invoice]: ...
    async def ledger_payments(self, ids: Sequence[str]) -> dict[str, Payment]: ...
    async def ledger_sales_receipts(self, ids: Sequence[str]) -> dict[str, Payment]:
        """QBO sales receipts by id, each read as a payment with no applications."""

    async def hubspot_payments(self, ids: Sequence[str]) -> dict[str, Payment]: ...
    async def hubspot_payment_copies(self, keys: Sequence[str]) -> dict[str, Payment]: ...
    async def hubspot_changed_invoices(self, since: dt.datetime | None) -> dict[str, str | None]:
        """Every HubSpot invoice changed since (all with None): id -> hs_lastmodifieddate."""

    async def ledger_changed(self, since: dt.datetime) -> dict[str, dict[str, str | None]]:
        """QBO invoices and payments changed since: entity -> {id: SyncToken}."""

    async def all_ledger_invoices(self) -> list[Invoice]: ...
    async def all_ledger_payments(self) -> list[Payment]: ...
    def api_calls(self) -> int: ...


@dataclass
class Pair:
    """A linked record and the fields on which its two sides disagree."""

    link: Link
    diffs: list[FieldDifference] = field(default_factory=list)


async def compare_invoice_links(
    reader: BulkReader,
    settings: SyncSettings,
    links: Sequence[Link],
    payment_links: Sequence[Link],
) -> list[Pair]:
    """Each linked invoice read on both sides (in bulk) and compared."""
    if not links:
        return []
    hs = await reader.hubspot_invoices([lk.hubspot_id or "" for lk in links])
    qbo = await reader.ledger_invoices([lk.qbo_id or "" for lk in links])
    pairs: list[Pair] = []
    for link in links:
        a, b = hs.get(link.hubspot_id or ""), qbo.get(link.qbo_id or "")
        if a is None or b is None:
            missing = "hubspot" if a is None else "quickbooks"
            diff = FieldDifference(
                "exists",
                None if a is None else "present",
                None if b is None else "present",
                f"deleted or archived in {missing}",
            )
            pairs.append(Pair(link, [diff]))
            continue
        diffs = compare_invoice(a, b, settings=settings)
        if any(d.field in (F_AMOUNT_PAID, F_BALANCE) for d in diffs):
            owned, credit = await hubspot_owned(reader, link, b, a, payment_links)
            if owned or credit:
                diffs = compare_invoice(
                    a, b, settings=settings, hubspot_owned_refunds=owned, hubspot_credit=credit
                )
        pairs.append(Pair(link, diffs))
    return pairs


async def hubspot_owned(
    reader: BulkReader, link: Link, qbo: Invoice, hs: Invoice, payment_links: Sequence[Link]
) -> tuple[Decimal, Decimal]:
    """What HubSpot no longer counts as paid by its own refunds and deletes of payments
    QBO still counts (the sync matrix: HubSpot owns those), and by the refunds of HubSpot
    payments booked in QBO as refund receipts (a refund receipt does not reopen the QBO
    invoice, while HubSpot counts a payment net of its refunds); and, second, the credit QBO
    keeps of those refunded HubSpot payments (HubSpot counts it paid, QBO does not)."""
    receipts, credit = await _booked_refunds(reader, link, payment_links)
    return receipts + await _owned_shares(reader, link, qbo, hs, payment_links), credit


def _credit_left(plink: Link, invoice_id: str | None) -> bool:
    """The link of a HubSpot payment meant for this invoice alone that left credit in QBO
    (`unapplied_credit`, kept by the payment step): QBO applied less of it than HubSpot counts."""
    left = plink.extra.get(UNAPPLIED_CREDIT) or {}
    return (
        invoice_id is not None
        and list(plink.extra.get(PAID_INVOICES) or ()) == [invoice_id]
        and Decimal(str(left.get(invoice_id) or "0")) > 0
    )


async def _booked_refunds(
    reader: BulkReader, link: Link, payment_links: Sequence[Link]
) -> tuple[Decimal, Decimal]:
    """(The refunds of HubSpot payments booked in QBO as refund receipts, what QBO keeps as the
    customer's credit of the HubSpot payments meant for this invoice alone.)

    A HubSpot payment for this invoice alone counts whole in HubSpot (net of its refunds); QBO
    applies what the invoice owed and keeps the rest as credit, all of it when the invoice was
    already paid there (e.g. paid again after a refund, which does not reopen a QBO invoice).
    The credit is read from the QBO payment (its amount less what it applies)."""
    wanted: dict[str, Link] = {
        plink.qbo_id: plink
        for plink in payment_links
        if plink.extra.get("origin") == Side.HUBSPOT.value
        and plink.qbo_id
        and plink.qbo_kind != SALES_RECEIPT  # a receipt pays no invoice
        and (booked_refunds(plink) > 0 or _credit_left(plink, link.qbo_id))
        and not plink.extra.get(REMOVED_IN_QBO)
    }
    if not wanted:
        return Decimal(0), Decimal(0)
    total, credit = Decimal(0), Decimal(0)
    payments = await reader.ledger_payments(list(wanted))
    for payment_id, plink in wanted.items():
        amount = booked_refunds(plink)
        payment = payments.get(payment_id)
        if payment is None or payment.status in ("deleted", "voided"):
            continue
        share = sum(
            (a.amount for a in payment.applications if a.invoice_id == link.qbo_id), Decimal(0)
        )
        applied = sum((a.amount for a in payment.applications), Decimal(0))
        alone = share > 0 and all(a.invoice_id == link.qbo_id for a in payment.applications)
        if alone or (not payment.applications and _credit_left(plink, link.qbo_id)):
            # A payment for this invoice alone: what QBO applied is its amount less the credit
            # it keeps; HubSpot counts the amount less the refunds (refund receipts in QBO).
            total += amount
            credit += max(payment.amount - applied, Decimal(0))
        else:
            total += min(amount, share)
    return total, credit


async def _owned_shares(
    reader: BulkReader, link: Link, qbo: Invoice, hs: Invoice, payment_links: Sequence[Link]
) -> Decimal:
    shares: dict[str, Decimal] = {}
    for plink in payment_links:
        if plink.extra.get("origin") != Side.QUICKBOOKS.value or not plink.qbo_id:
            continue
        if link.qbo_id in (plink.extra.get("shares") or {}):
            shares[share_key(plink.qbo_id, link.qbo_id or "")] = Decimal(0)
    if not shares:
        return Decimal(0)
    payments = await reader.ledger_payments([k.split(":")[1] for k in shares])
    for key in shares:
        payment = payments.get(key.split(":")[1])
        if payment is not None and payment.status not in ("deleted", "voided"):
            shares[key] = sum(
                (a.amount for a in payment.applications if a.invoice_id == link.qbo_id),
                Decimal(0),
            )
    copies = await reader.hubspot_payment_copies(list(shares))
    exact, partial = Decimal(0), Decimal(0)
    for key, amount in shares.items():
        copy = copies.get(key)
        if copy is None or copy.status == "refunded":
            exact += amount  # archived in HubSpot, or refunded in full there
        elif copy.status == "partially_refunded":
            partial += amount
    gap = qbo.amount_paid - hs.amount_paid
    return exact + min(max(gap - exact, Decimal(0)), partial)


async def compare_payment_links(
    reader: BulkReader, links: Sequence[Link], settings: SyncSettings | None = None
) -> list[Pair]:
    """Each linked payment: QBO's, and HubSpot's copies (or original), compared. A HubSpot
    payment recorded as a sales receipt is compared with that receipt (Link.qbo_kind): its id
    names a SalesReceipt, which a Payment may share."""
    if not links:
        return []
    receipt_links = [lk for lk in links if lk.qbo_kind == SALES_RECEIPT]
    links = [lk for lk in links if lk.qbo_kind != SALES_RECEIPT]
    pairs = await _compare_receipt_links(reader, receipt_links, settings)
    if not links:
        return pairs
    qbo = await reader.ledger_payments([lk.qbo_id or "" for lk in links])
    from_ledger = [lk for lk in links if lk.extra.get("origin") != Side.HUBSPOT.value]
    from_crm = [lk for lk in links if lk.extra.get("origin") == Side.HUBSPOT.value]
    keys = [
        share_key(lk.qbo_id or "", inv)
        for lk in from_ledger
        for inv in (lk.extra.get("shares") or {})
    ]
    copies = await reader.hubspot_payment_copies(keys)
    originals = await reader.hubspot_payments([lk.hubspot_id or "" for lk in from_crm])
    for link in from_ledger:
        payment = qbo.get(link.qbo_id or "")
        diffs: list[FieldDifference] = []
        for invoice_id in link.extra.get("shares") or {}:
            copy = copies.get(share_key(link.qbo_id or "", invoice_id))
            if payment is None:
                if copy is not None and copy.status not in ("refunded", "deleted"):
                    diffs.append(FieldDifference("status", copy.status, "deleted", None))
                continue
            if copy is None:
                continue  # archived in HubSpot: HubSpot owns it (the sync matrix)
            diffs.extend(_named(compare_payment(copy, payment, invoice_id=invoice_id), invoice_id))
        pairs.append(Pair(link, diffs))
    for link in from_crm:
        original = originals.get(link.hubspot_id or "")
        payment = qbo.get(link.qbo_id or "")
        how = (settings or SyncSettings()).refunds.deleted_payment
        if (
            original is None
            and payment is not None
            and payment.status not in ("voided", "deleted")
            and how != "none"
            and not link.extra.get("removed_in_qbo")
        ):
            # Deleted in HubSpot (a deletion webhook that never came): QBO still counts it.
            pairs.append(Pair(link, compare_removed(how, payment)))
            continue
        if original is None or payment is None:
            continue  # gone on a side, as the settings say it may be
        # The whole QBO payment: it records the HubSpot payment's whole amount, including what
        # QBO keeps as credit (an overpaid invoice) and every invoice of a split payment.
        pairs.append(Pair(link, compare_payment(original, payment)))
    return pairs


async def _compare_receipt_links(
    reader: BulkReader, links: Sequence[Link], settings: SyncSettings | None
) -> list[Pair]:
    if not links:
        return []
    receipts = await reader.ledger_sales_receipts([lk.qbo_id or "" for lk in links])
    originals = await reader.hubspot_payments([lk.hubspot_id or "" for lk in links])
    how = (settings or SyncSettings()).refunds.deleted_payment
    pairs: list[Pair] = []
    for link in links:
        original = originals.get(link.hubspot_id or "")
        receipt = receipts.get(link.qbo_id or "")
        if original is None:
            counted = receipt is not None and receipt.amount != 0
            removed = bool(link.extra.get("removed_in_qbo"))
            if counted and receipt is not None and how != "none" and not removed:
                # Deleted in HubSpot, the webhook lost: QBO still counts the receipt.
                pairs.append(Pair(link, compare_removed(how, receipt)))
            continue
        if receipt is None:
            continue  # deleted in QBO: not copied back (the sync matrix)
        if receipt.status in ("voided", "deleted") or receipt.amount == 0:
            continue  # voided after HubSpot deleted the payment
        diffs = compare_sales_receipt(
            original,
            receipt,
            customer_id=link.extra.get("customer_qbo_id"),
            deposit_account_id=None,
            expected_deposit_account_id=None,
        )
        pairs.append(Pair(link, diffs))
    return pairs


def _named(diffs: Sequence[FieldDifference], invoice_id: str) -> list[FieldDifference]:
    """A QBO payment split over several invoices: say which share differs."""
    return [replace(d, field=f"{d.field} (invoice {invoice_id})") for d in diffs]
