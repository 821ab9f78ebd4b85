"""Tables (SQLAlchemy 2.0 typed ORM). Alembic migrations in store/migrations create them; the
test suite checks that models and migrations agree.

Money, where stored, is text holding a Decimal; datetimes are UTC (see UtcDateTime).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names on both databases, so later migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones: values are stored as naive UTC text (which sorts and compares
    correctly); PostgreSQL uses timestamptz. Naive inputs are taken as UTC; outputs are always
    aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _connection_fk() -> Any:
    return ForeignKey("connections.id", ondelete="CASCADE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class ConnectionRow(Base):
    """One HubSpot portal paired with one QBO realm."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    hubspot_portal_id: Mapped[str | None] = mapped_column(String(64))
    hubspot_auth_kind: Mapped[str] = mapped_column(String(20))  # private_app | oauth
    hubspot_base_url: Mapped[str] = mapped_column(String(500))
    qbo_realm_id: Mapped[str | None] = mapped_column(String(64))
    qbo_base_url: Mapped[str] = mapped_column(String(500))
    # Fernet ciphertext of a JSON token set (access, refresh, expiries) per side.
    hubspot_tokens: Mapped[str | None] = mapped_column(Text)
    qbo_tokens: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))  # ok | reconnect_required
    status_message: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # opaque to the store
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    def __repr__(self) -> str:  # never show token ciphertext either
        return f"ConnectionRow(id={self.id!r}, name={self.name!r}, status={self.status!r})"


class RecordLinkRow(Base):
    """A record on HubSpot paired with its counterpart on QBO, plus the last-synced base."""

    __tablename__ = "record_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "hubspot_id"),
        UniqueConstraint("connection_id", "object_type", "qbo_kind", "qbo_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk())
    object_type: Mapped[str] = mapped_column(String(32))
    hubspot_id: Mapped[str | None] = mapped_column(String(200))
    qbo_id: Mapped[str | None] = mapped_column(String(200))
    # The QBO entity qbo_id names when it is not the object type's own ("" = Invoice for an
    # invoice, Payment for a payment...): "SalesReceipt" for a payment recorded as a receipt.
    qbo_kind: Mapped[str] = mapped_column(String(32), default="", server_default="")
    base: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    hubspot_version: Mapped[str | None] = mapped_column(String(64))
    qbo_version: Mapped[str | None] = mapped_column(String(64))
    hubspot_hash: Mapped[str | None] = mapped_column(String(128))
    qbo_hash: Mapped[str | None] = mapped_column(String(128))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SyncStateRow(Base):
    __tablename__ = "sync_states"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "side", "source_id"),
        # The console's lists: by connection and status, most recent first.
        Index("ix_sync_states_connection_status_updated", "connection_id", "status", "updated_at"),
        Index("ix_sync_states_blocked_on", "blocked_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk())
    object_type: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
    blocked_on: Mapped[str | None] = mapped_column(String(400))  # RecordKey.as_text()
    counterpart_id: Mapped[str | None] = mapped_column(String(200))
    counterpart_number: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(300))
    amount: Mapped[str | None] = mapped_column(String(40))  # Decimal as text, never float
    currency: Mapped[str | None] = mapped_column(String(3))
    # Status diverged: JSON list of FieldDifference objects (engine/ports.py); else None.
    differences: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime]


class DirtyKeyRow(Base):
    """The durable work queue: one row per record that needs a sync step.

    `generation` counts marks; `claimed_generation` is the generation a worker took. A mark
    during a claim bumps `generation`, so releasing that claim keeps the row (runs again).
    """

    __tablename__ = "dirty_keys"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "side", "source_id"),
        Index("ix_dirty_keys_connection_marked", "connection_id", "marked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk())
    object_type: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    marked_at: Mapped[dt.datetime]
    not_before: Mapped[dt.datetime | None]
    lease_until: Mapped[dt.datetime | None]
    generation: Mapped[int] = mapped_column(Integer)
    claimed_generation: Mapped[int | None] = mapped_column(Integer)


class WriteIntentRow(Base):
    """Committed before a write is sent; `done` with the result id once it is known."""

    __tablename__ = "write_intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk(), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # pending | done
    result_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]


class CursorRow(Base):
    __tablename__ = "cursors"

    connection_id: Mapped[int] = mapped_column(_connection_fk(), primary_key=True)
    feed: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime]


class AuditRow(Base):
    """A field overwritten by a merge: who won, and the value that lost."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_connection_at", "connection_id", "at"),
        Index("ix_audit_log_record", "connection_id", "object_type", "record"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk())
    object_type: Mapped[str] = mapped_column(String(32))
    record: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(100))
    old: Mapped[str | None] = mapped_column(Text)  # JSON text
    new: Mapped[str | None] = mapped_column(Text)  # JSON text
    winner: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime]


class UserRow(Base):
    """Console users."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime]
    # admin | accountant | viewer (web/roles.py says what each may do).
    role: Mapped[str] = mapped_column(String(16), server_default="admin")

    def __repr__(self) -> str:
        return f"UserRow(id={self.id!r}, username={self.username!r})"


class ReconcileRunRow(Base):
    """One reconciliation run of a connection, with its figures (see engine/reconcile.py)."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (Index("ix_reconcile_runs_connection_started", "connection_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(_connection_fk())
    scope: Mapped[str] = mapped_column(String(16))  # full | incremental
    since: Mapped[dt.datetime | None]
    dry_run: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    checked: Mapped[int] = mapped_column(Integer)
    in_sync: Mapped[int] = mapped_column(Integer)
    repaired: Mapped[int] = mapped_column(Integer)
    diverged: Mapped[int] = mapped_column(Integer)
    orphans: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    api_calls: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class ReconcileFindingRow(Base):
    """A differing field, orphan or duplicate found by a run, with both values."""

    __tablename__ = "reconcile_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("reconcile_runs.id", ondelete="CASCADE"), index=True
    )
    object_type: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    hubspot_id: Mapped[str | None] = mapped_column(String(400))
    qbo_id: Mapped[str | None] = mapped_column(String(400))
    field: Mapped[str] = mapped_column(String(200))
    hubspot_value: Mapped[str | None] = mapped_column(Text)
    qbo_value: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class UserSessionRow(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database cannot be turned into a session. Logout and a password change delete
    rows, which ends those sessions at once."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class UserInviteRow(Base):
    """A one-time invitation link (only the token's SHA-256 is kept)."""

    __tablename__ = "user_invites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(100))


class LoginThrottleRow(Base):
    """Failed logins per key (`account:<name>` or `address:<ip>`) and the lockout they earned."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime]
    blocked_until: Mapped[dt.datetime | None]


class SyncStepRow(Base):
    """Each sync step's outcome for a record, kept for the console's History (the sync state
    holds only the latest)."""

    __tablename__ = "sync_steps"
    __table_args__ = (
        Index("ix_sync_steps_record", "connection_id", "object_type", "source_id"),
        Index("ix_sync_steps_connection_at", "connection_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(Integer)
    object_type: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    counterpart_id: Mapped[str | None] = mapped_column(String(200))
    counterpart_number: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime]


class ConsoleEventRow(Base):
    """Who did what in the console: every action, login, invitation and password change."""

    __tablename__ = "console_events"
    __table_args__ = (
        Index("ix_console_events_at", "at"),
        Index("ix_console_events_record", "object_type", "record"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    username: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    connection_id: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str | None] = mapped_column(String(32))
    record: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(100))
