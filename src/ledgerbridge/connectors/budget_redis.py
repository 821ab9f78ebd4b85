"""One account's rate budget shared by several workers through Redis.

The same model as `LocalBudget` (sliding windows, a concurrency limit, live lane first, a pause
after a 429), kept in Redis keys under `lb:budget:{account}` and changed only by Lua scripts, so
checking a window and taking a place in it is one atomic step for every worker together. Time is
Redis' own (`TIME`), so workers on hosts whose clocks differ still agree on the windows. An
in-flight lease expires on its own (a worker killed mid-request does not hold a place forever).

A `redis.asyncio` client belongs to the event loop it first ran in (its connections are that
loop's transports). A process may run several loops in turn (a Celery task per loop, tests), so
a budget can be given `LoopClients`: one client per running loop, made on first use there.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from typing import Any

from ledgerbridge.connectors.budget import (
    BudgetStats,
    Kind,
    Lane,
    Limits,
    Ticket,
    current_lane,
)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS[1]: prefix. ARGV: lane, ticket, concurrency, lease, count, then per window
# name, cap (for this lane), span, cost.
_ACQUIRE = (
    _NOW
    + """
local p = KEYS[1]
local lane, tid = ARGV[1], ARGV[2]
local conc, lease, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function refuse(wait)
  if lane == 'live' then
    local hold = wait
    if hold < 0 then hold = 1 end
    redis.call('ZADD', p .. ':livewait', now + hold + 1, tid)
  end
  return tostring(wait)
end
local paused = tonumber(redis.call('GET', p .. ':pause') or '0')
if now < paused then return refuse(paused - now) end
redis.call('ZREMRANGEBYSCORE', p .. ':livewait', '-inf', now)
if lane == 'bulk' and redis.call('ZCARD', p .. ':livewait') > 0 then return '-1' end
redis.call('ZREMRANGEBYSCORE', p .. ':inflight', '-inf', now)
if redis.call('ZCARD', p .. ':inflight') >= conc then return refuse(-1) end
local wait = 0
for i = 0, n - 1 do
  local name, cap = ARGV[6 + i * 4], tonumber(ARGV[7 + i * 4])
  local span, cost = tonumber(ARGV[8 + i * 4]), tonumber(ARGV[9 + i * 4])
  local key = p .. ':w:' .. name
  local sum = key .. ':sum'
  -- The window's total is kept in `sum`, so a long window (HubSpot's daily one holds every
  -- request of the day) costs the expired entries only, not a walk of the whole window.
  if redis.call('EXISTS', sum) == 0 then
    local used0 = 0
    local all = redis.call('ZRANGE', key, 0, -1)
    for j = 1, #all do
      used0 = used0 + tonumber(redis.call('HGET', key .. ':c', all[j]) or '1')
    end
    redis.call('SET', sum, used0)
  end
  local old = redis.call('ZRANGEBYSCORE', key, '-inf', now - span, 'LIMIT', 0, 1000)
  if #old > 0 then
    local freed = 0
    local costs = redis.call('HMGET', key .. ':c', unpack(old))
    for j = 1, #costs do freed = freed + tonumber(costs[j] or '1') end
    redis.call('ZREM', key, unpack(old))
    redis.call('HDEL', key .. ':c', unpack(old))
    redis.call('INCRBYFLOAT', sum, -freed)
  end
  local used = tonumber(redis.call('GET', sum))
  if cap < cost then cap = cost end
  if used + cost > cap then
    -- Over the cap: walk the window, oldest first, to the entry whose expiry frees enough.
    local excess = used + cost - cap
    local live = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for j = 1, #live, 2 do
      excess = excess - tonumber(redis.call('HGET', key .. ':c', live[j]) or '1')
      if excess <= 0 then
        local at = tonumber(live[j + 1]) + span - now
        if at > wait then wait = at end
        break
      end
    end
  end
end
if wait > 0 then return refuse(wait) end
for i = 0, n - 1 do
  local key = p .. ':w:' .. ARGV[6 + i * 4]
  local span = tonumber(ARGV[8 + i * 4])
  redis.call('ZADD', key, now, tid)
  redis.call('HSET', key .. ':c', tid, ARGV[9 + i * 4])
  redis.call('INCRBYFLOAT', key .. ':sum', ARGV[9 + i * 4])
  redis.call('PEXPIRE', key, math.ceil((span + 5) * 1000))
  redis.call('PEXPIRE', key .. ':c', math.ceil((span + 5) * 1000))
  redis.call('PEXPIRE', key .. ':sum', math.ceil((span + 5) * 1000))
end
redis.call('ZADD', p .. ':inflight', now + lease, tid)
redis.call('PEXPIRE', p .. ':inflight', math.ceil((lease + 5) * 1000))
redis.call('ZREM', p .. ':livewait', tid)
return '0'
"""
)

# ARGV: ticket, then window names. The answer has arrived: the API has counted it by now.
_RELEASE = (
    _NOW
    + """
local p = KEYS[1]
for i = 2, #ARGV do
  redis.call('ZADD', p .. ':w:' .. ARGV[i], 'XX', now, ARGV[1])
end
redis.call('ZREM', p .. ':inflight', ARGV[1])
return 1
"""
)

_PAUSE = (
    _NOW
    + """
local p = KEYS[1]
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', p .. ':pause') or '0')
if until_ > current then
  redis.call('SET', p .. ':pause', tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""
)


class LoopClients:
    """One `redis.asyncio` client per event loop for one Redis URL. A loop's client goes with
    the loop (weakly held: a closed, collected loop takes its client's dead connections along)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def current(self) -> Any:
        """The running loop's client."""
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            import redis.asyncio as redis

            client = self._by_loop[loop] = redis.Redis.from_url(self.url)
        return client


class _Scripts:
    """The budget's Lua scripts, registered on one client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire = client.register_script(_ACQUIRE)
        self.release = client.register_script(_RELEASE)
        self.pause = client.register_script(_PAUSE)


class RedisBudget:
    """`Budget` for one account, shared through Redis: a `redis.asyncio.Redis` client (used
    from one event loop only), or `LoopClients` (any loop, each with its own client)."""

    def __init__(
        self,
        redis: Any,
        account: str,
        limits: Limits,
        *,
        lease_seconds: float = 120.0,
        poll_seconds: float = 0.1,
    ) -> None:
        self.redis = redis
        self.limits = limits
        self.stats = BudgetStats()
        self.prefix = f"lb:budget:{{{account}}}"
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._strikes = 0
        self._fixed = None if isinstance(redis, LoopClients) else _Scripts(redis)
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Scripts] = (
            weakref.WeakKeyDictionary()
        )
        # Set when this process releases a place, or a live request of it gets one: a request
        # waiting for a place (the concurrency limit, or a live request ahead of a bulk one)
        # asks again at once, instead of asking Redis every `poll_seconds`. Another process's
        # release is seen at the next ask, at most `poll_seconds` later. One event per loop.
        self._changed: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
            weakref.WeakKeyDictionary()
        )

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        event = self._changed.get(loop)
        if event is None:
            event = self._changed[loop] = asyncio.Event()
        return event

    def _scripts(self) -> _Scripts:
        """The scripts on the client of the running loop."""
        if self._fixed is not None:
            return self._fixed
        loop = asyncio.get_running_loop()
        scripts = self._by_loop.get(loop)
        if scripts is None:
            scripts = self._by_loop[loop] = _Scripts(self.redis.current())
        return scripts

    async def acquire(self, kind: Kind, items: int = 1, lane: Lane | None = None) -> Ticket:
        lane = lane or current_lane()
        token = uuid.uuid4().hex
        args: list[Any] = [lane, token, self.limits.concurrency, self.lease_seconds]
        names: list[str] = []
        windows: list[Any] = []
        for window in self.limits.windows:
            cost = window.cost(kind, items)
            if cost:
                cap = window.limit if lane == "live" else self.limits.bulk_cap(window)
                span = window.seconds * 1.01
                windows += [window.name, cap, span, cost]
                names.append(window.name)
        args += [len(names), *windows]
        loop = asyncio.get_running_loop()
        started = loop.time()
        changed = self._event()
        while True:
            changed.clear()  # before asking: a release while the answer comes back still wakes
            answer = await self._scripts().acquire(keys=[self.prefix], args=args)
            wait = float(answer.decode() if isinstance(answer, bytes) else answer)
            if wait == 0:
                break
            if wait > 0:
                await asyncio.sleep(wait)  # a window full: nothing frees it sooner
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self.poll_seconds)
        if lane == "live":
            changed.set()  # no longer ahead of this process's bulk requests: they ask again
        self.stats.admitted += 1
        self.stats.metered += items
        self.stats.batches += kind == "batch"
        self.stats.waited_seconds += loop.time() - started
        return Ticket(token=f"{token} {' '.join(names)}")

    async def release(self, ticket: Ticket) -> None:
        token, *names = ticket.token.split(" ")
        await self._scripts().release(keys=[self.prefix], args=[token, *names])
        self._event().set()

    async def throttled(self, retry_after: float | None) -> float:
        self.stats.throttled += 1
        self._strikes += 1
        longest = max(w.seconds for w in self.limits.windows if w.name != "daily")
        pause = (
            retry_after
            if retry_after is not None
            else min(self.limits.penalty_seconds * 2 ** (self._strikes - 1), longest)
        )
        await self._scripts().pause(keys=[self.prefix], args=[pause])
        return pause

    async def succeeded(self) -> None:
        self._strikes = 0
