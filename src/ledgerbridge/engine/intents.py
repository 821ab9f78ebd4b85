"""Idempotent creates: write intents, deterministic request ids, natural-key recovery.

The pattern every create follows (`create_once`):
1. the intent key is fixed before anything is sent (connection, object, source id, generation),
   like an idempotency key kept outside the retry loop;
2. `begin_intent` commits it; if that intent already completed, its result is reused;
3. if it was begun before and never completed (a crash or a timeout: unknown outcome), the
   record is first looked up by its natural key;
4. the create is sent with the key as QBO `requestid`;
5. on `UnknownOutcome` the natural-key lookup runs again before anything else is tried.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import StorePort, WriteResult
from ledgerbridge.errors import Transient, UnknownOutcome

QBO_REQUEST_ID_MAX = 36  # 50 for single requests, 36 inside /batch: fit both


def intent_key(connection_id: int, object_type: str, source_id: str) -> str:
    """The deterministic write-intent key of a create (also QBO's `requestid`)."""
    digest = hashlib.sha256(f"{connection_id}|{object_type}|{source_id}|0".encode()).hexdigest()
    key = f"lb{connection_id}-{object_type[:3]}-{digest[:24]}"
    return key[:QBO_REQUEST_ID_MAX]


Lookup = Callable[[], Awaitable[WriteResult | None]]
Create = Callable[[str], Awaitable[WriteResult]]
Reuse = Callable[[str], Awaitable[WriteResult]]


async def create_once(
    store: StorePort,
    *,
    key: str,
    connection_id: int,
    object_type: str,
    target: Side,
    source_id: str,
    lookup: Lookup,
    create: Create,
    reuse: Reuse | None = None,
) -> WriteResult:
    """Create at most once. `lookup` finds the record by natural key; `create(request_id)` sends
    the create; `reuse(result_id)` rebuilds a WriteResult for an intent that already completed."""
    with store.unit_of_work():  # one transaction, committed before anything is sent
        was_pending = store.pending_intent(key)
        done = store.begin_intent(key, connection_id, object_type, target, source_id)
    if done is not None:
        if reuse is not None:
            return await reuse(done)
        return WriteResult(id=done, created=False)
    if was_pending:
        found = await lookup()
        if found is not None:
            _complete(store, key, found.id)
            return _matched(found)
    try:
        result = await create(key)
    except UnknownOutcome as exc:
        found = await lookup()
        if found is not None:
            _complete(store, key, found.id)
            return _matched(found)
        raise Transient(
            f"{exc.message} (the create may or may not have happened; it will be looked up "
            "again before any new attempt)",
            hint=exc.hint,
            code=exc.code,
            status=exc.status,
        ) from exc
    _complete(store, key, result.id)
    return result


class Completions:
    """Intents whose writes are done, to be completed in the step's closing transaction instead
    of one transaction each (see `deferred_completions`)."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []

    def take(self) -> list[tuple[str, str]]:
        taken, self.pending = self.pending, []
        return taken


_completions: ContextVar[Completions | None] = ContextVar("ledgerbridge_completions", default=None)


def _complete(store: StorePort, key: str, result_id: str) -> None:
    collected = _completions.get()
    if collected is None:
        store.complete_intent(key, result_id)
    else:
        collected.pending.append((key, result_id))


@asynccontextmanager
async def deferred_completions(store: StorePort) -> AsyncIterator[Completions]:
    """Inside the block, a create's intent is completed later: the step completes them in the
    transaction that saves its links and state (`take()`); whatever is left when the block exits
    (an error before that transaction) is completed then, in one transaction. Safe either way: an
    intent left pending by a crash only costs a look-up by natural key before any new create,
    and the saved link is what a later step finds first."""
    collected = Completions()
    token = _completions.set(collected)
    try:
        yield collected
    finally:
        _completions.reset(token)
        left = collected.take()
        if left:
            store.complete_intents(left)


def _matched(found: WriteResult) -> WriteResult:
    return WriteResult(found.id, found.version, found.number, created=False, total=found.total)


class KeyedLocks:
    """One asyncio lock per natural key, so two concurrent steps never create the same customer,
    item or invoice twice inside one process (across processes the intents take over)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, *names: str) -> AsyncIterator[bool]:
        """Hold every name's lock; the block gets True when it had to wait for one (another
        step held it, and may have changed what the block read before)."""
        ordered = sorted(set(names))  # a fixed order: no deadlock between two multi-key holders
        for name in ordered:
            self._users[name] = self._users.get(name, 0) + 1
            self._locks.setdefault(name, asyncio.Lock())
        acquired: list[str] = []
        waited = False
        try:
            for name in ordered:
                lock = self._locks[name]
                waited = waited or lock.locked()
                await lock.acquire()
                acquired.append(name)
            yield waited
        finally:
            for name in reversed(acquired):
                self._locks[name].release()
            for name in ordered:
                self._users[name] -= 1
                if self._users[name] == 0:
                    del self._users[name]
                    del self._locks[name]
