"""What the two books hold, read through the public APIs, and whether they agree.

This is the model test's own oracle, independent of the engine's canonical model: it reads raw
HubSpot objects and raw QBO entities and compares the fields docs/sync-matrix.md says must agree
(customer, lines, discount, due date, PO number, memo, voided, total, amount paid, balance), to
the cent. Fees and taxes are HubSpot objects but plain lines in QBO, so the lines check is: the
HubSpot line items (quantity, price) are QBO's sales lines, and QBO's remaining lines add up to
HubSpot's fees plus taxes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors import HubSpotUser, QboUser

INVOICE_PROPS = (
    "hs_invoice_status,hs_due_date,hs_purchase_order_number,hs_comments,hs_amount_billed,"
    "hs_amount_paid,hs_balance_due,hs_discount_amount,hs_fee_amount,hs_tax_amount,"
    "qbo_invoice_id,ledgerbridge_sync_status"
)
CENT = Decimal("0.01")


def dec(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT) if value not in (None, "") else Decimal(0)


def text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def day(value: Any) -> str | None:
    """HubSpot dates come as ISO text or epoch milliseconds; QBO's as YYYY-MM-DD."""
    if value in (None, ""):
        return None
    raw = str(value)
    if raw.isdigit():
        return dt.datetime.fromtimestamp(int(raw) / 1000, dt.UTC).date().isoformat()
    return raw[:10]


@dataclass(frozen=True)
class Side:
    """One invoice on one side, reduced to the compared fields."""

    customer: str | None
    lines: tuple[tuple[Decimal, Decimal], ...]  # (quantity, unit price) of item lines, sorted
    other_lines: Decimal  # HubSpot: fees + taxes; QBO: lines beyond the HubSpot item lines
    discount: Decimal
    due_date: str | None
    po: str | None
    memo: str | None
    voided: bool
    total: Decimal
    paid: Decimal
    balance: Decimal


async def hubspot_invoice(hs: HubSpotUser, invoice_id: str) -> tuple[dict[str, Any], Side]:
    r = await hs.http.get(
        f"/crm/v3/objects/invoices/{invoice_id}",
        params={"properties": INVOICE_PROPS, "associations": "contacts,line_items"},
        headers=hs.headers,
    )
    r.raise_for_status()
    record = r.json()
    p = record["properties"]
    assoc = record.get("associations") or {}
    contact_ids = [x["id"] for x in assoc.get("contacts", {}).get("results", [])]
    email = None
    if contact_ids:
        contact = await hs.get("contacts", contact_ids[0])
        email = (contact["properties"].get("email") or "").strip().lower() or None
    lines = []
    for line in assoc.get("line_items", {}).get("results", []):
        lp = (await hs.get("line_items", line["id"]))["properties"]
        lines.append((Decimal(str(lp.get("quantity") or "1")), dec(lp.get("price"))))
    side = Side(
        customer=email,
        lines=tuple(sorted(lines)),
        other_lines=dec(p.get("hs_fee_amount")) + dec(p.get("hs_tax_amount")),
        discount=dec(p.get("hs_discount_amount")),
        due_date=day(p.get("hs_due_date")),
        po=text(p.get("hs_purchase_order_number")),
        memo=text(p.get("hs_comments")),
        voided=p.get("hs_invoice_status") == "voided",
        total=dec(p.get("hs_amount_billed")),
        paid=dec(p.get("hs_amount_paid")),
        balance=dec(p.get("hs_balance_due")),
    )
    return record, side


async def qbo_invoice(
    qbo: QboUser, record: dict[str, Any], hubspot_lines: tuple[tuple[Decimal, Decimal], ...]
) -> Side:
    email = (record.get("BillEmail") or {}).get("Address")
    if not email:
        customer = await qbo.read("Customer", record["CustomerRef"]["value"])
        email = (customer.get("PrimaryEmailAddr") or {}).get("Address")
    sales: Counter[tuple[Decimal, Decimal]] = Counter()
    discount = Decimal(0)
    for line in record.get("Line", []):
        if line.get("DetailType") == "SalesItemLineDetail":
            detail = line["SalesItemLineDetail"]
            sales[(Decimal(str(detail.get("Qty", 1))), dec(detail.get("UnitPrice")))] += 1
        elif line.get("DetailType") == "DiscountLineDetail":
            discount += dec(line.get("Amount"))
    # The HubSpot item lines found in QBO; a remaining line of quantity 1 stands for a fee or a
    # tax (they are written as one unit of their amount), anything else is a line HubSpot lacks.
    matched = Counter(hubspot_lines) & sales
    rest = list((sales - matched).elements())
    lines = tuple(sorted(matched.elements())) + tuple(sorted(k for k in rest if k[0] != 1))
    other = sum((k[1] for k in rest if k[0] == 1), Decimal(0))
    custom = {
        c.get("Name"): c.get("StringValue") for c in record.get("CustomField", []) if c.get("Name")
    }
    total = dec(record.get("TotalAmt"))
    balance = dec(record.get("Balance"))
    return Side(
        customer=(email or "").strip().lower() or None,
        lines=lines,
        other_lines=other,
        discount=discount,
        due_date=day(record.get("DueDate")),
        po=text(custom.get("PO Number")),
        memo=text((record.get("CustomerMemo") or {}).get("value")),
        voided=qbo_voided(record),
        total=total,
        paid=total - balance,
        balance=balance,
    )


def qbo_voided(record: dict[str, Any]) -> bool:
    """QBO marks a void by zeroing the amounts and noting "Voided"; the note alone is editable
    text, and a voided invoice edited afterwards has amounts again (it is live)."""
    note = str(record.get("PrivateNote") or "")
    return note.startswith("Voided") and dec(record.get("TotalAmt")) == 0


def differences(
    hs: Side,
    qbo: Side,
    *,
    hubspot_owned_refunds: Decimal = Decimal(0),
    hubspot_credit: Decimal = Decimal(0),
) -> dict[str, tuple[Any, Any]]:
    """{field: (HubSpot value, QBO value)} for every field that disagrees.

    A voided invoice compares only `voided` (QBO zeroes a voided invoice's amounts). Amount paid
    and balance agree to the cent, except for the differences docs/sync-matrix.md documents,
    each exact: QBO counts more paid than HubSpot by the refunds and deletes recorded in
    HubSpot that QBO still counts (`hubspot_owned_refunds`: the sync matrix, HubSpot owns them),
    less what QBO keeps as the customer's credit of HubSpot's payments on the invoice
    (`hubspot_credit`: HubSpot counts it paid); and an overpaid invoice (HubSpot paid more than
    billed, QBO paid in full: the rest is credit there).
    """
    if hs.voided or qbo.voided:
        return {} if hs.voided == qbo.voided else {"voided": (hs.voided, qbo.voided)}
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("customer", "lines", "other_lines", "discount", "due_date", "po", "memo"):
        a, b = getattr(hs, name), getattr(qbo, name)
        if a != b:
            out[name] = (a, b)
    if hs.total != qbo.total:
        out["total"] = (hs.total, qbo.total)
    # Overpaid (the sync matrix): QBO applies up to the total and keeps the rest as the
    # customer's credit; HubSpot counts it all, its balance negative by exactly the rest.
    overpaid = hs.total == qbo.total and qbo.balance == 0 and qbo.paid == qbo.total < hs.paid
    if overpaid and hs.balance == qbo.paid - hs.paid:
        return out
    # Credit alone explains nothing beyond the overpaid case: credit QBO keeps on an invoice
    # that still owes is a disagreement (the sync matrix).
    explained = hubspot_owned_refunds - hubspot_credit if hubspot_owned_refunds else Decimal(0)
    gap = hs.balance - qbo.balance
    if gap not in (Decimal(0), explained):
        out["balance"] = (hs.balance, qbo.balance)
    gap = qbo.paid - hs.paid
    if gap not in (Decimal(0), explained):
        out["amount_paid"] = (hs.paid, qbo.paid)
    return out


HS_PAYMENT_MARK = re.compile(r"hubspot-payment:(\d+)")


async def documented_gap(
    hs: HubSpotUser,
    qbo_invoice_id: str,
    qbo_payments: list[dict[str, Any]],
    copies: dict[str, dict[str, Any]],
    hubspot_invoice_id: str | None = None,
) -> tuple[Decimal, Decimal]:
    """What the sync matrix lets QBO count more paid on this invoice than HubSpot, read from
    both books (not from the engine): (refunds and deletes HubSpot owns, credit QBO keeps).

    For each live QBO payment on the invoice:
    - made from a HubSpot payment (its PrivateNote marker names it): HubSpot counts it net of
      its refunds (booked in QBO as refund receipts, which do not reopen the invoice); a
      payment for this invoice alone keeps in QBO, as the customer's credit, what the invoice
      did not owe. One QBO applies nothing of (the invoice was paid there, e.g. paid again
      after a refund, which does not reopen a QBO invoice) is all credit when the HubSpot
      payment is on this HubSpot invoice alone (`hubspot_invoice_id`). Deleted in HubSpot
      while QBO still counts it: nothing is explained;
    - a bookkeeper's payment: its HubSpot copy of this invoice's share (`copies`, by
      ledgerbridge_payment_key), refunded there, or archived (HubSpot owns both).
    """
    owned, credit = Decimal(0), Decimal(0)
    for payment in qbo_payments:
        if qbo_voided(payment):
            continue
        lines = [
            (str(linked.get("TxnId")), dec(line.get("Amount")))
            for line in payment.get("Line", [])
            for linked in line.get("LinkedTxn", [])
            if linked.get("TxnType") == "Invoice"
        ]
        share = sum((a for i, a in lines if i == qbo_invoice_id), Decimal(0))
        mark = HS_PAYMENT_MARK.search(str(payment.get("PrivateNote") or ""))
        if share <= 0 and (lines or not mark or hubspot_invoice_id is None):
            continue
        if mark:
            r = await hs.http.get(
                f"/crm/v3/objects/commerce_payments/{mark.group(1)}",
                params={"properties": "hs_refunds_amount", "associations": "invoices"},
                headers=hs.headers,
            )
            if r.status_code == 404:
                continue
            r.raise_for_status()
            record = r.json()
            refunded = dec(record["properties"].get("hs_refunds_amount"))
            if not lines:
                # All credit in QBO: explained only for a payment on this HubSpot invoice alone.
                invoices = (record.get("associations") or {}).get("invoices", {})
                if [str(x["id"]) for x in invoices.get("results", [])] == [hubspot_invoice_id]:
                    owned += refunded
                    credit += dec(payment.get("TotalAmt"))
                continue
            if all(i == qbo_invoice_id for i, _ in lines):
                owned += refunded
                credit += dec(payment.get("TotalAmt")) - share
            else:
                owned += min(refunded, share)
            continue
        copy = copies.get(f"qbo-payment:{payment['Id']}:{qbo_invoice_id}")
        if copy is None:
            owned += share  # archived in HubSpot: HubSpot owns the delete
        else:
            owned += min(dec(copy.get("hs_refunds_amount")), share)
    return owned, credit
