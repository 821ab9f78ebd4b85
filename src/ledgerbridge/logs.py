"""Structured logs: one JSON object per line, with connection, record and request ids.

`configure_logging("json")` is called by the long-running commands (serve, worker, beat) when
LEDGERBRIDGE_LOG_FORMAT=json (the default in the container image). Secrets never reach a line:
values that look like bearer/OAuth tokens or secrets are masked, whatever logged them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

from ledgerbridge import logctx

# access_token=..., "refresh_token": "...", Authorization: Bearer ..., client_secret=...
_SECRET = re.compile(
    r"(?i)((?:access|refresh|id)_token|client_secret|password|authorization|bearer|secret)"
    r"(\"?\s*[:=]?\s*\"?\s*(?:bearer\s+)?)([A-Za-z0-9._~+/=\-]{6,})"
)


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name, var in (
            ("connection_id", logctx.connection_id),
            ("record", logctx.record),
            ("request_id", logctx.request_id),
        ):
            value = getattr(record, name, None) or var.get()
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request line at INFO (URLs carry no secret, but they drown the rest).
    logging.getLogger("httpx").setLevel(logging.WARNING)
