"""The console's HubSpot read model (connectors/hubspot/read_model.py) against the HubSpot
sandbox with its demo data, in process: typed results that say what the raw records say."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.hubspot import auth as hs_auth
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.hubspot.read_model import HubSpotReadModel, InvoiceFilter
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.sandbox.hubspot import create_app

BASE = "http://hubspot.test"


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def portal() -> AsyncIterator[tuple[Any, HubSpotReadModel]]:
    app = create_app(seed="demo")
    async with in_process_client(app, BASE) as http:
        retry = RetryPolicy(sleep=_no_sleep, rng=random.Random(0))
        connector = HubSpotConnector(
            http, hs_auth.private_app("pat-sandbox"), base_url=BASE, retry=retry
        )
        await connector.ensure_sync_properties()
        yield app.state.sandbox, HubSpotReadModel(connector.api)


def _live(sandbox: Any, object_type: str) -> list[Any]:
    return list(sandbox.store.live(object_type))


async def test_invoice_search_filters_by_status_and_types_every_value(
    portal: tuple[Any, HubSpotReadModel],
) -> None:
    sandbox, reads = portal
    open_ids = {
        r.id for r in _live(sandbox, "invoices") if r.properties.get("hs_invoice_status") == "open"
    }
    assert open_ids, "the demo data has open invoices"

    page = await reads.search_invoices(InvoiceFilter(status="open"), limit=100)

    assert page.total == len(open_ids)
    assert {i.id for i in page.invoices} == open_ids
    for invoice in page.invoices:
        raw = sandbox.store.get("invoices", invoice.id).properties
        assert invoice.status == "open"
        assert isinstance(invoice.amount_billed, Decimal)
        assert invoice.amount_billed == Decimal(str(raw.get("hs_amount_billed") or 0))
        assert invoice.balance_due == Decimal(str(raw.get("hs_balance_due") or 0))
        assert invoice.currency == str(raw.get("hs_currency") or "USD").upper()


async def test_invoices_by_id_and_the_text_search(portal: tuple[Any, HubSpotReadModel]) -> None:
    sandbox, reads = portal
    records = _live(sandbox, "invoices")[:3]
    ids = [r.id for r in records]

    found = await reads.invoices([*ids, "999999999"])

    assert set(found) == set(ids)
    for record in records:
        assert found[record.id].number == str(record.properties.get("hs_number") or "")
    number = found[ids[0]].number
    matches, capped = await reads.invoice_text_matches(number, 100)
    assert ids[0] in matches and not capped


async def test_payments_in_a_range_with_their_invoices(
    portal: tuple[Any, HubSpotReadModel],
) -> None:
    sandbox, reads = portal
    wide_from, wide_to = dt.date(2000, 1, 1), dt.date(2100, 1, 1)

    payments, capped = await reads.payments_between(wide_from, wide_to)

    live = [r for r in _live(sandbox, "commerce_payments") if r.properties.get("hs_initiated_date")]
    assert not capped
    assert {p.id for p in payments} == {r.id for r in live}
    assert payments, "the demo data has payments"
    for payment in payments:
        raw = sandbox.store.get("commerce_payments", payment.id).properties
        assert payment.amount == Decimal(str(raw.get("hs_initial_amount") or 0))
    links = await reads.payment_invoice_ids([p.id for p in payments])
    assert any(links.values())


async def test_ledgerbridge_own_properties_are_not_custom(
    portal: tuple[Any, HubSpotReadModel],
) -> None:
    _, reads = portal
    defs = {d.name: d for d in await reads.property_definitions("invoices")}
    assert "ledgerbridge_sync_status" in defs
    assert not defs["ledgerbridge_sync_status"].custom
    assert not defs["hs_number"].custom
