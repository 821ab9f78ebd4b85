"""The rate budgets of a runtime's connections, built from settings: one per QBO realm and one
per HubSpot portal, shared by every connector (and so every worker task) that talks to it. A
runtime (one per process in production) holds its own registry, so tests stay independent.
With `budget_redis_url`, a realm's budget lives in Redis and is shared by every worker process.
"""

from __future__ import annotations

from ledgerbridge.connectors.budget import (
    PROCESS_BUDGETS,
    Budget,
    Budgets,
    Limits,
    LocalBudget,
    hubspot_limits,
    qbo_limits,
)
from ledgerbridge.connectors.budget_redis import LoopClients
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


# One per Redis URL in the process; each hands every event loop its own client (a Celery task
# runs in a loop, and a process may run several loops in turn).
_redis_clients: dict[str, LoopClients] = {}


def _budget(settings: Settings, account: str, limits: Limits, registry: Budgets) -> Budget:
    url = settings.budget_redis_url
    key = f"{account}|{limits!r}|{url or ''}"
    if url:
        from ledgerbridge.connectors.budget_redis import RedisBudget

        def make() -> Budget:
            clients = _redis_clients.get(url) or LoopClients(url)
            _redis_clients[url] = clients
            return RedisBudget(clients, account, limits)

        return registry.get(key, make)
    return registry.get(key, lambda: LocalBudget(limits))


def connection_budgets(
    settings: Settings,
    realm_id: str | None,
    portal_id: str | None,
    registry: Budgets | None = None,
) -> tuple[Budget | None, Budget | None]:
    """(HubSpot portal budget, QBO realm budget); None when pacing is turned off."""
    if not settings.rate_budget:
        return None, None
    registry = registry if registry is not None else PROCESS_BUDGETS
    hubspot = _budget(
        settings, f"hubspot:{portal_id or 'default'}", hubspot_budget_limits(settings), registry
    )
    qbo = _budget(settings, f"qbo:{realm_id or 'default'}", qbo_budget_limits(settings), registry)
    return hubspot, qbo
