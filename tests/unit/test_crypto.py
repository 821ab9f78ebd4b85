"""TokenCipher: round trip, wrong key, rotation, key file, reprs."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from ledgerbridge.errors import ConfigError
from ledgerbridge.store.crypto import (
    KEY_FILE_NAME,
    TokenCipher,
    load_cipher,
    read_or_create_key_file,
)

SECRET = "rt-AB11-do-not-leak"


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    cipher = TokenCipher.generate()
    sealed = cipher.encrypt(SECRET)
    assert SECRET not in sealed
    assert sealed != cipher.encrypt(SECRET)  # random IV: equal secrets look different
    assert cipher.decrypt(sealed) == SECRET
    assert cipher.decrypt(cipher.encrypt("ünïcode ✓")) == "ünïcode ✓"


def test_wrong_key_fails_clearly() -> None:
    sealed = TokenCipher.generate().encrypt(SECRET)
    with pytest.raises(ConfigError) as failure:
        TokenCipher.generate().decrypt(sealed)
    assert failure.value.category == "config"
    assert "cannot be decrypted" in failure.value.message
    assert "LEDGERBRIDGE_SECRET_KEY" in failure.value.hint
    with pytest.raises(ConfigError):
        TokenCipher.generate().decrypt("not a fernet token at all")


def test_invalid_or_missing_keys_fail_clearly() -> None:
    with pytest.raises(ConfigError) as failure:
        TokenCipher(["too-short"])
    assert "Fernet" in failure.value.hint
    with pytest.raises(ConfigError):
        TokenCipher([])
    with pytest.raises(ConfigError):
        TokenCipher.from_text(" , ")


def test_key_rotation() -> None:
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    sealed_old = TokenCipher([old]).encrypt(SECRET)
    # LEDGERBRIDGE_SECRET_KEY="new,old": the new key encrypts, both decrypt.
    rotating = TokenCipher.from_text(f"{new}, {old}")
    assert rotating.decrypt(sealed_old) == SECRET
    sealed_new = rotating.encrypt(SECRET)
    assert TokenCipher([new]).decrypt(sealed_new) == SECRET
    with pytest.raises(ConfigError):
        TokenCipher([old]).decrypt(sealed_new)
    rotated = rotating.rotate(sealed_old)
    assert TokenCipher([new]).decrypt(rotated) == SECRET
    with pytest.raises(ConfigError):
        TokenCipher([new]).rotate(TokenCipher.generate().encrypt(SECRET))


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_umask = os.umask(0o022)  # a permissive umask must not widen the file's mode
    try:
        cipher = load_cipher(None, data_dir)
    finally:
        os.umask(old_umask)
    key_file = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = cipher.encrypt(SECRET)
    # The next start reads the same key.
    assert load_cipher(None, data_dir).decrypt(sealed) == SECRET
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]  # no temp files left


def test_configured_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key = TokenCipher.generate_key()
    cipher = load_cipher(key, tmp_path)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    assert TokenCipher([key]).decrypt(cipher.encrypt(SECRET)) == SECRET


def test_concurrent_first_runs_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    keys: list[str] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        keys.append(read_or_create_key_file(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_empty_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("")
    with pytest.raises(ConfigError) as failure:
        load_cipher(None, tmp_path)
    assert "empty" in failure.value.message


def test_repr_shows_no_key() -> None:
    key = TokenCipher.generate_key()
    assert key not in repr(TokenCipher([key]))
    assert "hidden" in repr(TokenCipher([key]))
