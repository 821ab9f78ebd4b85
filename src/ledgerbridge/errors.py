"""One exception hierarchy, grouped by how to recover.

Every error carries a *category* (what the user sees in the Failing-to-sync panel), the upstream
message, and a plain-language *fix hint* a finance person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Categories shown to users (issue: auth, validation, duplicate, not_found, conflict,
# rate_limit, transient, config).
AUTH = "auth"
VALIDATION = "validation"
DUPLICATE = "duplicate"
NOT_FOUND = "not_found"
CONFLICT = "conflict"
RATE_LIMIT = "rate_limit"
TRANSIENT = "transient"
CONFIG = "config"
CATEGORIES = (AUTH, VALIDATION, DUPLICATE, NOT_FOUND, CONFLICT, RATE_LIMIT, TRANSIENT, CONFIG)


@dataclass
class SyncError(Exception):
    """Base class. `message` is the upstream/raw reason; `hint` says how to fix it."""

    message: str
    hint: str = ""
    category: str = TRANSIENT
    code: str | None = None  # upstream code, e.g. QBO Fault code "6240" or HubSpot category
    status: int | None = None  # upstream HTTP status, when there was one
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass
class Transient(SyncError):
    """Network error, 5xx, timeout, unknown outcome: retry with backoff."""

    category: str = TRANSIENT


@dataclass
class UnknownOutcome(Transient):
    """A write was sent and no answer came back: it may or may not have happened.

    Before writing again, look the record up by its natural key.
    """


@dataclass
class RateLimited(Transient):
    """429: wait `retry_after` seconds, then retry."""

    category: str = RATE_LIMIT
    retry_after: float | None = None


@dataclass
class Conflict(SyncError):
    """Stale version (QBO 5010, HubSpot 409): re-read and re-merge."""

    category: str = CONFLICT


@dataclass
class Invalid(SyncError):
    """The record itself is wrong for the other side: it fails alone, with a fix hint."""

    category: str = VALIDATION


@dataclass
class Duplicate(Invalid):
    category: str = DUPLICATE


@dataclass
class NotFound(Invalid):
    category: str = NOT_FOUND


@dataclass
class AuthExpired(SyncError):
    """Token expired or revoked: refresh, or ask the user to reconnect."""

    category: str = AUTH


@dataclass
class ConfigError(SyncError):
    """Misconfiguration: stop and tell."""

    category: str = CONFIG
