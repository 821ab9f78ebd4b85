"""Settings from LEDGERBRIDGE_* variables, and opening the installation's store from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerbridge.domain import Side
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore, StoredTokens, TokenCipher
from ledgerbridge.store.crypto import KEY_FILE_NAME


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "DATABASE_URL", "SECRET_KEY", "ADMIN_PASSWORD", "LOG_LEVEL"):
        monkeypatch.delenv(f"LEDGERBRIDGE_{name}", raising=False)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == Path(".ledgerbridge")
    assert settings.database_url == f"sqlite:///{tmp_path}/.ledgerbridge/ledgerbridge.db"
    assert settings.secret_key is None and settings.admin_password is None
    assert settings.log_level == "INFO"
    assert not (tmp_path / ".ledgerbridge").exists()  # constructing settings creates nothing


def test_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = TokenCipher.generate_key()
    monkeypatch.setenv("LEDGERBRIDGE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", "postgresql+psycopg://lb@db/lb")
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", key)
    monkeypatch.setenv("LEDGERBRIDGE_ADMIN_PASSWORD", "hunter2-SECRET")
    monkeypatch.setenv("LEDGERBRIDGE_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url == "postgresql+psycopg://lb@db/lb"
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == key
    assert settings.log_level == "DEBUG"
    assert "SECRET" not in repr(settings) and key not in repr(settings)


def test_from_settings_migrates_and_creates_the_key_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with SqlStore.from_settings(settings) as store:
        conn = store.create_connection("demo")
        store.set_tokens(
            conn.id, Side.QUICKBOOKS, StoredTokens(access_token="a", refresh_token="r")
        )
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert key_file.exists() and (tmp_path / "data" / "ledgerbridge.db").exists()
    # Restart: same database, same key file, tokens readable.
    with SqlStore.from_settings(Settings(data_dir=tmp_path / "data")) as store:
        got = store.get_tokens(conn.id, Side.QUICKBOOKS)
        assert got is not None and got.refresh_token == "r"


def test_from_settings_on_postgresql(db_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, secret_key=TokenCipher.generate_key()
    )
    with SqlStore.from_settings(settings) as store:
        assert store.create_connection("from-settings-" + tmp_path.name).id > 0
    assert not (tmp_path / KEY_FILE_NAME).exists()
