"""The failing-to-sync list links a linked customer's failure to its HubSpot contact."""

from __future__ import annotations

from test_web_pages import Client, client  # noqa: F401  (the console fixture)

from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.ports import CUSTOMER, Link, RecordKey, StoredSyncState


async def test_a_customer_failure_links_to_its_contact(client: Client) -> None:  # noqa: F811
    store = client.runtime.store
    connection = min(client.runtime.connections)
    store.save_link(Link(connection, CUSTOMER, "4242@EUR", "77"))
    store.set_state(
        StoredSyncState(
            key=RecordKey(connection, CUSTOMER, Side.QUICKBOOKS, "77"),
            status=SyncStatus.FAILED,
            category="not_found",
            message="The linked contact no longer exists in HubSpot",
            hint="Nothing was changed on the other side.",
            attempts=1,
            label="Birch & Co (EUR)",
        )
    )
    page = await client.get("/settings/sync/failing")
    assert page.status_code == 200
    assert "The linked contact no longer exists in HubSpot" in page.text
    assert 'href="/contacts/4242"' in page.text
