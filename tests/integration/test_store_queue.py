"""Dirty-key queue on SQLite and PostgreSQL: upsert marks, leases, releases, concurrent claims."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Iterator

import pytest

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE, RecordKey
from ledgerbridge.store import SqlStore, TokenCipher

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


class TickingClock:
    """Each reading is one millisecond after the previous one: a stable marking order."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self._ticks = itertools.count()
        self._start = start
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._start + dt.timedelta(milliseconds=next(self._ticks))


@pytest.fixture
def queue(db_url: str) -> Iterator[SqlStore]:
    with SqlStore(db_url, TokenCipher.generate(), clock=TickingClock(), lease=LEASE) as store:
        yield store


@pytest.fixture
def conn_id(queue: SqlStore) -> int:
    return queue.create_connection(f"queue-{uuid.uuid4().hex[:8]}").id


def key(conn_id: int, source_id: str, side: Side = Side.HUBSPOT) -> RecordKey:
    return RecordKey(conn_id, INVOICE, side, source_id)


def claimed_ids(queue: SqlStore, conn_id: int, now: dt.datetime, limit: int = 100) -> list[str]:
    return [d.key.source_id for d in queue.claim_dirty(conn_id, limit, now)]


def test_marking_twice_is_one_entry_and_claims_come_oldest_first(
    queue: SqlStore, conn_id: int
) -> None:
    for source_id in ("3", "1", "2", "1"):
        queue.mark_dirty(key(conn_id, source_id), "webhook")
    assert queue.count_dirty(conn_id) == 3
    first = queue.claim_dirty(conn_id, 2, T0 + dt.timedelta(seconds=1))
    assert [d.key for d in first] == [key(conn_id, "3"), key(conn_id, "1")]
    assert first[1].reason == "webhook"
    assert claimed_ids(queue, conn_id, T0 + dt.timedelta(seconds=1)) == ["2"]


def test_keys_are_per_connection_and_side(queue: SqlStore, conn_id: int) -> None:
    other = queue.create_connection(f"queue-other-{uuid.uuid4().hex[:8]}").id
    queue.mark_dirty(key(conn_id, "7", Side.HUBSPOT), "a")
    queue.mark_dirty(key(conn_id, "7", Side.QUICKBOOKS), "b")
    queue.mark_dirty(key(other, "7"), "c")
    claimed = queue.claim_dirty(conn_id, 10, T0 + dt.timedelta(seconds=1))
    assert {d.key.side for d in claimed} == {Side.HUBSPOT, Side.QUICKBOOKS}
    assert all(d.key.connection_id == conn_id for d in claimed)
    assert claimed_ids(queue, other, T0 + dt.timedelta(seconds=1)) == ["7"]


def test_claimed_keys_are_not_handed_out_again_until_released(
    queue: SqlStore, conn_id: int
) -> None:
    queue.mark_dirty(key(conn_id, "1"), "poll")
    now = T0 + dt.timedelta(seconds=1)
    assert claimed_ids(queue, conn_id, now) == ["1"]
    assert claimed_ids(queue, conn_id, now) == []
    queue.release_dirty(key(conn_id, "1"))
    assert queue.count_dirty(conn_id) == 0
    assert claimed_ids(queue, conn_id, now + dt.timedelta(hours=1)) == []


def test_an_expired_lease_makes_the_key_claimable_again(queue: SqlStore, conn_id: int) -> None:
    """A worker that crashed mid-step loses nothing: its keys come back after the lease."""
    queue.mark_dirty(key(conn_id, "1"), "poll")
    now = T0 + dt.timedelta(seconds=1)
    assert claimed_ids(queue, conn_id, now) == ["1"]
    assert claimed_ids(queue, conn_id, now + LEASE - dt.timedelta(seconds=1)) == []
    assert claimed_ids(queue, conn_id, now + LEASE) == ["1"]


def test_release_with_retry_at_schedules_the_key(queue: SqlStore, conn_id: int) -> None:
    queue.mark_dirty(key(conn_id, "1"), "poll")
    now = T0 + dt.timedelta(seconds=1)
    queue.claim_dirty(conn_id, 10, now)
    retry_at = now + dt.timedelta(minutes=2)
    queue.release_dirty(key(conn_id, "1"), retry_at=retry_at)
    assert claimed_ids(queue, conn_id, retry_at - dt.timedelta(seconds=1)) == []
    assert queue.next_due_at(conn_id, now) == retry_at
    again = queue.claim_dirty(conn_id, 10, retry_at)
    assert [d.key.source_id for d in again] == ["1"]
    assert again[0].not_before == retry_at


def test_a_mark_during_a_claim_is_not_lost(queue: SqlStore, conn_id: int) -> None:
    """Marked again while a worker holds it: releasing keeps it, and it runs once more."""
    k = key(conn_id, "1")
    queue.mark_dirty(k, "webhook")
    now = T0 + dt.timedelta(seconds=1)
    assert claimed_ids(queue, conn_id, now) == ["1"]
    queue.mark_dirty(k, "second webhook")
    assert claimed_ids(queue, conn_id, now) == []  # still leased to the first worker
    queue.release_dirty(k)
    again = queue.claim_dirty(conn_id, 10, now)
    assert [(d.key, d.reason) for d in again] == [(k, "second webhook")]
    queue.release_dirty(k)
    assert queue.count_dirty(conn_id) == 0


def test_a_mark_during_a_claim_wins_over_a_retry_backoff(queue: SqlStore, conn_id: int) -> None:
    k = key(conn_id, "1")
    queue.mark_dirty(k, "webhook")
    now = T0 + dt.timedelta(seconds=1)
    queue.claim_dirty(conn_id, 10, now)
    queue.mark_dirty(k, "user edited it")
    queue.release_dirty(k, retry_at=now + dt.timedelta(hours=1))
    assert claimed_ids(queue, conn_id, now) == ["1"]


def test_remarking_takes_the_earlier_due_time(queue: SqlStore, conn_id: int) -> None:
    k = key(conn_id, "1")
    later = T0 + dt.timedelta(hours=1)
    queue.mark_dirty(k, "retry", not_before=later)
    queue.mark_dirty(k, "retry", not_before=later + dt.timedelta(hours=1))
    assert claimed_ids(queue, conn_id, later - dt.timedelta(seconds=1)) == []
    assert queue.next_due_at(conn_id, T0) == later
    queue.mark_dirty(k, "webhook")  # a fresh change: due now
    assert claimed_ids(queue, conn_id, T0 + dt.timedelta(seconds=1)) == ["1"]


def test_next_due_at(queue: SqlStore, conn_id: int) -> None:
    assert queue.next_due_at(conn_id, T0) is None
    queue.mark_dirty(key(conn_id, "1"), "poll", not_before=T0 + dt.timedelta(minutes=3))
    queue.mark_dirty(key(conn_id, "2"), "poll", not_before=T0 + dt.timedelta(minutes=1))
    assert queue.next_due_at(conn_id, T0) == T0 + dt.timedelta(minutes=1)
    queue.mark_dirty(key(conn_id, "3"), "poll")
    assert queue.next_due_at(conn_id, T0) == T0
    # Claimed keys count from the end of their lease.
    claimed = queue.claim_dirty(conn_id, 10, T0)
    assert [d.key.source_id for d in claimed] == ["3"]
    assert queue.next_due_at(conn_id, T0) == T0 + dt.timedelta(minutes=1)


def test_naive_datetimes_are_taken_as_utc(queue: SqlStore, conn_id: int) -> None:
    queue.mark_dirty(key(conn_id, "1"), "poll", not_before=dt.datetime(2026, 3, 1, 13, 0))
    assert claimed_ids(queue, conn_id, dt.datetime(2026, 3, 1, 12, 59, tzinfo=dt.UTC)) == []
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert claimed_ids(queue, conn_id, dt.datetime(2026, 3, 1, 8, 0, tzinfo=eastern)) == ["1"]


def test_two_workers_claiming_at_once_never_get_the_same_key(db_url: str) -> None:
    setup = SqlStore(db_url, clock=TickingClock())
    conn_id = setup.create_connection(f"race-{uuid.uuid4().hex[:8]}").id
    for n in range(300):
        setup.mark_dirty(key(conn_id, str(n)), "backfill")
    setup.close()

    workers = [SqlStore(db_url, lease=LEASE) for _ in range(2)]
    start = threading.Barrier(len(workers))
    # Each worker waits after its first batch until the other has one too, so both surely
    # take part; from then on they race for the rest.
    first_batch = [threading.Event() for _ in workers]
    taken: list[list[str]] = [[] for _ in workers]
    errors: list[BaseException] = []
    now = T0 + dt.timedelta(seconds=5)

    def work(index: int) -> None:
        try:
            start.wait()
            while batch := workers[index].claim_dirty(conn_id, 7, now):
                taken[index].extend(d.key.source_id for d in batch)
                if not first_batch[index].is_set():
                    first_batch[index].set()
                    first_batch[1 - index].wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            first_batch[index].set()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in workers:
        worker.close()
    assert errors == []
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1], key=int) == [str(n) for n in range(300)]
    assert taken[0] and taken[1]  # both really took part


def test_concurrent_marks_of_one_key_keep_one_row(db_url: str) -> None:
    stores = [SqlStore(db_url) for _ in range(4)]
    conn_id = stores[0].create_connection(f"marks-{uuid.uuid4().hex[:8]}").id
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def mark(store: SqlStore) -> None:
        try:
            start.wait()
            for n in range(25):
                store.mark_dirty(key(conn_id, str(n % 5)), "webhook")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mark, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert stores[0].count_dirty(conn_id) == 5
    for store in stores:
        store.close()
