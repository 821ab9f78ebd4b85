"""Connections (one HubSpot portal paired with one QBO realm), their encrypted tokens, and their
sync settings (opaque JSON owned by the engine: filters, mappings, policies)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from ledgerbridge.domain import Side
from ledgerbridge.errors import ConfigError, NotFound
from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.crypto import TokenCipher
from ledgerbridge.store.models import ConnectionRow
from ledgerbridge.store.records import (
    CONNECTION_OK,
    CONNECTION_STATUSES,
    DEFAULT_HUBSPOT_BASE_URL,
    DEFAULT_QBO_BASE_URL,
    HUBSPOT_AUTH_KINDS,
    ConnectionInfo,
    StoredTokens,
)

log = logging.getLogger(__name__)

_EDITABLE = frozenset(
    {
        "name",
        "hubspot_portal_id",
        "hubspot_auth_kind",
        "hubspot_base_url",
        "qbo_realm_id",
        "qbo_base_url",
    }
)


def _info(row: ConnectionRow) -> ConnectionInfo:
    return ConnectionInfo(
        id=row.id,
        name=row.name,
        hubspot_portal_id=row.hubspot_portal_id,
        hubspot_auth_kind=row.hubspot_auth_kind,
        hubspot_base_url=row.hubspot_base_url,
        qbo_realm_id=row.qbo_realm_id,
        qbo_base_url=row.qbo_base_url,
        status=row.status,
        status_message=row.status_message,
        settings=dict(row.settings or {}),
        has_hubspot_tokens=row.hubspot_tokens is not None,
        has_qbo_tokens=row.qbo_tokens is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_auth_kind(kind: str) -> None:
    if kind not in HUBSPOT_AUTH_KINDS:
        raise ValueError(f"hubspot_auth_kind must be one of {HUBSPOT_AUTH_KINDS}, not {kind!r}")


def _token_column(side: Side) -> str:
    return "hubspot_tokens" if Side(side) is Side.HUBSPOT else "qbo_tokens"


class ConnectionRepository(StoreBase):
    def create_connection(
        self,
        name: str,
        *,
        hubspot_portal_id: str | None = None,
        hubspot_auth_kind: str = "private_app",
        hubspot_base_url: str = DEFAULT_HUBSPOT_BASE_URL,
        qbo_realm_id: str | None = None,
        qbo_base_url: str = DEFAULT_QBO_BASE_URL,
        settings: Mapping[str, Any] | None = None,
    ) -> ConnectionInfo:
        _check_auth_kind(hubspot_auth_kind)
        now = self._now()
        row = ConnectionRow(
            name=name,
            hubspot_portal_id=hubspot_portal_id,
            hubspot_auth_kind=hubspot_auth_kind,
            hubspot_base_url=hubspot_base_url.rstrip("/"),
            qbo_realm_id=qbo_realm_id,
            qbo_base_url=qbo_base_url.rstrip("/"),
            status=CONNECTION_OK,
            settings=dict(settings or {}),
            created_at=now,
            updated_at=now,
        )
        with self._write() as session:
            session.add(row)
            session.flush()
            return _info(row)

    def get_connection(self, connection_id: int) -> ConnectionInfo | None:
        with self._read() as session:
            row = session.get(ConnectionRow, connection_id)
            return _info(row) if row else None

    def get_connection_by_name(self, name: str) -> ConnectionInfo | None:
        with self._read() as session:
            row = session.scalars(
                select(ConnectionRow).where(ConnectionRow.name == name)
            ).one_or_none()
            return _info(row) if row else None

    def list_connections(self) -> list[ConnectionInfo]:
        with self._read() as session:
            return [
                _info(r) for r in session.scalars(select(ConnectionRow).order_by(ConnectionRow.id))
            ]

    def update_connection(self, connection_id: int, **changes: Any) -> ConnectionInfo:
        """Change any of: name, hubspot_portal_id, hubspot_auth_kind, hubspot_base_url,
        qbo_realm_id, qbo_base_url."""
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)} with update_connection")
        if "hubspot_auth_kind" in changes:
            _check_auth_kind(changes["hubspot_auth_kind"])
        with self._write() as session:
            row = self._row(session, connection_id)
            for name, value in changes.items():
                if name.endswith("_base_url"):
                    value = value.rstrip("/")
                setattr(row, name, value)
            row.updated_at = self._now()
            return _info(row)

    def set_connection_status(
        self, connection_id: int, status: str, message: str | None = None
    ) -> None:
        """`reconnect_required` (with a message saying why) when a refresh token is rejected;
        back to `ok` after a reconnect."""
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"status must be one of {CONNECTION_STATUSES}, not {status!r}")
        with self._write() as session:
            row = self._row(session, connection_id)
            row.status = status
            row.status_message = message
            row.updated_at = self._now()

    def delete_connection(self, connection_id: int) -> bool:
        """Deletes the connection and everything recorded for it (links, states, queue...)."""
        with self._write() as session:
            result = cast(
                CursorResult[Any],
                session.execute(delete(ConnectionRow).where(ConnectionRow.id == connection_id)),
            )
            return bool(result.rowcount)

    # ---- settings ----------------------------------------------------------------------------
    def get_settings(self, connection_id: int) -> dict[str, Any]:
        with self._read() as session:
            return dict(self._row(session, connection_id).settings or {})

    def set_settings(self, connection_id: int, settings: Mapping[str, Any]) -> None:
        """Replace the connection's settings (a JSON-able mapping)."""
        value = json.loads(json.dumps(dict(settings)))  # fail here, not at commit, if not JSON
        with self._write() as session:
            row = self._row(session, connection_id)
            row.settings = value
            row.updated_at = self._now()

    # ---- tokens ------------------------------------------------------------------------------
    def get_tokens(self, connection_id: int, side: Side) -> StoredTokens | None:
        with self._read() as session:
            blob = getattr(self._row(session, connection_id), _token_column(side))
        if blob is None:
            return None
        return StoredTokens.from_json(json.loads(self._require_cipher().decrypt(blob)))

    def set_tokens(self, connection_id: int, side: Side, tokens: StoredTokens | None) -> None:
        """Store (encrypted) or clear one side's tokens. Committed before returning, so a
        rotated refresh token is durable before anyone uses the new access token."""
        blob = None
        if tokens is not None:
            blob = self._require_cipher().encrypt(json.dumps(tokens.to_json()))
        with self._write() as session:
            row = self._row(session, connection_id)
            setattr(row, _token_column(side), blob)
            row.updated_at = self._now()

    def rotate_secrets(self) -> tuple[int, list[int]]:
        """Re-encrypt every stored token with the newest secret key (the old key must still be
        configured after it). Returns how many token sets were rewritten, and the connections
        whose tokens no configured key can read (they need a reconnect); those are left as is
        so that a missing old key can still be added and the rotation run again."""
        cipher = self._require_cipher()
        rewritten, unreadable = 0, []
        with self._write() as session:
            for row in session.scalars(select(ConnectionRow).order_by(ConnectionRow.id)):
                for column in ("hubspot_tokens", "qbo_tokens"):
                    blob = getattr(row, column)
                    if blob is None:
                        continue
                    try:
                        setattr(row, column, cipher.rotate(blob))
                        rewritten += 1
                    except ConfigError:
                        if row.id not in unreadable:
                            unreadable.append(row.id)
        if unreadable:
            log.warning("tokens of connections %s cannot be decrypted with any key", unreadable)
        return rewritten, unreadable

    # ---- helpers -----------------------------------------------------------------------------
    def _row(self, session: Session, connection_id: int) -> ConnectionRow:
        row = session.get(ConnectionRow, connection_id)
        if row is None:
            raise NotFound(
                f"connection {connection_id} does not exist",
                hint="List connections with `ledgerbridge status`; it may have been deleted.",
            )
        return row

    def _require_cipher(self) -> TokenCipher:
        if self._cipher is None:
            raise ConfigError(
                "this store was opened without a secret key, so it cannot read or write tokens",
                hint="Open the store with the installation's TokenCipher (see load_cipher).",
            )
        return self._cipher
