"""Files only the account running ledgerbridge may read.

The data directory holds the database (the console password hash, invoice data, encrypted
tokens), the Fernet key file and the sandboxes' state (live sandbox tokens). Created with the
process umask they were 0644/0755: readable by every local user. Directories are made 0700 and
files 0600 instead, and existing ones are tightened on start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid() or (info.st_mode & 0o777) == mode:
        return  # not ours to change (e.g. a shared mount), or already right
    os.chmod(path, mode)
    log.info("tightened %s to mode %o", path, mode)


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) as a directory only this user can enter."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file created 0600 (never briefly readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    _tighten(path, FILE_MODE)


def private_sqlite(database_url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use the umask); SQLite
    gives its journal and WAL files the database file's mode."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    if not path.parent.exists():
        private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    _tighten(path, FILE_MODE)
    for suffix in ("-wal", "-shm", "-journal"):
        _tighten(Path(f"{path}{suffix}"), FILE_MODE)
