"""What the store's repositories return besides the StorePort types (console and CLI views)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.engine.ports import StoredSyncState

HUBSPOT_AUTH_KINDS = ("private_app", "oauth")
CONNECTION_OK = "ok"
CONNECTION_RECONNECT = "reconnect_required"
CONNECTION_STATUSES = (CONNECTION_OK, CONNECTION_RECONNECT)

DEFAULT_HUBSPOT_BASE_URL = "https://api.hubapi.com"
DEFAULT_QBO_BASE_URL = "https://quickbooks.api.intuit.com"


@dataclass(frozen=True)
class StoredTokens:
    """One side's OAuth tokens (or a HubSpot private-app token as `access_token`).

    Stored encrypted; the tokens never appear in a repr or a log line.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: dt.datetime | None = None
    refresh_expires_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_expires_at": (
                self.refresh_expires_at.isoformat() if self.refresh_expires_at else None
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredTokens:
        def when(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value else None

        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=when(data.get("expires_at")),
            refresh_expires_at=when(data.get("refresh_expires_at")),
        )


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection without its tokens (read those with get_tokens)."""

    id: int
    name: str
    hubspot_portal_id: str | None
    hubspot_auth_kind: str
    hubspot_base_url: str
    qbo_realm_id: str | None
    qbo_base_url: str
    status: str
    status_message: str | None
    settings: Mapping[str, Any]
    has_hubspot_tokens: bool
    has_qbo_tokens: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def needs_reconnect(self) -> bool:
        return self.status == CONNECTION_RECONNECT


@dataclass(frozen=True)
class StateRow:
    """A sync state as the console lists it: with its row id (for links and retry by id)."""

    id: int
    state: StoredSyncState
    updated_at: dt.datetime


@dataclass(frozen=True)
class StatePage:
    rows: Sequence[StateRow]
    total: int  # matching rows before limit/offset


@dataclass(frozen=True)
class AuditEntry:
    id: int
    connection_id: int
    object_type: str
    record: str
    field_name: str
    old: Any
    new: Any
    winner: str
    at: dt.datetime


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    created_at: dt.datetime
    role: str = "admin"


@dataclass(frozen=True)
class ConsoleEvent:
    """One thing a person did in the console (or tried to: `outcome` says how it went)."""

    id: int
    at: dt.datetime
    username: str | None
    action: str
    connection_id: int | None
    object_type: str | None
    record: str | None
    outcome: str
    detail: str | None
    client: str | None
