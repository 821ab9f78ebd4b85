"""The rate budgets of this process's connections, built from settings: one per QBO realm and
one per HubSpot portal, shared by every connector (and so every worker task) that talks to it.
With `budget_redis_url`, a realm's budget lives in Redis and is shared by every worker process.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.connectors.budget import (
    PROCESS_BUDGETS,
    Budget,
    Limits,
    LocalBudget,
    hubspot_limits,
    qbo_limits,
)
from ledgerbridge.settings import Settings


def qbo_budget_limits(settings: Settings) -> Limits:
    return qbo_limits(
        batch_per_minute=settings.qbo_batch_per_minute,
        sandbox_per_second=settings.qbo_sandbox_per_second,
        time_scale=settings.rate_time_scale,
    )


def hubspot_budget_limits(settings: Settings) -> Limits:
    return hubspot_limits(
        burst=settings.hubspot_burst_per_10s,
        daily=settings.hubspot_daily_limit,
        time_scale=settings.rate_time_scale,
    )


_redis_clients: dict[str, Any] = {}


def _budget(settings: Settings, account: str, limits: Limits) -> Budget:
    url = settings.budget_redis_url
    key = f"{account}|{limits!r}|{url or ''}"
    if url:
        from ledgerbridge.connectors.budget_redis import RedisBudget

        def make() -> Budget:
            import redis.asyncio as redis

            client = _redis_clients.get(url) or redis.Redis.from_url(url)
            _redis_clients[url] = client
            return RedisBudget(client, account, limits)

        return PROCESS_BUDGETS.get(key, make)
    return PROCESS_BUDGETS.get(key, lambda: LocalBudget(limits))


def connection_budgets(
    settings: Settings, realm_id: str | None, portal_id: str | None
) -> tuple[Budget | None, Budget | None]:
    """(HubSpot portal budget, QBO realm budget); None when pacing is turned off."""
    if not settings.rate_budget:
        return None, None
    hubspot = _budget(
        settings, f"hubspot:{portal_id or 'default'}", hubspot_budget_limits(settings)
    )
    qbo = _budget(settings, f"qbo:{realm_id or 'default'}", qbo_budget_limits(settings))
    return hubspot, qbo
