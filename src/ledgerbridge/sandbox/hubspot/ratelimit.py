"""HubSpot's rate limits: a rolling 10-second window per app (token), a daily cap per account,
and the search API's own per-second limit. Off by default; time comes from the sandbox clock."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from .clock import Clock


@dataclass
class RateLimitConfig:
    enabled: bool = False
    per_interval: int = 190  # Professional/Enterprise: 190 requests per 10 s per app
    interval_seconds: float = 10.0
    daily: int = 1_000_000
    search_per_second: int = 5


class RateLimiter:
    def __init__(self, clock: Clock, config: RateLimitConfig | None = None) -> None:
        self.clock = clock
        self.config = config or RateLimitConfig()
        self._lock = threading.Lock()
        self._window: dict[str, deque[float]] = defaultdict(deque)
        self._search: deque[float] = deque()
        self._day = -1
        self._daily_count = 0

    def reset(self) -> None:
        with self._lock:
            self._window.clear()
            self._search.clear()
            self._daily_count = 0

    def check(
        self, app_key: str, *, oauth: bool, search: bool
    ) -> tuple[dict[str, str], str | None]:
        """Count one request. Returns (headers to send, policy name if it must be refused)."""
        cfg = self.config
        if not cfg.enabled:
            return {}, None
        now = self.clock.now()
        with self._lock:
            day = int(now // 86400)
            if day != self._day:
                self._day, self._daily_count = day, 0
            window = self._window[app_key]
            while window and window[0] <= now - cfg.interval_seconds:
                window.popleft()
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            policy = None
            if self._daily_count >= cfg.daily:
                policy = "DAILY"
            elif len(window) >= cfg.per_interval:
                policy = "TEN_SECONDLY_ROLLING"
            elif search and len(self._search) >= cfg.search_per_second:
                policy = "SECONDLY"
            if policy is None:
                window.append(now)
                self._daily_count += 1
                if search:
                    self._search.append(now)
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(cfg.interval_seconds * 1000)),
                "X-HubSpot-RateLimit-Max": str(cfg.per_interval),
                "X-HubSpot-RateLimit-Remaining": str(max(cfg.per_interval - len(window), 0)),
            }
            if not oauth:  # HubSpot omits the daily headers on OAuth-authorized calls
                headers["X-HubSpot-RateLimit-Daily"] = str(cfg.daily)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                    max(cfg.daily - self._daily_count, 0)
                )
            # Retry-After only for the short windows: urllib3 (under the official SDK) sleeps on
            # it, and nobody should sleep until midnight on a DAILY refusal.
            wait = None
            if policy == "TEN_SECONDLY_ROLLING" and window:
                wait = window[0] + cfg.interval_seconds - now
            elif policy == "SECONDLY" and self._search:
                wait = self._search[0] + 1.0 - now
            if wait is not None:
                headers["Retry-After"] = str(max(int(wait + 0.999), 1))
            return headers, policy
