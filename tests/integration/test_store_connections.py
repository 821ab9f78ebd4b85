"""Connections, encrypted tokens, per-connection settings and console users, on both backends."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from ledgerbridge.domain import Side
from ledgerbridge.errors import ConfigError, NotFound
from ledgerbridge.store import SqlStore, StoredTokens, TokenCipher

ACCESS = "eyJhbGciOi-access-SECRET-1"
REFRESH = "AB11-refresh-SECRET-2"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tokens(access: str = ACCESS, refresh: str = REFRESH) -> StoredTokens:
    return StoredTokens(
        access_token=access,
        refresh_token=refresh,
        expires_at=dt.datetime(2026, 3, 1, 13, 0, tzinfo=dt.UTC),
        refresh_expires_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )


def raw_token_columns(store: SqlStore, connection_id: int) -> tuple[str | None, str | None]:
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT hubspot_tokens, qbo_tokens FROM connections WHERE id = :id"),
            {"id": connection_id},
        ).one()
    return row[0], row[1]


def test_connection_crud(store: SqlStore) -> None:
    name = unique("acme")
    created = store.create_connection(
        name,
        hubspot_portal_id="4411",
        hubspot_auth_kind="oauth",
        hubspot_base_url="http://127.0.0.1:8001/",
        qbo_realm_id="9130",
        qbo_base_url="http://127.0.0.1:8002",
        settings={"filters": [{"field": "currency", "op": "eq", "value": "USD"}]},
    )
    assert created.hubspot_base_url == "http://127.0.0.1:8001"
    assert created.status == "ok" and not created.needs_reconnect
    assert not created.has_hubspot_tokens and not created.has_qbo_tokens
    assert store.get_connection(created.id) == created
    assert store.get_connection_by_name(name) == created
    assert created.id in [c.id for c in store.list_connections()]

    updated = store.update_connection(created.id, qbo_realm_id="9131", name=name + "-renamed")
    assert (updated.qbo_realm_id, updated.name) == ("9131", name + "-renamed")
    with pytest.raises(ValueError):
        store.update_connection(created.id, hubspot_tokens="x")
    with pytest.raises(ValueError):
        store.update_connection(created.id, hubspot_auth_kind="password")

    store.set_connection_status(created.id, "reconnect_required", "QuickBooks said invalid_grant")
    again = store.get_connection(created.id)
    assert again is not None and again.needs_reconnect
    assert again.status_message == "QuickBooks said invalid_grant"
    with pytest.raises(ValueError):
        store.set_connection_status(created.id, "broken")

    assert store.delete_connection(created.id)
    assert store.get_connection(created.id) is None
    assert not store.delete_connection(created.id)
    with pytest.raises(NotFound):
        store.get_settings(created.id)


def test_connection_names_are_unique(store: SqlStore) -> None:
    from sqlalchemy.exc import IntegrityError

    name = unique("dup")
    store.create_connection(name)
    with pytest.raises(IntegrityError):
        store.create_connection(name)


def test_settings_per_connection(store: SqlStore) -> None:
    a = store.create_connection(unique("a")).id
    b = store.create_connection(unique("b")).id
    assert store.get_settings(a) == {}
    settings = {"product_not_found": "create", "docnumber": {"strategy": "prefix", "prefix": "HS-"}}
    store.set_settings(a, settings)
    assert store.get_settings(a) == settings
    assert store.get_settings(b) == {}
    with pytest.raises(TypeError):
        store.set_settings(a, {"amount": object()})
    assert store.get_settings(a) == settings


def test_tokens_are_encrypted_at_rest_and_round_trip(store: SqlStore) -> None:
    conn = store.create_connection(unique("tokens"))
    assert store.get_tokens(conn.id, Side.QUICKBOOKS) is None
    store.set_tokens(conn.id, Side.QUICKBOOKS, tokens())
    store.set_tokens(conn.id, Side.HUBSPOT, StoredTokens(access_token="pat-na1-SECRET-3"))

    assert store.get_tokens(conn.id, Side.QUICKBOOKS) == tokens()
    hubspot = store.get_tokens(conn.id, Side.HUBSPOT)
    assert hubspot is not None and hubspot.access_token == "pat-na1-SECRET-3"
    assert hubspot.refresh_token is None

    info = store.get_connection(conn.id)
    assert info is not None and info.has_qbo_tokens and info.has_hubspot_tokens
    hubspot_blob, qbo_blob = raw_token_columns(store, conn.id)
    assert hubspot_blob and qbo_blob
    for secret in ("SECRET", ACCESS, REFRESH):
        assert secret not in hubspot_blob and secret not in qbo_blob

    # A rotated refresh token replaces the old one; clearing removes it.
    store.set_tokens(conn.id, Side.QUICKBOOKS, tokens(refresh="AB11-refresh-NEW"))
    rotated = store.get_tokens(conn.id, Side.QUICKBOOKS)
    assert rotated is not None and rotated.refresh_token == "AB11-refresh-NEW"
    store.set_tokens(conn.id, Side.QUICKBOOKS, None)
    assert store.get_tokens(conn.id, Side.QUICKBOOKS) is None


def test_tokens_never_show_in_reprs(store: SqlStore) -> None:
    conn = store.create_connection(unique("repr"))
    store.set_tokens(conn.id, Side.QUICKBOOKS, tokens())
    stored = store.get_tokens(conn.id, Side.QUICKBOOKS)
    shown = " ".join(repr(x) for x in (stored, store, store.get_connection(conn.id)))
    assert "SECRET" not in shown
    assert "expires_at" in repr(stored)


def test_tokens_with_the_wrong_key_fail_clearly(db_url: str) -> None:
    with SqlStore(db_url, TokenCipher.generate()) as store:
        conn_id = store.create_connection(unique("wrong-key")).id
        store.set_tokens(conn_id, Side.QUICKBOOKS, tokens())
    with SqlStore(db_url, TokenCipher.generate()) as other:
        with pytest.raises(ConfigError) as failure:
            other.get_tokens(conn_id, Side.QUICKBOOKS)
        assert "cannot be decrypted" in failure.value.message
        assert "LEDGERBRIDGE_SECRET_KEY" in failure.value.hint
    with SqlStore(db_url) as keyless, pytest.raises(ConfigError):
        keyless.get_tokens(conn_id, Side.QUICKBOOKS)


def test_rotate_secrets_reencrypts_with_the_new_key(db_url: str) -> None:
    old_key, new_key = TokenCipher.generate_key(), TokenCipher.generate_key()
    with SqlStore(db_url, TokenCipher([old_key])) as store:
        conn_id = store.create_connection(unique("rotate")).id
        store.set_tokens(conn_id, Side.QUICKBOOKS, tokens())
        store.set_tokens(conn_id, Side.HUBSPOT, StoredTokens(access_token="pat-SECRET"))
    with SqlStore(db_url, TokenCipher([new_key, old_key])) as rotating:
        rotated, unreadable = rotating.rotate_secrets()
        # Other tests' connections in this shared database use other keys: reported, untouched.
        assert rotated >= 2 and conn_id not in unreadable
    with SqlStore(db_url, TokenCipher([new_key])) as new_only:
        assert new_only.get_tokens(conn_id, Side.QUICKBOOKS) == tokens()
    with SqlStore(db_url, TokenCipher([old_key])) as old_only, pytest.raises(ConfigError):
        old_only.get_tokens(conn_id, Side.QUICKBOOKS)


def test_users(store: SqlStore) -> None:
    name = unique("admin")
    user = store.create_user(name, "correct horse battery staple")
    assert store.get_user(name) == user
    assert name in [u.username for u in store.list_users()]
    assert store.verify_password(name, "correct horse battery staple")
    assert not store.verify_password(name, "Correct horse battery staple")
    assert not store.verify_password(unique("nobody"), "correct horse battery staple")
    with pytest.raises(ValueError):
        store.create_user(name, "another")
    with pytest.raises(ValueError):
        store.create_user(unique("x"), "")

    assert store.set_password(name, "new password")
    assert store.verify_password(name, "new password")
    assert not store.verify_password(name, "correct horse battery staple")
    assert not store.set_password(unique("nobody"), "x")

    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM users WHERE username = :u"), {"u": name}
        ).scalar_one()
    assert "new password" not in stored and stored.startswith("scrypt$")
    assert "password_hash" not in repr(user)

    assert store.delete_user(name)
    assert store.get_user(name) is None
    assert not store.verify_password(name, "new password")


def test_password_hashes_are_salted() -> None:
    from ledgerbridge.store.users import check_password, hash_password

    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert check_password("same", first) and check_password("same", second)
    assert not check_password("same", "garbage")
    assert not check_password("same", "bcrypt$1$2$3$4$5")
