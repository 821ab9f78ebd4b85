"""Process settings, read from environment variables prefixed ``LEDGERBRIDGE_``.

Constructed explicitly by the composition root (``Settings()``), never at import time, so tests
and several in-process instances can each have their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # Console login for user `admin`; unset or empty: generated and printed on first run.
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
    # HubSpot v1/v2 webhook signatures carry no timestamp; accepted only when this is on, and
    # then a repeat of the same signed request within the window is refused as a replay.
    hubspot_webhook_legacy_signatures: bool = False
    # Largest request body any route reads (webhooks, console forms); larger ones get 413.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    hubspot_webhook_replay_window_seconds: float = Field(default=24 * 3600.0, gt=0)

    # Worker: how often polling feeds run, how many records one pass takes, and how long a
    # claimed record stays reserved for the worker that claimed it.
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=50, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)
    # Reconciliation (docs/operations.md): an incremental run over records changed since the
    # last run every `reconcile_interval_seconds`, a full sweep once a day at
    # `reconcile_full_hour` (UTC). 0 turns the scheduled runs off.
    reconcile_interval_seconds: float = Field(default=3600.0, ge=0)
    reconcile_full_hour: int = Field(default=2, ge=0, le=23)

    # Optional scale-out worker (Celery); empty: the in-process worker runs.
    broker_url: str | None = None
    # How many connections one `ledgerbridge worker` process syncs at once (tasks in flight
    # in its one event loop; docs/architecture.md, "Workers").
    worker_concurrency: int = Field(default=8, gt=0, le=64)

    # Rate budgets: every request to a QBO realm / HubSpot portal is paced to the API's limits
    # before it is sent (docs/architecture.md, "Rate budgets"). /batch calls per minute: 120
    # (Intuit's current limit) or 40 (older guidance); 10 requests/s for sandbox companies.
    rate_budget: bool = True
    qbo_batch_per_minute: int = Field(default=120, gt=0)
    qbo_sandbox_per_second: bool = False
    hubspot_burst_per_10s: int = Field(default=190, gt=0)  # 100 (free/starter) .. 190
    hubspot_daily_limit: int = Field(default=1_000_000, gt=0)
    # Sandboxes run with --time-scale S compress a minute to 60/S seconds; match it here.
    rate_time_scale: float = Field(default=1.0, gt=0)
    # Several workers serving one realm share its budget through Redis (empty: in process).
    budget_redis_url: str | None = None

    @field_validator("admin_password", mode="before")
    @classmethod
    def _empty_password_is_unset(cls, value: object) -> object:
        # `LEDGERBRIDGE_ADMIN_PASSWORD=` (set but empty) would be a password nobody can type.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / DATABASE_FILE).absolute()
            self.database_url = f"sqlite:///{path}"
        return self

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"
