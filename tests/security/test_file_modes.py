"""The data directory, the database and the sandbox state (with live sandbox tokens) are
readable by the running account only, even under a permissive umask, and existing files
created before are tightened on start."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerbridge.bootstrap import build_runtime
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import DATABASE_FILE, Settings
from ledgerbridge.store import SqlStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


async def test_new_data_dir_database_and_key_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    runtime = await build_runtime(Settings(data_dir=data))
    try:
        runtime.store.create_user("admin", "a password long enough")
    finally:
        await runtime.aclose()
    assert _mode(data) == 0o700
    assert _mode(data / DATABASE_FILE) == 0o600
    assert _mode(data / "secret.key") == 0o600
    others = [p for p in data.iterdir() if _mode(p) & 0o077]
    assert others == []


def test_existing_open_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / DATABASE_FILE).touch()
    os.chmod(data / DATABASE_FILE, 0o644)
    SqlStore.from_settings(Settings(data_dir=data)).close()
    assert _mode(data) == 0o700
    assert _mode(data / DATABASE_FILE) == 0o600


def test_qbo_sandbox_state_file_with_tokens_is_private(tmp_path: Path) -> None:
    state_dir = tmp_path / "sandbox" / "quickbooks"
    app = quickbooks_app(seed="demo", state_dir=state_dir)
    sandbox = app.state.sandbox
    sandbox.save()
    path = sandbox.snapshot_path
    assert path is not None and path.exists()
    assert '"oauth"' in path.read_text()  # where issued sandbox tokens are kept
    assert _mode(path) == 0o600
    assert _mode(state_dir) == 0o700
