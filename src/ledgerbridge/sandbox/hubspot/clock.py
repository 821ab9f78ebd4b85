"""Sandbox time. Token expiry, rate-limit windows and record timestamps all read one clock, so
tests can inject a `FakeClock` and benchmarks can compress time with `time_scale`."""

from __future__ import annotations

import datetime as dt
import functools
import time


class Clock:
    """Wall-clock seconds, running `time_scale` times faster than real time from creation."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.time_scale


class FakeClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        super().__init__()
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


@functools.lru_cache(maxsize=4096)  # writes stamp many values with the same instant
def iso_ms(epoch_ms: int) -> str:
    """HubSpot's timestamp format: ISO 8601, UTC, milliseconds, `Z`."""
    d = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_instant(value: str) -> int | None:
    """Epoch milliseconds from an ISO 8601 string, a date, or an epoch-ms string."""
    value = value.strip()
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        d = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)
