"""Health of the two connections: what the store knows (status, token expiry) and a live check
(one cheap call to each API), so a revoked token shows here before invoices start failing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ledgerbridge import webhook_intake
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.errors import SyncError
from ledgerbridge.web.context import Console

EXPIRY_WARNING = dt.timedelta(days=14)


@dataclass
class SideHealth:
    side: str  # hubspot | quickbooks
    title: str
    account: str
    base_url: str
    auth: str
    ok: bool
    problem: str | None = None
    hint: str | None = None
    token_expires: dt.datetime | None = None
    refresh_expires: dt.datetime | None = None
    expiry_warning: bool = False
    details: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Health:
    sides: list[SideHealth]
    counts: dict[str, int]
    queued: int
    connection_name: str


async def connection_health(console: Console) -> Health:
    info = console.connection()
    now = console.clock()
    sides: list[SideHealth] = []
    hubspot = SideHealth(
        "hubspot",
        "HubSpot",
        f"Portal {info.hubspot_portal_id}" if info and info.hubspot_portal_id else "HubSpot portal",
        info.hubspot_base_url if info else "",
        "Private app token" if info and info.hubspot_auth_kind == "private_app" else "OAuth",
        ok=True,
    )
    quickbooks = SideHealth(
        "quickbooks",
        "QuickBooks Online",
        f"Company {info.qbo_realm_id}" if info and info.qbo_realm_id else "QuickBooks company",
        info.qbo_base_url if info else "",
        "OAuth 2",
        ok=True,
    )
    for health, side in ((hubspot, Side.HUBSPOT), (quickbooks, Side.QUICKBOOKS)):
        _token_facts(console, health, side, now)
    hooks = webhook_intake.side_status(console.runtime.settings, info)
    for health in (hubspot, quickbooks):
        if health.side in hooks:
            health.details.append(("Webhooks", hooks[health.side]))
    if info is not None and info.needs_reconnect:
        for health in (hubspot, quickbooks):
            health.ok = False
            health.problem = info.status_message or "The connection needs to be reconnected."
    try:
        props = await console.catalog.all("invoices")
        hubspot.details.append(("Invoice properties", str(len(props))))
    except SyncError as exc:
        hubspot.ok, hubspot.problem, hubspot.hint = False, exc.message, exc.hint or None
    try:
        # A live check: what QuickBooks says now (after the user changed a preference there),
        # not what the connector read earlier.
        console.ledger.invalidate_settings()
        home, multi = await console.ledger.company_currency()
        quickbooks.details.append(("Home currency", home))
        quickbooks.details.append(("Multicurrency", "On" if multi else "Off"))
        fields = await console.ledger.custom_field_definitions()
        quickbooks.details.append(("Custom fields", ", ".join(f.name for f in fields) or "None"))
    except SyncError as exc:
        quickbooks.ok, quickbooks.problem, quickbooks.hint = False, exc.message, exc.hint or None
    sides = [hubspot, quickbooks]
    counts = {s.value: n for s, n in console.store.count_states(console.connection_id).items()}
    counts.setdefault(SyncStatus.FAILED.value, 0)
    return Health(
        sides,
        counts,
        console.store.count_dirty(console.connection_id),
        info.name if info else f"Connection {console.connection_id}",
    )


def _token_facts(console: Console, health: SideHealth, side: Side, now: dt.datetime) -> None:
    try:
        tokens = console.store.get_tokens(console.connection_id, side)
    except SyncError:
        return  # no key to read them with: the live check below still says whether calls work
    if tokens is None:
        health.details.append(("Token", "Not stored (set in the configuration)"))
        return
    health.token_expires = tokens.expires_at
    health.refresh_expires = tokens.refresh_expires_at
    if tokens.expires_at is None and tokens.refresh_token is None:
        health.details.append(("Token", "Does not expire"))
    if tokens.refresh_expires_at is not None and tokens.refresh_expires_at - now < EXPIRY_WARNING:
        health.expiry_warning = True
