"""Backfill over the shared demo data set on both sandboxes: the dry run changes nothing and says
what would happen; the real run links everything once, with every total equal to the cent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from engine_world import World, make_world

from ledgerbridge.connectors.hubspot.feed import _key as feed_key
from ledgerbridge.connectors.hubspot.feed import decode_cursor
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.backfill import BackfillProgress
from ledgerbridge.engine.checkpoint import Checkpoint
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, ITEM
from ledgerbridge.errors import UnknownOutcome

ENTITIES = ("Customer", "Item", "Invoice", "Payment")


@pytest.fixture
async def world(sqlite_db_url: str) -> AsyncIterator[World]:
    w = await make_world(
        sqlite_db_url, f"engine-bf-{uuid.uuid4().hex[:8]}", hs_seed="demo", qbo_seed="demo"
    )
    yield w
    await w.close()


async def _run(world: World, dry_run: bool) -> list[BackfillProgress]:
    return [p async for p in world.engine.backfill(dry_run=dry_run)]


def _counts(world: World) -> dict[str, int]:
    return {e: world.qbo.count(e) for e in ENTITIES}


def _hs_counts(world: World) -> dict[str, int]:
    return {t: len(world.hs.all(t)) for t in ("invoices", "commerce_payments", "contacts")}


async def test_dry_run_reports_and_writes_nothing(world: World) -> None:
    before, hs_before = _counts(world), _hs_counts(world)
    hs_modified = {r.id: r.properties.get("hs_lastmodifieddate") for r in world.hs.all("invoices")}
    # One invoice that cannot sync, so the preview shows a failure too.
    contact = world.hs.contact("zoe@zeta.example", first="Zoe", company="Zeta")
    product = world.hs.product("Euro thing", "EUR-1", "10.00")
    eur = world.hs.invoice(contact, [(product, "1", "10.00")], currency="EUR")

    progress = await _run(world, dry_run=True)

    final = progress[-1]
    assert final.phase == "done" and final.dry_run and final.report is not None
    report = final.report
    # 38 finished HubSpot invoices (8 drafts and 4 voided are not synced), 8 QBO-origin invoices,
    # 16 HubSpot payments and 4 QBO payments.
    assert len([c for c in report.create if c.startswith("invoice hubspot")]) == 38
    assert len([c for c in report.create if c.startswith("invoice quickbooks")]) == 8
    assert len([c for c in report.create if c.startswith("payment")]) == 20
    assert [f for f in report.failing if f"invoice hubspot {eur}" in f and "USD-only" in f]
    assert report.customers_matched == 22 and report.customers_to_create == 0
    assert (
        report.items_matched == 10 and report.items_to_create == 0
    )  # the euro invoice fails first
    # Nothing written anywhere: not to QBO, not to HubSpot, not to the store.
    assert _counts(world) == before
    assert _hs_counts(world)["invoices"] == hs_before["invoices"] + 1
    for record in world.hs.all("invoices"):
        if record.id in hs_modified:
            assert record.properties.get("hs_lastmodifieddate") == hs_modified[record.id]
    assert world.store.count_states(world.connection_id)[SyncStatus.SYNCED] == 0
    assert world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, eur) is None


async def test_backfill_links_everything_once_with_equal_totals(world: World) -> None:
    before = _counts(world)
    progress = await _run(world, dry_run=False)
    assert progress[-1].synced == 66 and progress[-1].failed == 0
    after = _counts(world)
    assert after == {
        "Customer": before["Customer"],
        "Item": before["Item"],
        "Invoice": before["Invoice"] + 38,
        "Payment": before["Payment"] + 16,
    }

    # Every synced invoice: same total and same balance on both sides, to the cent.
    links = 0
    for record in world.hs.all("invoices"):
        props = record.properties
        if props.get("hs_invoice_status") in ("draft", "voided"):
            assert (
                world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id) is None
            )
            continue
        link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id)
        assert link is not None and link.qbo_id, record.id
        links += 1
        qbo = world.qbo.get("Invoice", link.qbo_id)
        assert qbo is not None
        assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"]), record.id
        assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"]), record.id
        assert props["ledgerbridge_sync_status"] == "synced"
        assert props["qbo_invoice_id"] == link.qbo_id
    assert links == 46

    # Running it again (or the worker afterwards) creates nothing more.
    await _run(world, dry_run=False)
    await world.sync(30)
    assert _counts(world) == after
    assert len(world.hs.all("invoices")) == 58
    assert len(world.hs.all("commerce_payments")) == 20
    counts = world.store.count_states(world.connection_id)
    assert counts[SyncStatus.FAILED] == 0 and counts[SyncStatus.BLOCKED] == 0


async def test_the_backfill_walks_only_what_existed_when_it_started(world: World) -> None:
    """The feed is walked up to the newest change at the start: every invoice is listed once, the
    backfill's own write-back (which moves each invoice it handles to the end of the feed) is not
    walked again, and an invoice finished while it runs is left to the live sync, which then
    creates it in QuickBooks once."""
    before = _counts(world)
    existing = sorted(r.id for r in world.hs.all("invoices"))
    crm = world.engine.crm
    real_changed = crm.changed_invoices
    listed: list[str] = []
    late: list[str] = []

    async def listing(cursor, limit=100, until=None):  # type: ignore[no-untyped-def]
        page = await real_changed(cursor, limit, until)
        listed.extend(page.ids)
        if not late:  # a user finishes an invoice in HubSpot while the backfill runs
            contact = world.hs.contact("late@late.example", first="Lee", company="Late Co")
            product = world.hs.product("Late thing", "LATE-1", "12.50")
            late.append(world.hs.invoice(contact, [(product, "2", "12.50")]))
        return page

    crm.changed_invoices = listing  # type: ignore[method-assign]
    progress = [p async for p in world.engine.backfill(batch=10)]
    assert progress[-1].failed == 0 and progress[-1].synced == 66
    assert sorted(listed) == existing  # each once; neither the write-back nor the late one
    assert world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, late[0]) is None
    assert _counts(world)["Invoice"] == before["Invoice"] + 38

    await world.sync(30)  # the live sync (poll, then steps) takes the late invoice
    assert world.qbo_id_of(late[0])
    assert _counts(world)["Invoice"] == before["Invoice"] + 39
    markers = [i.get("PrivateNote") for i in world.qbo.all("Invoice") if i.get("PrivateNote")]
    assert len(markers) == len(set(markers))


class Crash(BaseException):
    """The worker dies (not an error the engine handles: nothing after it runs)."""


@pytest.mark.parametrize("sent", [True, False], ids=["after-send", "before-send"])
async def test_backfill_killed_around_a_batch_replays_without_duplicates(
    world: World, sent: bool
) -> None:
    """Write intents are committed before a /batch is sent: whether the process dies just after
    the batch went out (answer lost) or just before, the next backfill creates each invoice once."""
    before = _counts(world)
    ledger = world.engine.ledger
    real = ledger.batch_create_invoices  # type: ignore[attr-defined]
    calls = 0

    async def dying(items):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if sent:
            await real(items)
        raise Crash

    ledger.batch_create_invoices = dying  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        await _run(world, dry_run=False)
    assert calls == 1
    del ledger.batch_create_invoices  # the instance attribute goes: the real method is back
    created_by_crash = _counts(world)["Invoice"] - before["Invoice"]
    # Sent: QBO has them, and only the lookups of the next run can tell; not sent: nothing.
    assert created_by_crash > 0 if sent else created_by_crash == 0

    progress = await _run(world, dry_run=False)
    assert progress[-1].failed == 0
    after = _counts(world)
    assert after["Invoice"] == before["Invoice"] + 38
    markers = [i.get("PrivateNote") for i in world.qbo.all("Invoice") if i.get("PrivateNote")]
    assert len(markers) == len(set(markers))
    for record in world.hs.all("invoices"):
        if record.properties.get("hs_invoice_status") in ("draft", "voided"):
            continue
        link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id)
        assert link is not None and link.qbo_id, record.id
        assert record.properties["qbo_invoice_id"] == link.qbo_id


@pytest.mark.parametrize("lose_answer", [False, True], ids=["answered", "answer-lost"])
async def test_new_customers_are_created_once_through_batch(
    sqlite_db_url: str, lose_answer: bool
) -> None:
    """Into an empty QuickBooks company the backfill creates the customers of a page through
    /batch. Each customer exists once, carries its contact's email, and every invoice is billed
    to it; when a customer batch's answer is lost after QuickBooks created them, the run looks
    them up instead of creating them again."""
    world = await make_world(
        sqlite_db_url, f"engine-bf-{uuid.uuid4().hex[:8]}", hs_seed="demo", qbo_seed="empty"
    )
    try:
        api = world.engine.ledger.api  # type: ignore[attr-defined]
        real = api.batch
        customer_batches: list[int] = []

        async def batch(items, request_id=None):  # type: ignore[no-untyped-def]
            answers = await real(items, request_id=request_id)
            if any("Customer" in item for item in items):
                customer_batches.append(len(items))
                if lose_answer and len(customer_batches) == 1:
                    raise UnknownOutcome(message="the answer was lost after QuickBooks wrote")
            return answers

        api.batch = batch
        progress = await _run(world, dry_run=False)
        assert progress[-1].failed == 0
        assert customer_batches, "customers went through /batch"

        customers = world.qbo.all("Customer")
        emails = [
            str((c.get("PrimaryEmailAddr") or {}).get("Address") or "").lower() for c in customers
        ]
        assert len(emails) == len(set(emails)), "a customer was created twice"
        by_id = {str(c["Id"]): c for c in customers}
        billed = 0
        for record in world.hs.all("invoices"):
            props = record.properties
            if props.get("hs_invoice_status") in ("draft", "voided"):
                continue
            link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id)
            assert link is not None and link.qbo_id, record.id
            qbo = world.qbo.get("Invoice", link.qbo_id)
            assert qbo is not None
            customer = by_id[str(qbo["CustomerRef"]["value"])]
            assert (
                customer["PrimaryEmailAddr"]["Address"].lower()
                == str(props["hs_invoice_latest_contact_email"]).lower()
            )
            assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"])
            billed += 1
        assert billed == 38  # every HubSpot invoice of the demo that is not a draft or voided
        # Every customer link points at one of those customers, once.
        links = [
            world.store.get_link(world.connection_id, CUSTOMER, Side.QUICKBOOKS, str(c["Id"]))
            for c in customers
        ]
        assert all(link is not None for link in links)
    finally:
        await world.close()


@pytest.mark.parametrize("lose_answer", [False, True], ids=["answered", "answer-lost"])
async def test_new_items_are_created_once_through_batch(
    sqlite_db_url: str, lose_answer: bool
) -> None:
    """Into an empty QuickBooks company the backfill creates the items of a page through /batch.
    Each item exists once, and every invoice line books to the item of its HubSpot product;
    when an item batch's answer is lost after QuickBooks created them, the run looks them up
    instead of creating them again."""
    world = await make_world(
        sqlite_db_url, f"engine-bf-{uuid.uuid4().hex[:8]}", hs_seed="demo", qbo_seed="empty"
    )
    try:
        api = world.engine.ledger.api  # type: ignore[attr-defined]
        real = api.batch
        item_batches: list[int] = []

        async def batch(items, request_id=None):  # type: ignore[no-untyped-def]
            answers = await real(items, request_id=request_id)
            if any("Item" in item for item in items):
                item_batches.append(len(items))
                if lose_answer and len(item_batches) == 1:
                    raise UnknownOutcome(message="the answer was lost after QuickBooks wrote")
            return answers

        api.batch = batch
        items_before = {str(i["Id"]) for i in world.qbo.all("Item")}
        progress = await _run(world, dry_run=False)
        assert progress[-1].failed == 0
        assert item_batches and item_batches[0] > 1, "items went through /batch"

        items = [i for i in world.qbo.all("Item") if str(i["Id"]) not in items_before]
        names = [str(i["Name"]).casefold() for i in items]
        assert len(names) == len(set(names)), "an item was created twice"
        skus = [i["Sku"] for i in items if i.get("Sku")]
        assert len(skus) == len(set(skus)), "an item was created twice"
        by_id = {str(i["Id"]): i for i in world.qbo.all("Item")}
        sb = world.hs.sb
        checked = 0
        for record in world.hs.all("invoices"):
            props = record.properties
            if props.get("hs_invoice_status") in ("draft", "voided"):
                continue
            link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id)
            assert link is not None and link.qbo_id, record.id
            qbo = world.qbo.get("Invoice", link.qbo_id)
            assert qbo is not None
            assert Decimal(str(qbo["TotalAmt"])) == Decimal(props["hs_amount_billed"])
            booked = sorted(
                (by_id[str(line["SalesItemLineDetail"]["ItemRef"]["value"])].get("Sku") or "")
                for line in qbo["Line"]
                if line.get("DetailType") == "SalesItemLineDetail"
            )
            wanted = sorted(
                str(line.properties.get("hs_sku") or "") for line in sb.linked(record, "line_items")
            )
            assert booked == wanted, record.id
            checked += 1
        assert checked == 38
        # Every new item is linked from its HubSpot product, once.
        for item in items:
            link = world.store.get_link(world.connection_id, ITEM, Side.QUICKBOOKS, str(item["Id"]))
            assert link is not None and link.hubspot_id, item["Name"]
    finally:
        await world.close()


async def test_the_checkpoint_waits_for_an_earlier_page_still_being_written(world: World) -> None:
    """Two pages are written at once. While an earlier page waits on QuickBooks and a later one
    finishes, the saved checkpoint stays before the earlier page: a run killed then re-reads it
    (and skips what the later page linked). Once the earlier page finishes, it moves on."""
    ledger = world.engine.ledger
    crm = world.engine.crm
    real_create = ledger.batch_create_invoices  # type: ignore[attr-defined]
    real_states = crm.batch_set_sync_state  # type: ignore[attr-defined]
    held = asyncio.Event()
    release = asyncio.Event()
    finished_pages = 0
    calls = 0
    held_first: tuple[int, int] = (0, 0)  # feed position of the held page's first invoice

    async def slow_first(items):  # type: ignore[no-untyped-def]
        nonlocal calls, held_first
        calls += 1
        if calls == 1:
            ids = [i.external_key.removeprefix("hubspot-invoice:") for i in items]
            held_first = min(
                feed_key({"id": hs_id, "properties": world.hs.props("invoices", hs_id)})
                for hs_id in ids
            )
            held.set()
            await release.wait()
        return await real_create(items)

    async def counted(updates):  # type: ignore[no-untyped-def]
        nonlocal finished_pages
        answer = await real_states(updates)
        finished_pages += 1
        return answer

    ledger.batch_create_invoices = slow_first  # type: ignore[attr-defined]
    crm.batch_set_sync_state = counted  # type: ignore[attr-defined]
    run = asyncio.create_task(_collect(world.engine.backfill(batch=10)))
    await asyncio.wait_for(held.wait(), 30)
    while finished_pages == 0:  # a later page finishes while the first is held
        assert not run.done()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    during = Checkpoint.load(world.store, world.connection_id)
    assert during is not None and not during.finished
    assert decode_cursor(during.cursor) < held_first, "the checkpoint passed a page not done"
    release.set()
    progress = await asyncio.wait_for(run, 60)
    assert progress[-1].failed == 0
    done = Checkpoint.load(world.store, world.connection_id)
    assert done is not None and done.finished
    markers = [i.get("PrivateNote") for i in world.qbo.all("Invoice") if i.get("PrivateNote")]
    assert len(markers) == len(set(markers))
    for record in world.hs.all("invoices"):
        if record.properties.get("hs_invoice_status") in ("draft", "voided"):
            continue
        link = world.store.get_link(world.connection_id, INVOICE, Side.HUBSPOT, record.id)
        assert link is not None and link.qbo_id, record.id
        qbo = world.qbo.get("Invoice", link.qbo_id)
        assert qbo is not None
        assert Decimal(str(qbo["TotalAmt"])) == Decimal(record.properties["hs_amount_billed"])


async def _collect(progress: AsyncIterator[BackfillProgress]) -> list[BackfillProgress]:
    return [p async for p in progress]


async def test_a_backfill_records_paid_invoices_as_sales_receipts_when_set(
    sqlite_db_url: str,
) -> None:
    """With `sales_receipts.paid_invoice = "sales_receipt"`, the backfill follows the setting
    like the live sync: an invoice paid in full becomes one QBO SalesReceipt (no Invoice, no
    Payment), every other one an invoice; both books agree on each."""
    from ledgerbridge.engine.fieldmap import SalesReceiptSettings, SyncSettings
    from ledgerbridge.engine.ports import PAYMENT, SALES_RECEIPT

    settings = SyncSettings(
        sales_receipts=SalesReceiptSettings(paid_invoice="sales_receipt", settle_seconds=0)
    )
    world = await make_world(
        sqlite_db_url,
        f"engine-bf-sr-{uuid.uuid4().hex[:8]}",
        hs_seed="demo",
        qbo_seed="demo",
        settings=settings,
    )
    try:
        before = _counts(world)
        receipts_before = world.qbo.count("SalesReceipt")
        made_in_hubspot = {r.id for r in world.hs.all("invoices")}
        progress = await _run(world, dry_run=False)
        assert progress[-1].failed == 0
        await world.sync(30)
        conn = world.connection_id
        paid_in_full = invoices = 0
        for record in world.hs.all("invoices"):
            props = record.properties
            if props.get("hs_invoice_status") in ("draft", "voided"):
                continue
            link = world.store.get_link(conn, INVOICE, Side.HUBSPOT, record.id)
            assert link is not None and link.qbo_id, record.id
            if record.id not in made_in_hubspot:
                continue  # a QBO invoice copied to HubSpot: it stays a QBO invoice
            billed = Decimal(props["hs_amount_billed"])
            assert props["ledgerbridge_sync_status"] == "synced", record.id
            if billed > 0 and Decimal(props["hs_balance_due"]) <= 0:
                paid_in_full += 1
                assert link.qbo_kind == SALES_RECEIPT, record.id
                receipt = world.qbo.get("SalesReceipt", link.qbo_id)
                assert receipt is not None
                assert Decimal(str(receipt["TotalAmt"])) == billed, record.id
                assert not props.get("qbo_invoice_id")
            else:
                invoices += 1
                assert link.qbo_kind == "", record.id
                qbo = world.qbo.get("Invoice", link.qbo_id)
                assert qbo is not None
                assert Decimal(str(qbo["TotalAmt"])) == billed, record.id
                assert Decimal(str(qbo["Balance"])) == Decimal(props["hs_balance_due"])
        assert paid_in_full > 0 and invoices > 0
        after = _counts(world)
        assert world.qbo.count("SalesReceipt") == receipts_before + paid_in_full
        assert after["Invoice"] == before["Invoice"] + invoices
        assert after["Payment"] == before["Payment"] + 6  # the six part-paid invoices' payments
        # No payment of a receipt invoice became a QBO Payment as well.
        for record in world.hs.all("commerce_payments"):
            link = world.store.get_link(conn, PAYMENT, Side.HUBSPOT, record.id)
            if link is not None and link.qbo_kind == "" and link.qbo_id:
                payment = world.qbo.get("Payment", link.qbo_id)
                assert payment is not None
                for line in payment.get("Line", []):
                    for txn in line.get("LinkedTxn", []):
                        assert txn.get("TxnType") == "Invoice"
        counts = world.store.count_states(conn)
        assert counts[SyncStatus.FAILED] == 0 and counts[SyncStatus.BLOCKED] == 0
    finally:
        await world.close()
