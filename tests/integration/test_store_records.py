"""Links, write intents, cursors, audit and sync states on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import (
    CUSTOMER,
    INVOICE,
    PAYMENT,
    SALES_RECEIPT,
    FieldDifference,
    Link,
    RecordKey,
    StoredSyncState,
)
from ledgerbridge.errors import NotFound
from ledgerbridge.store import SqlStore

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def conn_id(store: SqlStore) -> int:
    return store.create_connection(f"records-{uuid.uuid4().hex[:8]}").id


# ---- links ------------------------------------------------------------------------------------
def test_link_round_trip_and_lookup_from_either_side(store: SqlStore, conn_id: int) -> None:
    link = Link(
        connection_id=conn_id,
        object_type=INVOICE,
        hubspot_id="hs-1",
        qbo_id="130",
        base={"total": "105.50", "lines": [{"name": "Widget", "quantity": "2"}], "due": None},
        hubspot_version="2026-03-01T12:00:00.000Z",
        qbo_version="0",
        hubspot_hash="h1",
        qbo_hash="q1",
        extra={"doc_number": "1001", "origin": "hubspot"},
    )
    store.save_link(link)
    assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-1") == link
    assert store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "130") == link
    assert store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "hs-1") is None
    assert store.get_link(conn_id, CUSTOMER, Side.HUBSPOT, "hs-1") is None


def test_save_link_updates_in_place(store: SqlStore, conn_id: int) -> None:
    store.save_link(Link(conn_id, INVOICE, "hs-1", None, base={"v": 1}))
    store.save_link(Link(conn_id, INVOICE, "hs-1", "130", base={"v": 2}, qbo_version="3"))
    got = store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "130")
    assert got is not None
    assert (got.hubspot_id, got.base, got.qbo_version) == ("hs-1", {"v": 2}, "3")
    store.save_link(Link(conn_id, INVOICE, None, "130", base={"v": 3}))  # by the QBO id only
    got = store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "130")
    assert got is not None and got.hubspot_id is None and got.base == {"v": 3}
    assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-1") is None


def test_two_half_links_merge_into_one(store: SqlStore, conn_id: int) -> None:
    store.save_link(Link(conn_id, CUSTOMER, "contact-9", None))
    store.save_link(Link(conn_id, CUSTOMER, None, "58"))
    store.save_link(Link(conn_id, CUSTOMER, "contact-9", "58", extra={"email": "a@b.example"}))
    by_hs = store.get_link(conn_id, CUSTOMER, Side.HUBSPOT, "contact-9")
    by_qbo = store.get_link(conn_id, CUSTOMER, Side.QUICKBOOKS, "58")
    assert by_hs == by_qbo
    assert by_hs is not None and by_hs.extra == {"email": "a@b.example"}


def test_a_payment_and_a_sales_receipt_with_the_same_qbo_id_are_two_links(
    store: SqlStore, conn_id: int
) -> None:
    """QBO numbers each entity on its own: Payment 7 and SalesReceipt 7 can both exist."""
    store.save_link(Link(conn_id, PAYMENT, "hs-pay-1", "7"))
    store.save_link(Link(conn_id, PAYMENT, "hs-pay-2", "7", qbo_kind=SALES_RECEIPT))
    payment = store.get_link(conn_id, PAYMENT, Side.QUICKBOOKS, "7")
    receipt = store.get_link(conn_id, PAYMENT, Side.QUICKBOOKS, "7", SALES_RECEIPT)
    assert payment is not None and payment.hubspot_id == "hs-pay-1" and payment.qbo_kind == ""
    assert receipt is not None and receipt.hubspot_id == "hs-pay-2"
    assert receipt.qbo_kind == SALES_RECEIPT
    by_hs = store.get_link(conn_id, PAYMENT, Side.HUBSPOT, "hs-pay-2")
    assert by_hs is not None and by_hs.qbo_kind == SALES_RECEIPT
    assert set(store.get_links(conn_id, PAYMENT, Side.QUICKBOOKS, ["7"])) == {"7"}
    assert store.get_links(conn_id, PAYMENT, Side.QUICKBOOKS, ["7"])["7"].hubspot_id == "hs-pay-1"
    store.save_links([Link(conn_id, PAYMENT, "hs-pay-3", "8", qbo_kind=SALES_RECEIPT)])
    saved = store.get_link(conn_id, PAYMENT, Side.QUICKBOOKS, "8", SALES_RECEIPT)
    assert saved is not None and saved.hubspot_id == "hs-pay-3"


def test_a_link_needs_an_id(store: SqlStore, conn_id: int) -> None:
    with pytest.raises(ValueError):
        store.save_link(Link(conn_id, INVOICE, None, None))


def test_concurrent_saves_of_a_new_link_make_one_row(db_url: str) -> None:
    stores = [SqlStore(db_url) for _ in range(4)]
    conn_id = stores[0].create_connection(f"links-{uuid.uuid4().hex[:8]}").id
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def save(store: SqlStore, n: int) -> None:
        try:
            start.wait()
            store.save_link(Link(conn_id, INVOICE, "hs-1", "130", extra={"writer": n}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    got = stores[0].get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-1")
    assert got is not None and got.qbo_id == "130"
    for store in stores:
        store.close()


# ---- write intents ----------------------------------------------------------------------------
def test_write_intent_lifecycle(store: SqlStore, conn_id: int) -> None:
    intent = f"{conn_id}:invoice:hs-1:1"
    assert not store.pending_intent(intent)
    assert store.begin_intent(intent, conn_id, INVOICE, Side.QUICKBOOKS, "hs-1") is None
    assert store.pending_intent(intent)
    # A crash here and a replay: beginning again is harmless and still reports pending.
    assert store.begin_intent(intent, conn_id, INVOICE, Side.QUICKBOOKS, "hs-1") is None
    assert store.pending_intent(intent)
    store.complete_intent(intent, "130")
    assert not store.pending_intent(intent)
    assert store.begin_intent(intent, conn_id, INVOICE, Side.QUICKBOOKS, "hs-1") == "130"


def test_completing_an_unknown_intent_is_an_error(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.complete_intent(f"never-begun-{uuid.uuid4().hex}", "1")


# ---- cursors ----------------------------------------------------------------------------------
def test_cursors(store: SqlStore, conn_id: int) -> None:
    assert store.get_cursor(conn_id, "hubspot.invoices") is None
    store.set_cursor(conn_id, "hubspot.invoices", "1709294400000:42")
    store.set_cursor(conn_id, "qbo.cdc", "2026-03-01T12:00:00Z")
    store.set_cursor(conn_id, "hubspot.invoices", "1709294500000:7")
    assert store.get_cursor(conn_id, "hubspot.invoices") == "1709294500000:7"
    assert store.get_cursor(conn_id, "qbo.cdc") == "2026-03-01T12:00:00Z"


# ---- audit ------------------------------------------------------------------------------------
def test_audit_log(store: SqlStore, conn_id: int) -> None:
    store.audit(
        conn_id, INVOICE, "hs-1", "due_date", dt.date(2026, 3, 1), dt.date(2026, 4, 1), "hubspot"
    )
    store.audit(conn_id, INVOICE, "hs-1", "total", Decimal("10.00"), Decimal("12.50"), "quickbooks")
    store.audit(conn_id, INVOICE, "hs-2", "memo", None, {"text": "hi"}, "hubspot")
    entries = store.list_audit(conn_id, record="hs-1")
    assert [(e.field_name, e.old, e.new, e.winner) for e in entries] == [
        ("total", "10.00", "12.50", "quickbooks"),
        ("due_date", "2026-03-01", "2026-04-01", "hubspot"),
    ]
    assert len(store.list_audit(conn_id)) == 3
    assert store.list_audit(conn_id, limit=1, offset=2)[0].record == "hs-1"
    assert store.list_audit(conn_id, record="hs-2")[0].new == {"text": "hi"}


# ---- sync states ------------------------------------------------------------------------------
def state_key(conn_id: int, source_id: str, object_type: str = INVOICE) -> RecordKey:
    return RecordKey(conn_id, object_type, Side.HUBSPOT, source_id)


def test_state_round_trip(store: SqlStore, conn_id: int) -> None:
    state = StoredSyncState(
        key=state_key(conn_id, "hs-1"),
        status=SyncStatus.FAILED,
        category="validation",
        message="Business Validation Error: currency EUR not enabled",
        hint="Turn on multicurrency in QuickBooks, or exclude EUR invoices.",
        attempts=3,
        first_seen_at=T0,
        last_attempt_at=T0 + dt.timedelta(minutes=5),
        next_attempt_at=T0 + dt.timedelta(minutes=10),
        blocked_on=None,
        counterpart_id=None,
        counterpart_number=None,
        label="INV-1001",
        amount=Decimal("1234.50"),
        currency="EUR",
    )
    store.set_state(state)
    assert store.get_state(state.key) == state
    assert store.get_state(state_key(conn_id, "other")) is None


def test_set_state_keeps_first_seen_and_display_fields(store: SqlStore, conn_id: int) -> None:
    key = state_key(conn_id, "hs-1")
    store.set_state(
        StoredSyncState(
            key, SyncStatus.PENDING, label="INV-7", amount=Decimal("10"), currency="USD"
        )
    )
    first = store.get_state(key)
    assert first is not None and first.first_seen_at is not None
    store.set_state(
        StoredSyncState(
            key, SyncStatus.SYNCED, attempts=1, counterpart_id="130", counterpart_number="1001"
        )
    )
    second = store.get_state(key)
    assert second is not None
    assert second.status is SyncStatus.SYNCED
    assert (second.label, second.amount, second.currency) == ("INV-7", Decimal("10"), "USD")
    assert second.first_seen_at == first.first_seen_at
    assert (second.counterpart_id, second.counterpart_number) == ("130", "1001")


def test_list_and_count_states(store: SqlStore, conn_id: int) -> None:
    statuses = [SyncStatus.SYNCED] * 3 + [SyncStatus.FAILED] * 2 + [SyncStatus.EXCLUDED]
    for n, status in enumerate(statuses):
        store.set_state(StoredSyncState(state_key(conn_id, str(n)), status))
    counts = store.count_states(conn_id)
    assert counts == {
        SyncStatus.PENDING: 0,
        SyncStatus.SYNCED: 3,
        SyncStatus.FAILED: 2,
        SyncStatus.EXCLUDED: 1,
        SyncStatus.BLOCKED: 0,
        SyncStatus.DIVERGED: 0,
    }
    failed = store.list_states(conn_id, SyncStatus.FAILED)
    assert {s.key.source_id for s in failed} == {"3", "4"}
    everything = store.list_states(conn_id)
    assert len(everything) == 6
    page1 = store.list_states(conn_id, limit=4)
    page2 = store.list_states(conn_id, limit=4, offset=4)
    assert len(page1) == 4 and len(page2) == 2
    assert {s.key for s in page1} | {s.key for s in page2} == {s.key for s in everything}


def test_blocked_on_finds_the_records_waiting_for_a_dependency(
    store: SqlStore, conn_id: int
) -> None:
    customer = RecordKey(conn_id, CUSTOMER, Side.HUBSPOT, "contact-1")
    for source_id in ("a", "b"):
        store.set_state(
            StoredSyncState(
                state_key(conn_id, source_id), SyncStatus.BLOCKED, blocked_on=customer.as_text()
            )
        )
    store.set_state(
        StoredSyncState(state_key(conn_id, "c"), SyncStatus.SYNCED, blocked_on=customer.as_text())
    )
    assert store.blocked_on(customer) == [state_key(conn_id, "a"), state_key(conn_id, "b")]
    assert store.blocked_on(RecordKey(conn_id, CUSTOMER, Side.HUBSPOT, "contact-2")) == []
    assert RecordKey.from_text(customer.as_text()) == customer


def test_find_states_filters_searches_and_pages(store: SqlStore, conn_id: int) -> None:
    store.set_state(
        StoredSyncState(
            state_key(conn_id, "1"), SyncStatus.FAILED, category="validation", label="INV-1001"
        )
    )
    store.set_state(
        StoredSyncState(
            state_key(conn_id, "2"), SyncStatus.FAILED, category="auth", label="INV-1002"
        )
    )
    store.set_state(
        StoredSyncState(
            state_key(conn_id, "3", CUSTOMER),
            SyncStatus.SYNCED,
            label="Acme Corp",
            counterpart_number="58",
        )
    )
    page = store.find_states(conn_id, status=SyncStatus.FAILED, limit=1)
    assert page.total == 2 and len(page.rows) == 1
    assert store.find_states(conn_id, category="auth").rows[0].state.label == "INV-1002"
    assert store.find_states(conn_id, object_type=CUSTOMER).total == 1
    assert store.find_states(conn_id, search="acme").rows[0].state.key.source_id == "3"
    assert store.find_states(conn_id, search="inv-100").total == 2
    assert store.find_states(conn_id, search="inv%").total == 0  # wildcards are literal
    assert store.list_failures(conn_id).total == 2
    row = page.rows[0]
    assert store.get_state_row(row.id) == row


def test_retry_one_and_retry_all(store: SqlStore, conn_id: int) -> None:
    for n in range(3):
        store.set_state(
            StoredSyncState(
                state_key(conn_id, str(n)),
                SyncStatus.FAILED,
                category="transient",
                message="503",
                attempts=5,
                next_attempt_at=T0 + dt.timedelta(hours=1),
            )
        )
    store.set_state(StoredSyncState(state_key(conn_id, "ok"), SyncStatus.SYNCED))

    assert store.retry(state_key(conn_id, "0"))
    reset = store.get_state(state_key(conn_id, "0"))
    assert reset is not None
    assert (reset.status, reset.attempts, reset.message, reset.next_attempt_at) == (
        SyncStatus.PENDING,
        0,
        None,
        None,
    )
    assert store.count_dirty(conn_id) == 1
    assert not store.retry(state_key(conn_id, "no-such-record"))

    row_id = store.find_states(conn_id, search="1").rows[0].id
    assert store.retry_by_id(row_id) == state_key(conn_id, "1")
    assert store.retry_by_id(10**9) is None

    assert store.retry_all(conn_id) == 1  # only "2" is still failed
    assert store.count_states(conn_id)[SyncStatus.FAILED] == 0
    claimed = store.claim_dirty(conn_id, 10, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert {d.key.source_id for d in claimed} == {"0", "1", "2"}
    assert {d.reason for d in claimed} == {"retry requested"}


def test_a_diverged_state_keeps_its_differences_until_it_is_synced_or_retried(
    store: SqlStore, conn_id: int
) -> None:
    diffs = (
        FieldDifference("due_date", "2026-04-30", "2026-03-31"),
        FieldDifference("amount_paid", "0.00", "12.50", note="refund owned by HubSpot"),
    )
    key = state_key(conn_id, "hs-div")
    store.set_state(StoredSyncState(key, SyncStatus.DIVERGED, message="differ", differences=diffs))
    got = store.get_state(key)
    assert got is not None
    assert got.status is SyncStatus.DIVERGED
    assert got.differences == diffs
    assert store.count_states(conn_id)[SyncStatus.DIVERGED] == 1
    assert [
        row.state.key for row in store.find_states(conn_id, status=SyncStatus.DIVERGED).rows
    ] == [key]
    # A later synced state carries no differences: they are overwritten, not kept.
    store.set_state(StoredSyncState(key, SyncStatus.SYNCED))
    assert store.get_state(key).differences == ()  # type: ignore[union-attr]
    store.set_state(StoredSyncState(key, SyncStatus.DIVERGED, differences=diffs[:1]))
    assert store.retry(key)
    after = store.get_state(key)
    assert after is not None and after.status is SyncStatus.PENDING and after.differences == ()
