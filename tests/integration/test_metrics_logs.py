"""/metrics on the web tier, scraped over HTTP: names are there and values move as the sync
works (queue depth and lag, steps, API calls, 429s per realm, token refreshes). JSON logs carry
the connection id and never a token."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ledgerbridge import metrics
from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.domain import Side
from ledgerbridge.fleet import Company, connect_fleet, seed_invoices
from ledgerbridge.ingress import front_app
from ledgerbridge.logs import JsonFormatter, redact
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from servers import run_asgi_server


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels`."""
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == val for k, val in labels.items())
    )


async def _scrape(web: httpx.AsyncClient) -> dict:
    response = await web.get("/metrics", headers={"X-Request-ID": "scrape-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "scrape-1"
    return _samples(response.text)


@pytest.mark.postgres
def test_metrics_scraped_and_moving(pg_db_url: str, tmp_path: Path) -> None:
    hs, qb = hubspot_app(seed="empty"), quickbooks_app(seed="empty")
    realm = qb.state.sandbox.default_realm_id
    with run_asgi_server(hs) as hs_url, run_asgi_server(qb) as qb_url:
        settings = Settings(data_dir=tmp_path / "data", database_url=pg_db_url)

        async def run() -> None:
            runtime = await build_runtime(settings)
            try:
                (cid,) = await connect_fleet(
                    runtime, [Company(hs_url, qb_url)], prefix=uuid.uuid4().hex[:8]
                )
                conn = await runtime.reload_connection(cid)
                assert conn is not None
                label = str(cid)
                web = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=front_app(runtime)), base_url="http://t"
                )
                before = await _scrape(web)
                assert _value(before, "ledgerbridge_queue_depth", connection=label) == 0
                assert _value(before, "ledgerbridge_connection_info", connection=label) == 1

                seed_invoices(hs.state.sandbox, 3, "m")
                await conn.engine.poll_once()
                await asyncio.sleep(0.05)
                queued = await _scrape(web)
                assert _value(queued, "ledgerbridge_queue_depth", connection=label) == 3
                assert _value(queued, "ledgerbridge_sync_lag_seconds", connection=label) > 0

                # Every QBO call answered 429 once in a while: counted per realm.
                httpx.put(
                    f"{qb_url}/_sandbox/faults",
                    json={"rate_limit_rate": 0.3, "retry_after": 0, "seed": 7},
                )
                while (await conn.engine.run_once(10)).claimed:
                    pass
                httpx.put(f"{qb_url}/_sandbox/faults", json={})
                await conn.qbo_tokens.refresh()

                after = await _scrape(web)
                assert _value(after, "ledgerbridge_queue_depth", connection=label) == 0
                assert _value(after, "ledgerbridge_sync_lag_seconds", connection=label) == 0
                steps = "ledgerbridge_sync_steps_total"
                assert (
                    _value(after, steps, connection=label, outcome="synced")
                    - _value(before, steps, connection=label, outcome="synced")
                    == 3
                )
                assert _value(after, "ledgerbridge_records", connection=label, status="synced") >= 3
                calls = "ledgerbridge_api_calls_total"
                assert _value(after, calls, api="QuickBooks", account=realm) > _value(
                    before, calls, api="QuickBooks", account=realm
                )
                limited = "ledgerbridge_api_rate_limited_total"
                assert _value(after, limited, api="QuickBooks", account=realm) > _value(
                    before, limited, api="QuickBooks", account=realm
                )
                assert _value(after, calls, api="QuickBooks", account=realm, status="429") > 0
                refreshes = "ledgerbridge_token_refreshes_total"
                assert (
                    _value(after, refreshes, api="quickbooks", account=realm)
                    - _value(before, refreshes, api="quickbooks", account=realm)
                    == 1
                )
                # A reconciliation: its run counted, and the newest one's time and findings.
                from ledgerbridge.reconciliation import reconcile_connection

                await reconcile_connection(runtime, conn)
                checked = await _scrape(web)
                runs = "ledgerbridge_reconcile_runs_total"
                assert (
                    _value(checked, runs, connection=label, scope="full")
                    - _value(after, runs, connection=label, scope="full")
                    == 1
                )
                last = "ledgerbridge_reconcile_last_run_timestamp_seconds"
                assert _value(after, last, connection=label) == 0  # never reconciled before
                assert _value(checked, last, connection=label, scope="full") > 0
                assert (
                    _value(checked, "ledgerbridge_reconcile_last_diverged", connection=label) == 0
                )

                # The counter the rate budget increments when a request waits for it.
                metrics.budget_waited("QuickBooks", realm, 0.25)
                waited = await _scrape(web)
                waits = "ledgerbridge_budget_wait_seconds_total"
                assert _value(waited, waits, api="QuickBooks", account=realm) - _value(
                    after, waits, api="QuickBooks", account=realm
                ) == pytest.approx(0.25)
                await web.aclose()
            finally:
                await runtime.aclose()

        asyncio.run(run())


@pytest.mark.postgres
def test_json_log_of_a_token_refresh_has_ids_and_no_token(pg_db_url: str, tmp_path: Path) -> None:
    hs, qb = hubspot_app(seed="empty"), quickbooks_app(seed="empty")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        with run_asgi_server(hs) as hs_url, run_asgi_server(qb) as qb_url:

            async def run() -> tuple[int, list[str]]:
                runtime = await build_runtime(
                    Settings(data_dir=tmp_path / "data", database_url=pg_db_url)
                )
                try:
                    (cid,) = await connect_fleet(
                        runtime, [Company(hs_url, qb_url)], prefix=uuid.uuid4().hex[:8]
                    )
                    conn = await runtime.reload_connection(cid)
                    assert conn is not None
                    old = runtime.store.get_tokens(cid, Side.QUICKBOOKS)
                    await conn.qbo_tokens.refresh()
                    new = runtime.store.get_tokens(cid, Side.QUICKBOOKS)
                    assert new.access_token != old.access_token
                    secrets = [old.access_token, new.access_token]
                    secrets += [t for t in (old.refresh_token, new.refresh_token) if t]
                    return cid, secrets
                finally:
                    await runtime.aclose()

            cid, secrets = asyncio.run(run())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    refreshed = [e for e in lines if "token refreshed" in e["msg"]]
    assert refreshed and refreshed[0]["connection_id"] == cid
    assert refreshed[0]["level"] == "info" and refreshed[0]["ts"]
    text = buffer.getvalue()
    for secret in secrets:
        assert secret not in text


def test_redaction_masks_tokens_whatever_logged_them() -> None:
    line = redact(
        'refresh failed: {"access_token": "eyJhbGciOi.abc", "refresh_token": "RT1-secret99"} '
        "Authorization: Bearer qbo-sandbox-token client_secret=sandbox-client-secret"
    )
    for secret in ("eyJhbGciOi.abc", "RT1-secret99", "qbo-sandbox-token", "sandbox-client-secret"):
        assert secret not in line
    assert "refresh failed" in line
