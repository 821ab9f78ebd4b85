"""Helpers for the security tests: a served ledgerbridge front app (webhooks + console) over a real socket, with two
connections: "sandbox" (to the local sandboxes, whose webhook secrets are public) and "real"
(a production connection whose webhook secrets are deliberately not configured)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledgerbridge.bootstrap import Runtime
from ledgerbridge.domain import Side
from ledgerbridge.ingress import front_app
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore, StoredTokens
from servers import run_asgi_server

SANDBOX_REALM = "4620816365"
REAL_REALM = "9130357"
SANDBOX_PORTAL = "62515"
REAL_PORTAL = "777"


@dataclass
class Served:
    url: str
    runtime: Runtime
    sandbox_id: int
    real_id: int

    def dirty(self, connection_id: int) -> list[tuple[str, str, str]]:
        """Every dirty key of a connection as (side, object type, source id), sorted."""
        far = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
        claimed = self.runtime.store.claim_dirty(connection_id, 10_000, far)
        for item in claimed:
            self.runtime.store.release_dirty(item.key)
        return sorted((k.key.side.value, k.key.object_type, k.key.source_id) for k in claimed)


def add_connection(store: SqlStore, name: str, sandbox: bool, realm: str, portal: str) -> int:
    info = store.create_connection(
        name,
        hubspot_portal_id=portal,
        hubspot_auth_kind="private_app",
        qbo_realm_id=realm,
        settings={"oauth": {"sandbox": sandbox, "quickbooks": {"client_id": "cid"}}},
    )
    token = StoredTokens(access_token="pat-or-access", refresh_token="refresh")
    store.set_tokens(info.id, Side.HUBSPOT, token)
    store.set_tokens(info.id, Side.QUICKBOOKS, token)
    return info.id


def make_runtime(
    tmp_path: Path, with_sandbox: bool = True, **settings: object
) -> tuple[Runtime, int, int]:
    base = {"data_dir": tmp_path, "qbo_client_secret": "qbo-app-secret"}
    config = Settings(**{**base, **settings})
    store = SqlStore.from_settings(config)
    sandbox_id = (
        add_connection(store, "sandbox", True, SANDBOX_REALM, SANDBOX_PORTAL)
        if with_sandbox
        else -1
    )
    real_id = add_connection(store, "real", False, REAL_REALM, REAL_PORTAL)
    runtime = Runtime(settings=config, store=store, http=httpx.AsyncClient())
    return runtime, sandbox_id, real_id


def serve(tmp_path: Path, with_sandbox: bool = True, **settings: object) -> Iterator[Served]:
    runtime, sandbox_id, real_id = make_runtime(tmp_path, with_sandbox, **settings)
    asyncio.run(runtime.load_connections())
    assert set(runtime.connections) == ({sandbox_id, real_id} if with_sandbox else {real_id})
    runtime.ready = True
    with run_asgi_server(front_app(runtime)) as url:
        yield Served(url, runtime, sandbox_id, real_id)
    runtime.store.close()
