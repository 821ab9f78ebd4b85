"""Console users, with salted scrypt password hashes (standard library only)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy import exc as sa_exc

from ledgerbridge.store.base import StoreBase
from ledgerbridge.store.models import UserRow, UserSessionRow
from ledgerbridge.store.records import UserInfo

# scrypt cost: N=2^14, r=8, p=1 (about 16 MiB and tens of ms per check) as recommended for
# interactive logins; stored with each hash so the cost can be raised later.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32

ROLES = ("admin", "accountant", "viewer")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join(("scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so the answer takes as long either way."""
    return hash_password(secrets.token_urlsafe(16))


class UserRepository(StoreBase):
    def create_user(self, username: str, password: str, role: str = "admin") -> UserInfo:
        """Raises ValueError if the username is taken, either value is empty or the role is
        not one of ROLES."""
        username = username.strip()
        if not username or not password:
            raise ValueError("username and password must not be empty")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if self.get_user(username) is not None:
            raise ValueError(f"user {username!r} already exists")
        row = UserRow(
            username=username,
            password_hash=hash_password(password),
            created_at=self._now(),
            role=role,
        )
        try:
            with self._write() as session:
                session.add(row)
                session.flush()
                return _info(row)
        except sa_exc.IntegrityError as exc:  # created concurrently
            raise ValueError(f"user {username!r} already exists") from exc

    def get_user(self, username: str) -> UserInfo | None:
        with self._read() as session:
            row = session.scalars(
                select(UserRow).where(UserRow.username == username.strip())
            ).one_or_none()
            return _info(row) if row else None

    def list_users(self) -> list[UserInfo]:
        with self._read() as session:
            return [_info(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]

    def set_role(self, username: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self._write() as session:
            row = session.scalars(
                select(UserRow).where(UserRow.username == username.strip())
            ).one_or_none()
            if row is None:
                return False
            row.role = role
            return True

    def set_password(self, username: str, password: str) -> bool:
        if not password:
            raise ValueError("password must not be empty")
        new_hash = hash_password(password)
        with self._write() as session:
            row = session.scalars(
                select(UserRow).where(UserRow.username == username.strip())
            ).one_or_none()
            if row is None:
                return False
            row.password_hash = new_hash
            # A changed password ends every session of the user (a stolen cookie included).
            session.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            return True

    def verify_password(self, username: str, password: str) -> bool:
        with self._read() as session:
            stored = session.scalar(
                select(UserRow.password_hash).where(UserRow.username == username.strip())
            )
        if stored is None:
            check_password(password, _dummy_hash())
            return False
        return check_password(password, stored)

    def delete_user(self, username: str) -> bool:
        with self._write() as session:
            user_id = session.scalar(select(UserRow.id).where(UserRow.username == username.strip()))
            if user_id is not None:  # SQLite may run without foreign-key cascades
                session.execute(delete(UserSessionRow).where(UserSessionRow.user_id == user_id))
            result = cast(
                CursorResult[Any],
                session.execute(delete(UserRow).where(UserRow.username == username.strip())),
            )
            return bool(result.rowcount)


def _info(row: UserRow) -> UserInfo:
    return UserInfo(id=row.id, username=row.username, created_at=row.created_at, role=row.role)
