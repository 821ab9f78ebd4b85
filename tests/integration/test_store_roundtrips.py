"""Database round trips of the sync path, counted (never timed), on SQLite and PostgreSQL.

A worker spends most of its time waiting on the database when every store call is its own
transaction. The step path groups them: one read transaction at the start of a step, one to
begin a create's write intent (committed before the create is sent), one to record the outcome
(link, audit, state, woken records, completed intents, the dirty key's release); a feed page
reads its links in one query and is marked with its cursor in one transaction. These tests keep
it that way: a bound on transactions per synced invoice, with the values compared on both sides.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from engine_world import World, make_world
from sqlalchemy import text

from ledgerbridge.domain import SyncStatus
from ledgerbridge.fleet import seed_invoices
from ledgerbridge.store import db as store_db
from ledgerbridge.store import make_engine
from ledgerbridge.store.roundtrips import count_round_trips

INVOICES = 40
BATCH = 20  # keys per round, as a worker task claims them
# Per invoice: a step's read, its intent, its closing transaction, plus polls and claims shared
# by a round and the first invoices' customers and items (6.2 measured here). It was 23.75 before the
# step path grouped its store calls.
MAX_TRANSACTIONS_PER_INVOICE = 7


def _hubspot_total(world: World, invoice_id: str) -> Decimal:
    record = world.hs.sb.store.get("invoices", invoice_id)
    return sum(
        (
            Decimal(str(line.properties["quantity"])) * Decimal(str(line.properties["price"]))
            for line in world.hs.sb.linked(record, "line_items")
        ),
        Decimal(0),
    )


async def test_a_synced_invoice_costs_a_bounded_number_of_transactions(db_url: str) -> None:
    world = await make_world(db_url, f"roundtrips-{uuid.uuid4().hex[:8]}")
    try:
        invoices = seed_invoices(world.hs.sb, INVOICES, "rt")
        with count_round_trips(world.store.engine) as trips:
            for _ in range(20):
                await world.engine.poll_once()
                claimed = 0
                while (report := await world.engine.run_once(BATCH)).claimed:
                    claimed += report.claimed
                if not claimed:
                    break
        # Synced, and the two books agree on every invoice.
        for invoice_id in invoices:
            hs_id = str(invoice_id)
            assert world.invoice_state(hs_id).status is SyncStatus.SYNCED
            qbo = world.qbo.get("Invoice", world.qbo_id_of(hs_id))
            assert qbo is not None
            expected = _hubspot_total(world, hs_id)
            assert Decimal(str(qbo["TotalAmt"])) == expected
            assert Decimal(world.hs.props("invoices", hs_id)["hs_amount_billed"]) == expected
            assert world.hs.props("invoices", hs_id)["qbo_invoice_id"] == qbo["Id"]
        assert world.qbo.count("Invoice") == INVOICES  # nothing twice
        per_invoice, _ = trips.per(INVOICES)
        assert per_invoice <= MAX_TRANSACTIONS_PER_INVOICE, (per_invoice, trips.kinds)
        # Nothing left queued or leased.
        assert world.store.count_dirty(world.connection_id) == 0
    finally:
        await world.close()


@pytest.mark.postgres
def test_an_idle_pooled_connection_killed_by_the_server_is_replaced(
    pg_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ping per transaction: a pooled connection is pinged only after it sat idle, and a dead
    one is replaced without the caller seeing an error (a database restart, an idle timeout)."""
    monkeypatch.setattr(store_db, "IDLE_PING_SECONDS", 0.0)
    engine = make_engine(pg_db_url)
    admin = make_engine(pg_db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        time.sleep(0.05)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        # A connection in use within the idle time is not pinged: counted, one checkout and
        # one transaction, no extra statement.
        monkeypatch.setattr(store_db, "IDLE_PING_SECONDS", 3600.0)
        with count_round_trips(engine) as trips, engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        assert (trips.checkouts, trips.transactions, trips.statements) == (1, 1, 1)
    finally:
        engine.dispose()
        admin.dispose()
