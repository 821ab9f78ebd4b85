"""The engine's main stories again, with the store on PostgreSQL (CI runs PostgreSQL; these
fail rather than skip there). The test bodies are the SQLite ones, imported: only the `world`
fixture differs, so both backends are held to exactly the same assertions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from engine_world import World, make_world
from test_engine_idempotency import (  # noqa: F401 - collected here, on PostgreSQL
    test_commit_then_timeout_on_every_qbo_write_creates_exactly_one_of_each,
    test_lost_link_after_a_crash_is_recovered_by_natural_key,
    test_replayed_and_duplicated_changes_create_nothing_twice,
)
from test_engine_invoices import (  # noqa: F401
    test_eur_invoice_into_usd_only_company_fails_visibly_and_creates_nothing,
    test_filters_exclude_with_the_rule_and_create_nothing,
    test_finished_hubspot_invoice_reaches_qbo_with_customer_items_discount_and_po,
    test_qbo_origin_invoice_appears_in_hubspot_without_deal,
    test_second_sync_writes_nothing,
)
from test_engine_payments import (  # noqa: F401
    test_hubspot_payment_from_another_processor_is_recorded_in_qbo,
    test_one_qbo_payment_across_two_invoices_is_split,
    test_partial_qbo_payment_shows_on_hubspot_invoice_with_right_balance,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def world(pg_db_url: str) -> AsyncIterator[World]:
    w = await make_world(pg_db_url, f"engine-pg-{uuid.uuid4().hex[:8]}")
    yield w
    await w.close()
