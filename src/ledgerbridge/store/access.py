"""Console access: server-side sessions, one-time invitations, login throttling and the log of
what people did in the console.

Tokens (session cookies, invitation links) are random; only their SHA-256 is stored, so a copy
of the database cannot be turned into a login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy import exc as sa_exc

from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import (
    ConsoleEventRow,
    LoginThrottleRow,
    UserInviteRow,
    UserRow,
    UserSessionRow,
)
from ledgerbridge.store.records import ConsoleEvent, UserInfo
from ledgerbridge.store.users import ROLES, hash_password


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failures within `window` count; after `free` of them each further failure blocks the key
    for a doubling delay (1 s, 2 s, 4 s ... up to `max_delay`); at `lockout` failures the key is
    locked for `window`. A success clears the account's count."""

    free: int
    lockout: int
    window: dt.timedelta = dt.timedelta(minutes=15)
    max_delay: dt.timedelta = dt.timedelta(minutes=2)

    def block_after(self, failures: int) -> dt.timedelta | None:
        if failures >= self.lockout:
            return self.window
        if failures < self.free:
            return None
        return min(dt.timedelta(seconds=2 ** (failures - self.free)), self.max_delay)


class AccessRepository(StoreBase):
    # ---- sessions ------------------------------------------------------------------------------
    def create_session(self, username: str, ttl: dt.timedelta) -> str:
        """A new session for the user; returns the token for the cookie. ValueError if the
        user does not exist."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._write() as session:
            user_id = session.scalar(select(UserRow.id).where(UserRow.username == username))
            if user_id is None:
                raise ValueError(f"no user {username!r}")
            session.add(
                UserSessionRow(
                    id=token_id(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    def session_user(self, token: str) -> UserInfo | None:
        """The user a live session belongs to; None if it ended, expired or never existed."""
        with self._read() as session:
            row = session.execute(
                select(UserRow, UserSessionRow.expires_at)
                .join(UserSessionRow, UserSessionRow.user_id == UserRow.id)
                .where(UserSessionRow.id == token_id(token))
            ).one_or_none()
        if row is None or row[1] <= self._now():
            return None
        user = row[0]
        return UserInfo(
            id=user.id, username=user.username, created_at=user.created_at, role=user.role
        )

    def end_session(self, token: str) -> None:
        with self._write() as session:
            session.execute(delete(UserSessionRow).where(UserSessionRow.id == token_id(token)))

    def count_sessions(self, username: str) -> int:
        with self._read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(UserSessionRow)
                    .join(UserRow, UserRow.id == UserSessionRow.user_id)
                    .where(UserRow.username == username, UserSessionRow.expires_at > self._now())
                )
                or 0
            )

    # ---- invitations ---------------------------------------------------------------------------
    def create_invite(self, role: str, created_by: str, ttl: dt.timedelta) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        token = secrets.token_urlsafe(24)
        now = self._now()
        with self._write() as session:
            session.add(
                UserInviteRow(
                    id=token_id(token),
                    role=role,
                    created_by=created_by,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    def invite_role(self, token: str) -> str | None:
        """The role an unused, unexpired invitation grants; None otherwise."""
        with self._read() as session:
            row = session.get(UserInviteRow, token_id(token))
        if row is None or row.used_at is not None or row.expires_at <= self._now():
            return None
        return row.role

    def accept_invite(self, token: str, username: str, password: str) -> UserInfo:
        """Create the invited user and use up the invitation, in one transaction. ValueError if
        the invitation is not valid (any more) or the name is taken."""
        username = username.strip()
        if not username or not password:
            raise ValueError("Choose a user name and a password.")
        now = self._now()
        try:
            with self._write() as session:
                row = session.get(UserInviteRow, token_id(token))
                if row is None or row.expires_at <= now:
                    raise ValueError("This invitation link is not valid (or has expired).")
                used = cast(
                    CursorResult[Any],
                    session.execute(
                        update(UserInviteRow)
                        .where(UserInviteRow.id == row.id, UserInviteRow.used_at.is_(None))
                        .values(used_at=now, used_by=username)
                    ),
                )
                if used.rowcount != 1:
                    raise ValueError("This invitation link has already been used.")
                if session.scalar(select(UserRow.id).where(UserRow.username == username)):
                    raise ValueError(f"The user name {username!r} is taken; choose another.")
                user = UserRow(
                    username=username,
                    password_hash=hash_password(password),
                    created_at=now,
                    role=row.role,
                )
                session.add(user)
                session.flush()
                return UserInfo(id=user.id, username=user.username, created_at=now, role=user.role)
        except sa_exc.IntegrityError as exc:
            raise ValueError(f"The user name {username!r} is taken; choose another.") from exc

    # ---- login throttling ----------------------------------------------------------------------
    def login_wait(self, keys: Sequence[str]) -> dt.timedelta | None:
        """How long the most blocked of the keys stays blocked; None if none is."""
        now = self._now()
        with self._read() as session:
            until = session.scalar(
                select(func.max(LoginThrottleRow.blocked_until)).where(
                    LoginThrottleRow.key.in_(list(keys))
                )
            )
        return until - now if until is not None and until > now else None

    def record_login_failure(self, key: str, policy: ThrottlePolicy) -> int:
        """Count a failure for the key; returns the failures in the current window."""
        now = self._now()
        with self._write() as session:
            row = session.get(LoginThrottleRow, key)
            if row is None:
                row = LoginThrottleRow(key=key, failures=0, last_failure_at=now)
                session.add(row)
            elif now - row.last_failure_at > policy.window:
                row.failures = 0  # an old streak is forgotten
            row.failures += 1
            row.last_failure_at = now
            delay = policy.block_after(row.failures)
            row.blocked_until = now + delay if delay is not None else None
            return row.failures

    def clear_login_failures(self, key: str) -> None:
        with self._write() as session:
            session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))

    # ---- console events ------------------------------------------------------------------------
    def record_event(
        self,
        action: str,
        *,
        username: str | None,
        outcome: str = "done",
        connection_id: int | None = None,
        object_type: str | None = None,
        record: str | None = None,
        detail: Any = None,
        client: str | None = None,
    ) -> None:
        with self._write() as session:
            session.add(
                ConsoleEventRow(
                    at=self._now(),
                    username=username,
                    action=action,
                    connection_id=connection_id,
                    object_type=object_type,
                    record=record,
                    outcome=outcome,
                    detail=None if detail is None else json.dumps(detail, default=str),
                    client=client,
                )
            )

    def list_events(
        self,
        *,
        username: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        record: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[ConsoleEvent]:
        query = select(ConsoleEventRow)
        if username:
            query = query.where(ConsoleEventRow.username == username)
        if action:
            query = query.where(ConsoleEventRow.action == action)
        if object_type:
            query = query.where(ConsoleEventRow.object_type == object_type)
        if record:
            query = query.where(ConsoleEventRow.record == record)
        if since:
            query = query.where(ConsoleEventRow.at >= since)
        query = query.order_by(ConsoleEventRow.at.desc(), ConsoleEventRow.id.desc())
        with self._read() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
        return [
            ConsoleEvent(
                id=r.id,
                at=r.at,
                username=r.username,
                action=r.action,
                connection_id=r.connection_id,
                object_type=r.object_type,
                record=r.record,
                outcome=r.outcome,
                detail=r.detail,
                client=r.client,
            )
            for r in rows
        ]
