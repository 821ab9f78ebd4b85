"""Which secret verifies a webhook, and which connections a verified webhook may touch.

The well-known sandbox secret and verifier token are public (they are in this repository), so a
webhook they verify may only mark records of connections to the local sandboxes. Webhooks for
real connections need the real secrets from the environment; without them they are refused
(403), and `serve` and the settings page say so, instead of failing open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ledgerbridge.connectors.hubspot import webhooks as hubspot_webhooks
from ledgerbridge.connectors.quickbooks import webhooks as qbo_webhooks
from ledgerbridge.connectors.webhook_event import WebhookEvent
from ledgerbridge.errors import ConfigError, Invalid
from ledgerbridge.store import ConnectionInfo

if TYPE_CHECKING:
    from ledgerbridge.bootstrap import Runtime

HUBSPOT_ENV = "LEDGERBRIDGE_HUBSPOT_CLIENT_SECRET"
QBO_ENV = "LEDGERBRIDGE_QBO_WEBHOOK_VERIFIER_TOKEN"


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def is_sandbox(info: ConnectionInfo) -> bool:
    return bool((info.settings.get("oauth") or {}).get("sandbox"))


def _keys(
    configured: str | None, sandbox_secret: str, infos: Iterable[ConnectionInfo]
) -> list[tuple[str, frozenset[int] | None]]:
    """(secret, connection ids it may mark; None = all), configured secret first."""
    keys: list[tuple[str, frozenset[int] | None]] = []
    if configured:
        keys.append((configured, None))
    sandboxes = frozenset(i.id for i in infos if is_sandbox(i))
    if sandboxes and configured != sandbox_secret:
        keys.append((sandbox_secret, sandboxes))
    return keys


def _infos(runtime: Runtime) -> list[ConnectionInfo]:
    return [c.info for c in runtime.connections.values()]


def _refused(name: str, env: str) -> ConfigError:
    return ConfigError(
        message=f"{name} webhooks are refused: {env} is not set",
        hint=f"Set {env} to the value from the {name} app, then restart `ledgerbridge serve`.",
    )


def hubspot(
    runtime: Runtime, method: str, uri: str, body: bytes, headers: Mapping[str, str]
) -> tuple[list[WebhookEvent], frozenset[int] | None]:
    from ledgerbridge.bootstrap import SANDBOX_CLIENT_SECRET

    settings = runtime.settings
    keys = _keys(_secret(settings.hubspot_client_secret), SANDBOX_CLIENT_SECRET, _infos(runtime))
    if not keys:
        raise _refused("HubSpot", HUBSPOT_ENV)
    guard = None
    if settings.hubspot_webhook_legacy_signatures:
        if runtime.hubspot_legacy_guard is None:
            runtime.hubspot_legacy_guard = _new_guard(settings)
        guard = runtime.hubspot_legacy_guard
    for secret, allowed in keys:
        if hubspot_webhooks.verify(
            secret, method=method, uri=uri, body=body, headers=headers, legacy=guard
        ):
            return hubspot_webhooks.parse_events(body), allowed
    raise Invalid(
        message="HubSpot webhook signature did not verify",
        hint=f"Check {HUBSPOT_ENV} matches the HubSpot app (v3 signatures are required"
        " unless LEDGERBRIDGE_HUBSPOT_WEBHOOK_LEGACY_SIGNATURES is on).",
    )


def _new_guard(settings: Any) -> hubspot_webhooks.LegacyReplayGuard:
    return hubspot_webhooks.LegacyReplayGuard(
        window_ms=int(settings.hubspot_webhook_replay_window_seconds * 1000)
    )


def quickbooks(
    runtime: Runtime, body: bytes, signature: str | None
) -> tuple[list[WebhookEvent], frozenset[int] | None]:
    from ledgerbridge.bootstrap import SANDBOX_VERIFIER_TOKEN

    configured = _secret(runtime.settings.qbo_webhook_verifier_token)
    keys = _keys(configured, SANDBOX_VERIFIER_TOKEN, _infos(runtime))
    if not keys:
        raise _refused("QuickBooks", QBO_ENV)
    for token, allowed in keys:
        if qbo_webhooks.verify(token, body, signature):
            return qbo_webhooks.parse_events(body), allowed
    raise Invalid(
        message="QuickBooks webhook signature did not verify",
        hint=f"Check {QBO_ENV}.",
    )


def warnings(settings: Any, infos: Iterable[ConnectionInfo]) -> list[str]:
    """What start-up and the settings page say about webhooks that will be refused."""
    real = [i for i in infos if not is_sandbox(i)]
    out: list[str] = []
    if real and not _secret(settings.hubspot_client_secret):
        out.append(
            f"HubSpot webhooks for {', '.join(i.name for i in real)} are refused: "
            f"{HUBSPOT_ENV} is not set (changes arrive by polling only)."
        )
    if real and not _secret(settings.qbo_webhook_verifier_token):
        out.append(
            f"QuickBooks webhooks for {', '.join(i.name for i in real)} are refused: "
            f"{QBO_ENV} is not set (changes arrive by polling only)."
        )
    return out


def side_status(settings: Any, info: ConnectionInfo | None) -> dict[str, str]:
    """Per side, how this connection's webhooks are verified (the settings page shows it)."""
    if info is None:
        return {}
    out: dict[str, str] = {}
    for side, value, env in (
        ("hubspot", settings.hubspot_client_secret, HUBSPOT_ENV),
        ("quickbooks", settings.qbo_webhook_verifier_token, QBO_ENV),
    ):
        if _secret(value):
            out[side] = f"Signatures checked with {env}"
        elif is_sandbox(info):
            out[side] = "Signatures checked with the public sandbox secret (sandbox only)"
        else:
            out[side] = f"Refused: {env} is not set; changes arrive by polling only"
    return out
