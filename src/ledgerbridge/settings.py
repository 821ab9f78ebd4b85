"""Process settings, read from environment variables prefixed ``LEDGERBRIDGE_``.

Constructed explicitly by the composition root (``Settings()``), never at import time, so tests
and several in-process instances can each have their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_FILE = "ledgerbridge.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_", extra="ignore")

    # Where the SQLite database, the generated secret key file and local artefacts live.
    data_dir: Path = Path(".ledgerbridge")
    # SQLAlchemy URL. Default: SQLite inside data_dir. PostgreSQL:
    # postgresql+psycopg://user:password@host:5432/dbname
    database_url: str = ""
    # Fernet key(s) for OAuth tokens at rest; comma-separated, newest first, for rotation.
    # Unset: a key file is created in data_dir on first run (see docs/operations.md).
    secret_key: SecretStr | None = None
    # Console login for user `admin`; unset: generated and printed on first run.
    admin_password: SecretStr | None = None
    # Signs console session cookies; unset: derived per run (sessions end on restart).
    session_secret: SecretStr | None = None
    # Send the console's session cookie over HTTPS only. Unset: on under `serve` (which is meant
    # to run behind HTTPS), off in `demo` (plain http://127.0.0.1). Set false only for a plain
    # HTTP deployment on a trusted network.
    secure_cookies: bool | None = None
    log_level: str = "INFO"

    host: str = "127.0.0.1"
    port: int = 8000

    # OAuth apps (one per installation; a connection holds only the tokens they issue).
    hubspot_client_id: str | None = None
    hubspot_client_secret: SecretStr | None = None  # also signs HubSpot webhooks (v3)
    qbo_client_id: str | None = None
    qbo_client_secret: SecretStr | None = None
    qbo_webhook_verifier_token: SecretStr | None = None

    # Worker: how often polling feeds run, how many records one pass takes, and how long a
    # claimed record stays reserved for the worker that claimed it.
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=50, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)

    # Optional scale-out worker (Celery); empty: the in-process worker runs.
    broker_url: str | None = None

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / DATABASE_FILE).absolute()
            self.database_url = f"sqlite:///{path}"
        return self

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"
