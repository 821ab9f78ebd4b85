"""Encryption of OAuth tokens at rest (Fernet; MultiFernet for key rotation).

The key comes from ``LEDGERBRIDGE_SECRET_KEY`` (comma-separated keys, newest first: the first
encrypts, all of them decrypt) or, when unset, from a key file created on first run in the data
directory with owner-only (0600) permissions. Neither keys nor tokens ever appear in a repr.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ledgerbridge.errors import ConfigError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"

_KEY_HINT = (
    "Set LEDGERBRIDGE_SECRET_KEY to the key that was in use when the tokens were stored "
    "(keep old keys after the new one, comma-separated, while rotating), or reconnect the "
    "connection so new tokens are stored with the current key."
)


class TokenCipher:
    """Encrypts and decrypts secrets. The first key encrypts; every key can decrypt."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ConfigError("no secret key configured", hint=_KEY_HINT)
        fernets = []
        for key in keys:
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)",
                    hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                ) from exc
        self._fernet = MultiFernet(fernets)
        self._key_count = len(fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    @classmethod
    def generate(cls) -> TokenCipher:
        """A cipher with a fresh random key (tests, throwaway stores)."""
        return cls([cls.generate_key()])

    @classmethod
    def from_text(cls, text: str) -> TokenCipher:
        """Keys as in LEDGERBRIDGE_SECRET_KEY: comma-separated, newest first."""
        return cls([part for part in (p.strip() for p in text.split(",")) if part])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ConfigError(
                "stored tokens cannot be decrypted with the configured secret key",
                hint=_KEY_HINT,
            ) from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the newest key (the old key must still be configured)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise ConfigError(
                "stored tokens cannot be decrypted with any configured secret key",
                hint=_KEY_HINT,
            ) from exc

    def __repr__(self) -> str:
        return f"TokenCipher(keys=<{self._key_count} hidden>)"


def load_cipher(secret_key: str | None, data_dir: Path) -> TokenCipher:
    """The cipher for this installation: the configured key(s), else the key file in data_dir
    (created on first run)."""
    if secret_key and secret_key.strip():
        return TokenCipher.from_text(secret_key)
    return TokenCipher.from_text(read_or_create_key_file(data_dir / KEY_FILE_NAME))


def read_or_create_key_file(path: Path) -> str:
    """Read the key file, creating it with mode 0600 if it does not exist.

    The key is written to a private temporary file and then hard-linked into place: linking
    fails if the file exists, so two processes starting at once agree on one key, and nobody
    ever reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                # os.open's mode is filtered by the umask; make it exactly 0600.
                os.fchmod(handle.fileno(), 0o600)
                handle.write(TokenCipher.generate_key() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
            log.info("created secret key file %s (back it up with the database)", path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "secret key file %s is readable by other users (mode %o); run: chmod 600 %s",
            path,
            mode,
            path,
        )
    text = path.read_text(encoding="ascii").strip()
    if not text:
        raise ConfigError(
            f"secret key file {path} is empty",
            hint="Restore the key file from backup. Without it, stored tokens are lost: delete "
            "the file and reconnect every connection (a new key is generated on the next start).",
        )
    return text
