"""An expired access token with a revoked refresh token (the user disconnected the app in
QuickBooks, or the refresh token aged out) becomes a connection-level "reconnect required"
with a reason, records fail with category `auth` and the reconnect hint, and nothing is lost:
after reconnecting, the same invoice syncs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.domain import Side
from ledgerbridge.errors import AuthExpired
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from servers import run_asgi_server


def _assoc(to_id: str, type_id: int) -> list[dict[str, object]]:
    return [
        {
            "to": {"id": to_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


async def test_revoked_refresh_token_asks_to_reconnect_and_loses_nothing(tmp_path: Path) -> None:
    hs, qb = hubspot_app(seed="empty"), quickbooks_app(seed="empty")
    sb = hs.state.sandbox
    with run_asgi_server(hs) as hs_url, run_asgi_server(qb) as qb_url:
        ends = SandboxEndpoints(hs_url, qb_url, "http://127.0.0.1:9")
        runtime = await build_runtime(Settings(data_dir=tmp_path))
        try:
            info = await connect_sandboxes(runtime, ends)
            store = runtime.store
            # The QuickBooks grant is revoked, and the access token we hold has expired.
            tokens = store.get_tokens(info.id, Side.QUICKBOOKS)
            assert tokens is not None and tokens.refresh_token
            revoked = httpx.post(
                f"{qb_url}/v2/oauth2/tokens/revoke",
                json={"token": tokens.refresh_token},
                auth=("sandbox-client-id", "sandbox-client-secret"),
            )
            assert revoked.status_code == 200
            expired = dataclasses.replace(
                tokens,
                access_token="expired-token",
                expires_at=tokens.expires_at.replace(year=2000),
            )
            store.set_tokens(info.id, Side.QUICKBOOKS, expired)
            conn = await runtime.reload_connection(info.id)
            assert conn is not None

            contact = sb.create_object(
                "contacts", {"email": "auth@case.example", "firstname": "Au"}
            )
            product = sb.create_object(
                "products", {"name": "Key", "hs_sku": "KEY-1", "price": "9.00"}
            )
            invoice = sb.create_object("invoices", {"hs_currency": "USD"}, _assoc(contact, 177))
            sb.create_object(
                "line_items",
                {"hs_product_id": product, "quantity": "1", "price": "9.00"},
                _assoc(invoice, 410),
            )
            sb.update_object("invoices", invoice, {"hs_invoice_status": "open"})

            # The QuickBooks change poll fails on auth (the worker logs it and goes on); the
            # HubSpot side's changes are already queued.
            with pytest.raises(AuthExpired):
                await conn.engine.poll_once()
            await conn.engine.run_once(50)

            now = store.get_connection(info.id)
            assert now is not None and now.status == "reconnect_required"
            assert "QuickBooks" in (now.status_message or "") and "Reconnect" in (
                now.status_message or ""
            )
            failing = [r.state for r in store.list_failures(info.id).rows]
            assert [s.category for s in failing if s.key.source_id == invoice] == ["auth"]
            assert not sb.store.get("invoices", invoice).properties.get("qbo_invoice_id")

            # Reconnect: the connection is healthy again and the same invoice syncs.
            await connect_sandboxes(runtime, ends)
            assert store.get_connection(info.id).status == "ok"
            store.retry_all(info.id)
            conn = runtime.connection(info.id)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                await conn.engine.run_once(50)
                if (
                    sb.store.get("invoices", invoice).properties.get("ledgerbridge_sync_status")
                    == "synced"
                ):
                    break
            assert sb.store.get("invoices", invoice).properties.get("qbo_invoice_id")
        finally:
            await runtime.aclose()
