"""Units of work and the set-wise store calls backfills use, on SQLite and PostgreSQL: they mean
exactly what their one-record twins mean."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import INVOICE, FieldDifference, Link, RecordKey, StoredSyncState
from ledgerbridge.errors import NotFound
from ledgerbridge.store import SqlStore


@pytest.fixture
def conn_id(store: SqlStore) -> int:
    return store.create_connection(f"bulk-{uuid.uuid4().hex[:8]}").id


def _key(conn: int, source: str) -> RecordKey:
    return RecordKey(conn, INVOICE, Side.HUBSPOT, source)


def test_unit_of_work_commits_everything_at_once(store: SqlStore, conn_id: int) -> None:
    with store.unit_of_work():
        store.begin_intent("uow-a", conn_id, INVOICE, Side.QUICKBOOKS, "a")
        store.save_link(Link(conn_id, INVOICE, "hs-a", "q-a"))
        # Reads inside the unit see its own writes.
        assert store.pending_intent("uow-a")
        assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-a") is not None
        with store.unit_of_work():  # nested: joins the outer unit
            store.set_state(StoredSyncState(_key(conn_id, "a"), SyncStatus.SYNCED))
    assert store.pending_intent("uow-a")
    assert store.get_state(_key(conn_id, "a")) is not None


def test_unit_of_work_rolls_back_everything_on_error(store: SqlStore, conn_id: int) -> None:
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.begin_intent("uow-b", conn_id, INVOICE, Side.QUICKBOOKS, "b")
        store.save_link(Link(conn_id, INVOICE, "hs-b", "q-b"))
        raise RuntimeError("crash before the commit")
    assert not store.pending_intent("uow-b")
    assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-b") is None


def test_begin_intents_reports_what_was_begun_before(store: SqlStore, conn_id: int) -> None:
    store.begin_intent("bi-done", conn_id, INVOICE, Side.QUICKBOOKS, "1")
    store.complete_intent("bi-done", "501")
    store.begin_intent("bi-pending", conn_id, INVOICE, Side.QUICKBOOKS, "2")
    earlier = store.begin_intents(
        [
            ("bi-done", conn_id, INVOICE, Side.QUICKBOOKS, "1"),
            ("bi-pending", conn_id, INVOICE, Side.QUICKBOOKS, "2"),
            ("bi-new", conn_id, INVOICE, Side.QUICKBOOKS, "3"),
        ]
    )
    assert earlier == {"bi-done": "501", "bi-pending": None}
    assert store.pending_intent("bi-new")  # committed before anything is sent
    # Begun now means begun: a second call sees it as pending, like begin_intent would.
    assert store.begin_intents([("bi-new", conn_id, INVOICE, Side.QUICKBOOKS, "3")]) == {
        "bi-new": None
    }
    store.complete_intents([("bi-new", "502"), ("bi-pending", "503")])
    assert store.begin_intent("bi-new", conn_id, INVOICE, Side.QUICKBOOKS, "3") == "502"
    assert store.begin_intent("bi-pending", conn_id, INVOICE, Side.QUICKBOOKS, "2") == "503"
    with pytest.raises(NotFound):
        store.complete_intents([("bi-never-begun", "1")])


def test_set_states_and_get_states_match_the_one_record_calls(
    store: SqlStore, conn_id: int
) -> None:
    a, b, c = (_key(conn_id, s) for s in ("s-a", "s-b", "s-c"))
    store.set_state(
        StoredSyncState(a, SyncStatus.FAILED, message="boom", label="INV-1", amount=Decimal("9.99"))
    )
    store.set_states(
        [
            # No label / amount: the stored ones are kept, as set_state does.
            StoredSyncState(a, SyncStatus.SYNCED, counterpart_id="77"),
            StoredSyncState(b, SyncStatus.BLOCKED, blocked_on="x", label="INV-2"),
        ]
    )
    states = store.get_states([a, b, c])
    assert set(states) == {a, b}
    assert states[a] == store.get_state(a)
    assert states[a].status is SyncStatus.SYNCED
    assert states[a].message is None
    assert states[a].label == "INV-1"
    assert states[a].amount == Decimal("9.99")
    assert states[a].counterpart_id == "77"
    assert states[b].label == "INV-2"
    # Differences of a diverged record go through the set-wise path too.
    diff = FieldDifference("memo", "new memo", "old memo")
    store.set_states([StoredSyncState(c, SyncStatus.DIVERGED, differences=(diff,))])
    assert store.get_states([c])[c].differences == (diff,)
    assert store.get_states([c])[c] == store.get_state(c)


def test_blocked_on_many(store: SqlStore, conn_id: int) -> None:
    dep1, dep2, dep3 = (_key(conn_id, s) for s in ("dep-1", "dep-2", "dep-3"))
    waiting = RecordKey(conn_id, "payment", Side.QUICKBOOKS, "p-1")
    store.set_state(StoredSyncState(waiting, SyncStatus.BLOCKED, blocked_on=dep1.as_text()))
    done = RecordKey(conn_id, "payment", Side.QUICKBOOKS, "p-2")
    store.set_state(StoredSyncState(done, SyncStatus.SYNCED, blocked_on=dep2.as_text()))
    assert store.blocked_on_many([dep1, dep2, dep3]) == {dep1: [waiting]}
    assert store.blocked_on(dep1) == [waiting]


def test_save_links_inserts_new_links_and_merges_like_save_link(
    store: SqlStore, conn_id: int
) -> None:
    store.save_link(Link(conn_id, INVOICE, "hs-old", None, extra={"origin": "hubspot"}))
    store.save_links(
        [
            Link(conn_id, INVOICE, "hs-n1", "q-n1", base={"total": "1.00"}, extra={"x": 1}),
            Link(conn_id, INVOICE, "hs-n2", "q-n2"),
            Link(conn_id, INVOICE, "hs-old", "q-old", qbo_version="3"),  # an existing row
        ]
    )
    n1 = store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "q-n1")
    assert n1 == Link(conn_id, INVOICE, "hs-n1", "q-n1", base={"total": "1.00"}, extra={"x": 1})
    assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-n2") is not None
    old = store.get_link(conn_id, INVOICE, Side.QUICKBOOKS, "q-old")
    assert old is not None and old.hubspot_id == "hs-old" and old.qbo_version == "3"
    assert store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-old") == old


def test_get_links_finds_linked_ids_of_one_side(store: SqlStore, conn_id: int) -> None:
    store.save_link(Link(conn_id, INVOICE, "hs-g1", "q-g1", extra={"doc_number": "7"}))
    store.save_link(Link(conn_id, INVOICE, "hs-g2", None))
    found = store.get_links(conn_id, INVOICE, Side.HUBSPOT, ["hs-g1", "hs-g2", "hs-none"])
    assert set(found) == {"hs-g1", "hs-g2"}
    assert found["hs-g1"] == store.get_link(conn_id, INVOICE, Side.HUBSPOT, "hs-g1")
    assert set(store.get_links(conn_id, INVOICE, Side.QUICKBOOKS, ["q-g1", "hs-g1"])) == {"q-g1"}
