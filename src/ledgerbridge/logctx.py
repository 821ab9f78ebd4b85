"""Context carried into every log line: which connection, which record, which request.

Plain contextvars (no dependencies), so the engine can set them without knowing how logs are
written; `ledgerbridge.logs` reads them when formatting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

connection_id: ContextVar[int | None] = ContextVar("ledgerbridge_connection_id", default=None)
record: ContextVar[str | None] = ContextVar("ledgerbridge_record", default=None)
request_id: ContextVar[str | None] = ContextVar("ledgerbridge_request_id", default=None)


@contextlib.contextmanager
def bound(var: ContextVar[T], value: T) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)
