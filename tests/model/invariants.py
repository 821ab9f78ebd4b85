"""What the model test knows about the books, and the invariants checked after quiescing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from actors import HubSpotUser, QboUser
from engine_world import World
from oracle import dec, differences, documented_gap, hubspot_invoice, qbo_invoice, qbo_voided

from ledgerbridge.connectors.bulk_reads import ConnectorBulkReader
from ledgerbridge.connectors.quickbooks.translate import extract_marker
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.compare import P_REMOVED, compare_invoice
from ledgerbridge.engine.payments import REFUND_IDS
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    LEDGER_CREDIT,
    LEDGER_REFUND,
    PAYMENT,
    REFUND,
    SALES_RECEIPT,
    Link,
    RecordKey,
)
from ledgerbridge.engine.reconcile_read import compare_payment_links


@dataclass
class Books:
    contacts: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    hs_invoices: list[str] = field(default_factory=list)  # created by the HubSpot user
    qbo_customers: list[str] = field(default_factory=list)
    qbo_items: list[str] = field(default_factory=list)
    qbo_invoices: list[str] = field(default_factory=list)  # created by the bookkeeper
    qbo_payments: list[str] = field(default_factory=list)  # live ones
    # HubSpot payments through a payment link (tied to no invoice): one sales receipt each.
    link_payments: list[str] = field(default_factory=list)
    deleted_link_payments: list[str] = field(default_factory=list)
    # Deleted ones whose deletion webhook reached the engine (run_engine delivered it).
    link_deletes_delivered: set[str] = field(default_factory=set)

    # The bookkeeper's own refund receipts and credit memos (qbo_rules.QboMoneyRules).
    checking: str | None = None  # the QBO account refunds are paid from
    hand_receipts: list[str] = field(default_factory=list)
    deleted_receipts: list[str] = field(default_factory=list)
    hand_memos: list[str] = field(default_factory=list)
    # Company renames: contact -> the last rename ("hs" | "qbo", the name given), QBO customers
    # whose DisplayName the bookkeeper chose, and a counter that keeps every new name unique.
    company_renames: dict[str, tuple[str, str]] = field(default_factory=dict)
    display_renamed: set[str] = field(default_factory=set)
    renames: int = 0

    def delivered(self, events: list[Any]) -> None:
        for event in events:
            if event.object_type == PAYMENT and event.source_id in self.deleted_link_payments:
                self.link_deletes_delivered.add(event.source_id)

    def hs_copies(self, world: World) -> list[str]:
        """HubSpot ids of the bookkeeper's invoices the engine has linked."""
        links = world.store.get_links(
            world.connection_id, INVOICE, Side.QUICKBOOKS, self.qbo_invoices
        )
        return [link.hubspot_id for link in links.values() if link.hubspot_id]

    def qbo_copies(self, world: World) -> list[str]:
        links = world.store.get_links(world.connection_id, INVOICE, Side.HUBSPOT, self.hs_invoices)
        return [link.qbo_id for link in links.values() if link.qbo_id]


async def _payment_copies(hs: HubSpotUser) -> dict[str, dict[str, Any]]:
    """HubSpot's live copies of QBO payment shares, by ledgerbridge_payment_key (n: how many
    HubSpot holds of that key)."""
    found: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        params = {
            "limit": "100",
            "properties": "ledgerbridge_payment_key,hs_refunds_amount,hs_initial_amount",
        }
        if after:
            params["after"] = after
        r = await hs.http.get(
            "/crm/v3/objects/commerce_payments", params=params, headers=hs.headers
        )
        r.raise_for_status()
        body = r.json()
        for record in body["results"]:
            key = record["properties"].get("ledgerbridge_payment_key")
            if key:
                n = found.get(key, {}).get("n", 0)
                found[key] = {**record["properties"], "n": n + 1}
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return found


async def _all_hubspot_invoices(hs: HubSpotUser) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        params = {"limit": "100", "properties": "hs_invoice_status,ledgerbridge_sync_status"}
        if after:
            params["after"] = after
        r = await hs.http.get("/crm/v3/objects/invoices", params=params, headers=hs.headers)
        r.raise_for_status()
        body = r.json()
        for record in body["results"]:
            found[str(record["id"])] = record["properties"]
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return found


def _state(world: World, hs_id: str, qbo_id: str | None) -> Any:
    for side, source in ((Side.HUBSPOT, hs_id), (Side.QUICKBOOKS, qbo_id)):
        if source:
            state = world.store.get_state(RecordKey(world.connection_id, INVOICE, side, source))
            if state is not None:
                return state
    return None


def _names_a_field(state: Any) -> bool:
    """A failed or diverged state says what is wrong: differences, or an error message."""
    return bool(getattr(state, "differences", None) or state.message)


async def _engine_says(
    world: World, hs_id: str, qbo_id: str, gap: tuple[Decimal, Decimal]
) -> list[str]:
    """The engine's own definition of agreement (engine/compare.py) on what the connectors read:
    a synced record must pass it too."""
    hubspot = await world.crm.get_invoice(hs_id)
    quickbooks = await world.ledger.get_invoice(qbo_id)
    if hubspot is None or quickbooks is None:
        return [f"unreadable (HubSpot {hubspot is not None}, QBO {quickbooks is not None})"]
    found = compare_invoice(
        hubspot,
        quickbooks,
        settings=world.engine.settings,
        hubspot_owned_refunds=gap[0],
        hubspot_credit=gap[1],
    )
    return [f"{d.field}: {d.hubspot!r} / {d.quickbooks!r}" for d in found]


async def check(world: World, hs: HubSpotUser, qbo: QboUser, books: Books) -> None:
    problems: list[str] = []
    hubspot = await _all_hubspot_invoices(hs)
    quickbooks = {str(r["Id"]): r for r in await qbo.query("select * from Invoice maxresults 1000")}
    qbo_payments = await qbo.query("select * from Payment maxresults 1000")
    copies = await _payment_copies(hs)
    hs_links = world.store.get_links(world.connection_id, INVOICE, Side.HUBSPOT, list(hubspot))
    qbo_links = world.store.get_links(
        world.connection_id, INVOICE, Side.QUICKBOOKS, list(quickbooks)
    )

    # Every QBO invoice is linked, to a HubSpot invoice that exists, and no two to the same one.
    for qbo_id in quickbooks:
        link = qbo_links.get(qbo_id)
        voided = qbo_voided(quickbooks[qbo_id])
        if link is None and voided:
            continue  # voided before it ever synced: not eligible (as in HubSpot)
        if link is None or link.hubspot_id not in hubspot:
            problems.append(f"QBO invoice {qbo_id} has no HubSpot counterpart (link: {link})")
    twins = Counter(link.hubspot_id for link in qbo_links.values())
    problems += [
        f"HubSpot invoice {h} linked to {n} QBO invoices" for h, n in twins.items() if n > 1
    ]

    for hs_id, props in sorted(hubspot.items(), key=lambda kv: int(kv[0])):
        status = props.get("hs_invoice_status")
        link = hs_links.get(hs_id)
        qbo_id = link.qbo_id if link else None
        state = _state(world, hs_id, qbo_id)
        if status == "draft":
            if qbo_id:
                problems.append(f"HubSpot draft {hs_id} is in QBO as {qbo_id}")
            continue
        if not qbo_id or qbo_id not in quickbooks:
            # Eligible but not in QBO: allowed only when the engine says why (e.g. the invoice
            # lost its contact before it could sync) or it was voided before it ever synced.
            if status != "voided" and not (
                state is not None and state.status is SyncStatus.FAILED and _names_a_field(state)
            ):
                problems.append(
                    f"HubSpot invoice {hs_id} ({status}) is not in QBO; state "
                    f"{state.status if state else None}"
                )
            continue
        _, hs_side = await hubspot_invoice(hs, hs_id)
        qbo_side = await qbo_invoice(qbo, quickbooks[qbo_id], hs_side.lines)
        gap = await documented_gap(hs, qbo_id, qbo_payments, copies, hs_id)
        diff = differences(hs_side, qbo_side, hubspot_owned_refunds=gap[0], hubspot_credit=gap[1])
        label = f"invoice HubSpot {hs_id} / QBO {qbo_id}"
        if state is None:
            problems.append(f"{label}: linked but has no sync state")
        elif diff and state.status is SyncStatus.SYNCED:
            problems.append(f"{label}: synced while the sides differ: {diff}")
        elif diff and props.get("ledgerbridge_sync_status") == SyncStatus.SYNCED.value:
            problems.append(f"{label}: HubSpot shows synced while the sides differ: {diff}")
        elif diff and not _names_a_field(state):
            problems.append(f"{label}: {state.status} without saying why; differs: {diff}")
        elif not diff and state.status not in (SyncStatus.SYNCED,) and status != "voided":
            problems.append(
                f"{label}: sides agree but the state is {state.status} ({state.message})"
            )
        elif state.status in (SyncStatus.PENDING, SyncStatus.BLOCKED):
            problems.append(f"{label}: still {state.status} after quiescing")
        if state is not None and state.status is SyncStatus.SYNCED:
            engine_diff = await _engine_says(world, hs_id, qbo_id, gap)
            if engine_diff:
                problems.append(f"{label}: synced, but engine.compare finds: {engine_diff}")

    # No duplicate payments: every copy of a QBO payment share exists once in HubSpot.
    problems += [
        f"HubSpot holds {p['n']} copies of payment share {k}"
        for k, p in copies.items()
        if p["n"] > 1
    ]
    problems += await _refunds_in_both_books(world, hs, qbo, books)
    problems += await _customers_agree(world, hs, qbo)
    problems += await _sales_receipts(world, hs, qbo, books)
    problems += await _hand_refund_receipts(world, hs, qbo, books)
    problems += await _hand_credit_memos(world, hs, qbo, books)
    problems += await _company_names(world, hs, qbo, books)
    problems += await _refund_booking(world, qbo)
    assert not problems, "the books do not agree after quiescing:\n  " + "\n  ".join(problems)


async def _lost_delete_found_by_reconciliation(world: World, books: Books, link: Link) -> bool:
    """A payment tied to no invoice, deleted in HubSpot, whose deletion webhook never reached
    the engine: no poll sees a HubSpot delete and no invoice step can notice it (there is no
    invoice), so the engine documents reconciliation as what finds it (docs/sync-matrix.md,
    Sales receipts). Accepted only when reconciliation's comparison names it removed."""
    if link.qbo_kind != SALES_RECEIPT or link.hubspot_id in books.link_deletes_delivered:
        return False
    reader = ConnectorBulkReader(world.crm, world.ledger)
    pairs = await compare_payment_links(reader, [link], world.engine.settings)
    return any(d.field == P_REMOVED for pair in pairs for d in pair.diffs)


async def _refunds_in_both_books(
    world: World, hs: HubSpotUser, qbo: QboUser, books: Books
) -> list[str]:
    """A HubSpot payment recorded in QBO: its refunded total equals its refund receipts in QBO,
    to the cent, or its state is failed or diverged and says why (a refund on a payment whose
    invoice has no item line any more, e.g. voided in QBO: refund_no_item); deleted in HubSpot,
    its QBO payment is voided (docs/sync-matrix.md, Payments)."""
    problems: list[str] = []
    receipts = {
        str(r["Id"]): r for r in await qbo.query("select * from RefundReceipt maxresults 1000")
    }
    payments = {str(r["Id"]): r for r in await qbo.query("select * from Payment maxresults 1000")}
    # A HubSpot payment tied to no invoice is held as a SalesReceipt: ids are per entity.
    sales_receipts = {
        str(r["Id"]): r for r in await qbo.query("select * from SalesReceipt maxresults 1000")
    }
    links = [
        lk
        for lk in world.store.list_links(world.connection_id, PAYMENT)
        if lk.extra.get("origin") == Side.HUBSPOT.value and lk.qbo_id
    ]
    # Copies of QBO payments refunded in HubSpot: their refunds are booked the same way.
    links += [
        replace(lk, qbo_id=str(lk.extra.get("qbo_payment_id")))
        for lk in world.store.list_links(world.connection_id, REFUND)
    ]
    for link in links:
        assert link.qbo_id is not None
        r = await hs.http.get(
            f"/crm/v3/objects/commerce_payments/{link.hubspot_id}",
            params={"properties": "hs_refunds_amount"},
            headers=hs.headers,
        )
        held = sales_receipts if link.qbo_kind == SALES_RECEIPT else payments
        qbo_payment = held.get(link.qbo_id)
        state = world.store.get_state(
            RecordKey(world.connection_id, PAYMENT, Side.HUBSPOT, link.hubspot_id or "")
        )
        says_why = (
            state is not None
            and state.status in (SyncStatus.FAILED, SyncStatus.DIVERGED)
            and _names_a_field(state)
        )
        if r.status_code == 404:
            if link.object_type == REFUND:
                continue  # a copy deleted in HubSpot: HubSpot owns it
            if qbo_payment is None or qbo_voided(qbo_payment) or says_why:
                continue  # voided, gone, or the engine says why it could not void it
            if not await _lost_delete_found_by_reconciliation(world, books, link):
                # Everything the engine knew, so that a finding that does not reproduce (it
                # depends on which webhooks were lost) can still be read from its report.
                problems.append(
                    f"HubSpot payment {link.hubspot_id} deleted, QBO payment {link.qbo_id} "
                    f"still counts (link {link.extra}; QBO lines {qbo_payment.get('Line')},"
                    f" unapplied {qbo_payment.get('UnappliedAmt')}; state"
                    f" {state.status if state else None} {state.message if state else ''})"
                )
            continue
        r.raise_for_status()
        if qbo_payment is None or qbo_voided(qbo_payment):
            continue  # gone in QBO (the bookkeeper's doing): a refund cannot be booked on it
        refunded = Decimal(r.json()["properties"].get("hs_refunds_amount") or "0")
        booked = sum(
            (
                Decimal(str(receipts[str(i)]["TotalAmt"]))
                for i in link.extra.get(REFUND_IDS) or []
                if str(i) in receipts
            ),
            Decimal(0),
        ) + await _credit_memo_refunds(qbo, link.extra.get(REFUND_IDS) or [])
        if says_why:
            continue  # the engine says why (e.g. refund_no_item: docs/errors.md)
        if refunded.quantize(Decimal("0.01")) != booked:
            problems.append(
                f"HubSpot payment {link.hubspot_id} refunded {refunded}, QBO refund receipts "
                f"hold {booked}"
            )
    return problems


async def _customers_agree(world: World, hs: HubSpotUser, qbo: QboUser) -> list[str]:
    """Every linked contact and QBO customer hold the same email, first and last name
    (docs/sync-matrix.md, Customers and items: both ways after creation), or the customer's
    state is failed or diverged and says why. A contact deleted in HubSpot is not compared."""
    problems: list[str] = []
    for link in world.store.list_links(world.connection_id, CUSTOMER):
        if not link.hubspot_id or not link.qbo_id:
            continue
        r = await hs.http.get(
            f"/crm/v3/objects/contacts/{link.hubspot_id.split('@', 1)[0]}",
            params={"properties": "email,firstname,lastname"},
            headers=hs.headers,
        )
        if r.status_code == 404:
            continue
        r.raise_for_status()
        p = r.json()["properties"]
        customer = await qbo.read("Customer", link.qbo_id)
        pairs = {
            "email": (
                (p.get("email") or "").strip().lower() or None,
                ((customer.get("PrimaryEmailAddr") or {}).get("Address") or "").strip().lower()
                or None,
            ),
            "first_name": ((p.get("firstname") or "")[:25] or None, customer.get("GivenName")),
            "last_name": ((p.get("lastname") or "")[:25] or None, customer.get("FamilyName")),
        }
        diff = {k: v for k, v in pairs.items() if v[0] != v[1]}
        if not diff:
            continue
        state = None
        for side, source in ((Side.HUBSPOT, link.hubspot_id), (Side.QUICKBOOKS, link.qbo_id)):
            key = RecordKey(world.connection_id, CUSTOMER, side, source)
            state = state or world.store.get_state(key)
        named = state is not None and state.status in (SyncStatus.FAILED, SyncStatus.DIVERGED)
        if not (named and _names_a_field(state)):
            status = state.status if state else None
            problems.append(
                f"contact {link.hubspot_id} / QBO customer {link.qbo_id} differ ({status}): {diff}"
            )
    return problems


def marked(record: dict[str, Any]) -> str | None:
    """The ledgerbridge key a QBO record carries in PrivateNote."""
    return extract_marker(str(record.get("PrivateNote") or ""))


async def _sales_receipts(world: World, hs: HubSpotUser, qbo: QboUser, books: Books) -> list[str]:
    """Each HubSpot payment tied to no invoice is one SalesReceipt in QBO, for its amount, never
    a Payment; a deleted one's receipt no longer counts (docs/sync-matrix.md, Payments)."""
    problems: list[str] = []
    receipts = await qbo.query("select * from SalesReceipt maxresults 1000")
    by_id = {str(r["Id"]): r for r in receipts}
    payments = await qbo.query("select * from Payment maxresults 1000")
    for payment_id in books.link_payments + books.deleted_link_payments:
        made = [r for r in receipts if marked(r) == f"hubspot-receipt:{payment_id}"]
        deleted = payment_id in books.deleted_link_payments
        state = world.store.get_state(
            RecordKey(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
        )
        # A payment deleted before it was recorded never reaches QBO; one whose contact was
        # deleted first has no customer and fails, saying so (receipt_no_customer).
        no_customer = (
            state is not None
            and state.status is SyncStatus.FAILED
            and "no contact" in (state.message or "")
        )
        if not made and (deleted or no_customer):
            continue
        if len(made) != 1:
            problems.append(
                f"HubSpot payment {payment_id}: {len(made)} sales receipts in QBO "
                f"(state: {state.status if state else None} {state.message if state else ''})"
            )
            continue
        if any(
            f"hubspot-payment:{payment_id}" in str(p.get("PrivateNote") or "") for p in payments
        ):
            problems.append(f"HubSpot payment {payment_id} tied to no invoice is a QBO Payment")
        link = world.store.get_link(world.connection_id, PAYMENT, Side.HUBSPOT, payment_id)
        receipt = made[0]
        if (
            link is None
            or link.qbo_kind != SALES_RECEIPT
            or by_id.get(link.qbo_id or "") is not receipt
        ):
            problems.append(f"HubSpot payment {payment_id}: link {link} is not its receipt")
        if deleted:
            lost = link is not None and await _lost_delete_found_by_reconciliation(
                world, books, link
            )
            if not qbo_voided(receipt) and not lost:
                problems.append(f"HubSpot payment {payment_id} deleted, its receipt still counts")
            continue
        r = await hs.http.get(
            f"/crm/v3/objects/commerce_payments/{payment_id}",
            params={"properties": "hs_initial_amount"},
            headers=hs.headers,
        )
        r.raise_for_status()
        amount = Decimal(r.json()["properties"]["hs_initial_amount"])
        if Decimal(str(receipt["TotalAmt"])) != amount:
            problems.append(
                f"HubSpot payment {payment_id} of {amount}: receipt {receipt['Id']} holds "
                f"{receipt['TotalAmt']}"
            )
    return problems


async def _credit_memo_refunds(qbo: QboUser, refund_ids: list[Any]) -> Decimal:
    """What the refunds booked as credit memos (refunds.booked_as = credit_memo, ids
    "CreditMemo-<id>") gave back: each memo's amount less the credit it still holds (all three
    records of the chain must exist for that to be the whole amount: the zero payment applying
    the memo to the refund is what uses the credit up); a voided or deleted memo counts 0."""
    total = Decimal(0)
    for refund_id in refund_ids:
        if not str(refund_id).startswith("CreditMemo-"):
            continue
        rows = await qbo.query(
            f"select * from CreditMemo where Id = '{str(refund_id).removeprefix('CreditMemo-')}'"
        )
        for row in rows:
            if not qbo_voided(row):
                total += dec(row.get("TotalAmt")) - dec(row.get("RemainingCredit"))
    return total


def _says_why(state: Any) -> bool:
    return (
        state is not None
        and state.status in (SyncStatus.FAILED, SyncStatus.DIVERGED)
        and _names_a_field(state)
    )


async def _hand_refund_receipts(
    world: World, hs: HubSpotUser, qbo: QboUser, books: Books
) -> list[str]:
    """Each refund receipt the bookkeeper made by hand (docs/sync-matrix.md, Refund receipt made
    in QBO by hand):
    - tied to a HubSpot payment and synced: that payment is the one the receipt names (its
      LinkedTxn payment, or a payment with its reference), HubSpot counts the receipt's current
      amount (0 once voided or deleted), the receipt is in that payment's refund bookkeeping
      (whose total `_refunds_in_both_books` compares with HubSpot's refunded amount), and the
      payment's status follows its refunded amount;
    - not tied: failed, saying why (refund_unmatched, refund_ambiguous), unless it gave nothing
      back by then (voided, deleted);
    - tied but failed or diverged: only saying why (refund_too_large, refund_payment_gone);
    - never pending or blocked once quiet."""
    problems: list[str] = []
    conn = world.connection_id
    for receipt_id in books.hand_receipts:
        key = RecordKey(conn, LEDGER_REFUND, Side.QUICKBOOKS, receipt_id)
        state = world.store.get_state(key)
        link = world.store.get_link(conn, LEDGER_REFUND, Side.QUICKBOOKS, receipt_id)
        rows = await qbo.query(f"select * from RefundReceipt where Id = '{receipt_id}'")
        row = rows[0] if rows else None
        amount = Decimal(0) if row is None or qbo_voided(row) else dec(row.get("TotalAmt"))
        label = f"QBO refund receipt {receipt_id} ({amount})"
        status = f"{state.status} {state.message}" if state is not None else None
        if state is not None and state.status is SyncStatus.BLOCKED and state.blocked_on:
            # Waiting for a payment it may refund: only one that is stuck itself, saying why
            # (e.g. blocked on its invoice, which failed).
            on = world.store.get_state(RecordKey.from_text(state.blocked_on))
            if on is None or on.status not in (SyncStatus.FAILED, SyncStatus.BLOCKED):
                problems.append(f"{label}: still {status} after quiescing, on {on}")
            continue
        if state is not None and state.status in (SyncStatus.PENDING, SyncStatus.BLOCKED):
            problems.append(f"{label}: still {status} after quiescing")
            continue
        if link is None or not link.hubspot_id:
            if amount > 0 and not _says_why(state):
                problems.append(f"{label} is tied to no HubSpot payment; state: {status}")
            continue
        if _says_why(state):
            continue
        if state is None or state.status is not SyncStatus.SYNCED:
            problems.append(f"{label} tied to HubSpot payment {link.hubspot_id}: state {status}")
            continue
        applied = dec(link.extra.get("applied"))
        if applied != amount:
            problems.append(f"{label}: HubSpot counts {applied} of it (synced)")
        qbo_payment = str(link.extra.get("qbo_payment_id"))
        named = [
            str(x.get("TxnId"))
            for x in (row or {}).get("LinkedTxn", [])
            if x.get("TxnType") == "Payment"
        ]
        if named and qbo_payment not in named:
            problems.append(f"{label} names QBO payment {named}, tied to {qbo_payment}")
        reference = str((row or {}).get("PaymentRefNum") or "").strip()
        if reference:
            paid = await qbo.query(f"select * from Payment where Id = '{qbo_payment}'")
            if paid and str(paid[0].get("PaymentRefNum") or "").strip() != reference:
                problems.append(f"{label} has reference {reference}, tied to {qbo_payment}")
        r = await hs.http.get(
            f"/crm/v3/objects/commerce_payments/{link.hubspot_id}",
            params={"properties": "hs_refunds_amount,hs_initial_amount,hs_latest_status"},
            headers=hs.headers,
        )
        if r.status_code == 404:
            continue  # deleted in HubSpot since (HubSpot owns that)
        r.raise_for_status()
        p = r.json()["properties"]
        refunded, paid_amount = dec(p.get("hs_refunds_amount")), dec(p.get("hs_initial_amount"))
        expected = (
            "succeeded"
            if refunded <= 0
            else "refunded"
            if refunded >= paid_amount
            else "partially_refunded"
        )
        if p.get("hs_latest_status") != expected:
            problems.append(
                f"{label}: HubSpot payment {link.hubspot_id} refunded {refunded} of "
                f"{paid_amount} shows {p.get('hs_latest_status')}"
            )
        kind = PAYMENT if link.extra.get("kind") == PAYMENT else REFUND
        own = world.store.get_link(conn, kind, Side.HUBSPOT, link.hubspot_id)
        ids = [str(i) for i in ((own.extra.get(REFUND_IDS) if own else None) or [])]
        if amount > 0 and receipt_id not in ids:
            problems.append(
                f"{label} is not in HubSpot payment {link.hubspot_id}'s refunds ({ids})"
            )
    return problems


async def _hand_credit_memos(
    world: World, hs: HubSpotUser, qbo: QboUser, books: Books
) -> list[str]:
    """Each credit memo the bookkeeper made by hand (docs/sync-matrix.md, Credit memo made in
    QBO by hand): credit left on it, failed saying so (credit_unapplied: HubSpot shows no
    credit for what QBO has not applied either); applied in full, synced, and every invoice
    share of every live payment applying it is a HubSpot payment of the same amount (the
    invoice balances themselves are compared by `check`); a copy deleted in HubSpot stays deleted
    (HubSpot owns deletes of copies) and holds nothing up."""
    problems: list[str] = []
    if not books.hand_memos:
        return problems
    copies = await _payment_copies(hs)
    deleted = await _archived_copy_keys(hs)
    payments = await qbo.query("select * from Payment maxresults 1000")
    for memo_id in books.hand_memos:
        state = world.store.get_state(
            RecordKey(world.connection_id, LEDGER_CREDIT, Side.QUICKBOOKS, memo_id)
        )
        status = f"{state.status} {state.message}" if state is not None else None
        row = await qbo.read("CreditMemo", memo_id)
        left = dec(row.get("RemainingCredit"))
        label = f"QBO credit memo {memo_id} ({row.get('TotalAmt')}, {left} left)"
        if left > 0:
            if not (
                state is not None
                and state.status is SyncStatus.FAILED
                and "not applied" in (state.message or "")
            ):
                problems.append(f"{label}: not reported as unapplied; state: {status}")
            continue
        if state is None or state.status is not SyncStatus.SYNCED:
            problems.append(f"{label}: applied in full, state: {status}")
        for payment in payments:
            lines = payment.get("Line", [])
            if qbo_voided(payment) or not any(
                x.get("TxnType") == "CreditMemo" and str(x.get("TxnId")) == memo_id
                for line in lines
                for x in line.get("LinkedTxn", [])
            ):
                continue
            for line in lines:
                for x in line.get("LinkedTxn", []):
                    if x.get("TxnType") != "Invoice":
                        continue
                    share = f"qbo-payment:{payment['Id']}:{x.get('TxnId')}"
                    copy = copies.get(share)
                    if copy is None and share in deleted:
                        continue  # deleted in HubSpot: HubSpot owns deletes of copies
                    if copy is None or dec(copy.get("hs_initial_amount")) != dec(line["Amount"]):
                        problems.append(
                            f"{label}: share {share} of {line['Amount']} is in HubSpot as "
                            f"{copy and copy.get('hs_initial_amount')}"
                        )
    return problems


async def _company_names(world: World, hs: HubSpotUser, qbo: QboUser, books: Books) -> list[str]:
    """Company renames (docs/sync-matrix.md, Company rename; HubSpot owns the name): a linked
    customer's CompanyName is the HubSpot contact's company, or, when the bookkeeper renamed it
    last, the name the bookkeeper gave (a CompanyName changed only in QBO is kept); a rename in
    HubSpot after that wins. Its DisplayName, made from the company name and never chosen by
    the bookkeeper, follows the rename. Else the customer is failed or diverged, saying why."""
    problems: list[str] = []
    for contact_id, (side, name) in sorted(books.company_renames.items()):
        link = world.store.get_link(world.connection_id, CUSTOMER, Side.HUBSPOT, contact_id)
        if link is None or not link.qbo_id:
            continue  # no invoice needed the contact yet: nothing to rename in QBO
        r = await hs.http.get(
            f"/crm/v3/objects/contacts/{contact_id}",
            params={"properties": "company"},
            headers=hs.headers,
        )
        if r.status_code == 404:
            continue
        r.raise_for_status()
        hs_name = (r.json()["properties"].get("company") or "").strip()
        customer = await qbo.read("Customer", link.qbo_id)
        qbo_name = str(customer.get("CompanyName") or "").strip()
        state = None
        for key_side, source in ((Side.HUBSPOT, contact_id), (Side.QUICKBOOKS, link.qbo_id)):
            state = state or world.store.get_state(
                RecordKey(world.connection_id, CUSTOMER, key_side, source)
            )
        if _says_why(state):
            continue
        label = f"contact {contact_id} / QBO customer {link.qbo_id}"
        if qbo_name != hs_name and not (side == "qbo" and qbo_name == name):
            problems.append(
                f"{label}: company {hs_name!r} in HubSpot, {qbo_name!r} in QBO (last renamed "
                f"in {side} to {name!r}); state {state.status if state else None}"
            )
        elif (
            qbo_name == hs_name
            and link.qbo_id not in books.display_renamed
            and not str(customer.get("DisplayName") or "").startswith(hs_name)
        ):
            problems.append(
                f"{label}: renamed {hs_name!r}, DisplayName {customer.get('DisplayName')!r}"
            )
    return problems


async def _refund_booking(world: World, qbo: QboUser) -> list[str]:
    """HubSpot's refunds are booked in QBO the way the run's setting says (refunds.booked_as,
    docs/sync-matrix.md, Payments): as RefundReceipts, or as credit memos refunded to the
    customer, never the other way. A credit memo refund is whole: its Purchase paid to the same
    customer for the same amount and its zero Payment applying the memo to that Purchase both
    exist, and the memo holds no credit any more (a voided memo gave nothing back)."""
    problems: list[str] = []
    as_memos = world.engine.settings.refunds.booked_as == "credit_memo"
    ours = {
        entity: {
            key: row
            for row in await qbo.query(f"select * from {entity} maxresults 1000")
            if (key := marked(row) or "").startswith("hubspot-refund:")
        }
        for entity in ("RefundReceipt", "CreditMemo", "Purchase", "Payment")
    }
    wrong = "RefundReceipt" if as_memos else "CreditMemo"
    problems += [
        f"QBO {wrong} {row['Id']} ({key}) books a HubSpot refund while refunds are booked as "
        f"{world.engine.settings.refunds.booked_as}"
        for key, row in ours[wrong].items()
    ]
    for key, memo in ours["CreditMemo"].items():
        if qbo_voided(memo):
            continue
        customer = memo["CustomerRef"]["value"]
        paid_out = ours["Purchase"].get(f"{key}.refund")
        apply = ours["Payment"].get(f"{key}.apply")
        label = f"credit memo refund {memo['Id']} ({key}, {memo.get('TotalAmt')})"
        if dec(memo.get("RemainingCredit")) != 0:
            problems.append(f"{label} still holds {memo.get('RemainingCredit')} of credit")
        if (
            paid_out is None
            or (paid_out.get("EntityRef") or {}).get("value") != customer
            or dec(paid_out.get("TotalAmt")) != dec(memo.get("TotalAmt"))
        ):
            problems.append(f"{label}: its refund to the customer is {paid_out}")
        links = {
            (str(x.get("TxnType")), str(x.get("TxnId")))
            for line in (apply or {}).get("Line", [])
            for x in line.get("LinkedTxn", [])
        }
        if (
            paid_out is not None
            and not {
                ("CreditMemo", str(memo["Id"])),
                ("Expense", str(paid_out["Id"])),
            }
            <= links
        ):
            problems.append(f"{label}: no zero payment applies it to its refund ({links})")
    return problems


async def _archived_copy_keys(hs: HubSpotUser) -> set[str]:
    """ledgerbridge_payment_key of the copies of QBO payment shares deleted in HubSpot."""
    found: set[str] = set()
    after: str | None = None
    while True:
        params = {"limit": "100", "archived": "true", "properties": "ledgerbridge_payment_key"}
        if after:
            params["after"] = after
        r = await hs.http.get(
            "/crm/v3/objects/commerce_payments", params=params, headers=hs.headers
        )
        r.raise_for_status()
        body = r.json()
        found |= {
            key for x in body["results"] if (key := x["properties"].get("ledgerbridge_payment_key"))
        }
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return found
