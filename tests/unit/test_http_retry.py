"""The shared retry policy and ApiTransport: backoff with a fake clock, Retry-After, what is
never retried, unknown outcomes on writes, fixed idempotency keys, 401 refresh, concurrency."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import httpx
import pytest

from ledgerbridge.connectors.http import ApiTransport, Pacer, RetryPolicy, dumps, loads
from ledgerbridge.connectors.quickbooks.errors import map_response as qbo_map
from ledgerbridge.errors import (
    AuthExpired,
    Conflict,
    Invalid,
    RateLimited,
    Transient,
    UnknownOutcome,
)


class FakeTime:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(t: FakeTime, **kw) -> RetryPolicy:
    return RetryPolicy(sleep=t.sleep, clock=t.clock, rng=random.Random(1), **kw)


class Tokens:
    def __init__(self) -> None:
        self.token = "t1"
        self.refreshes = 0

    async def get(self) -> str:
        return self.token

    async def refresh(self, stale: str | None = None) -> str:
        self.refreshes += 1
        self.token = f"t{self.refreshes + 1}"
        return self.token


def transport_for(handler, t: FakeTime, **kw) -> tuple[ApiTransport, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    api = ApiTransport(
        client,
        "https://api.example",
        kw.pop("tokens", Tokens()),
        qbo_map,
        api_name="QuickBooks",
        retry=policy(t, **kw.pop("policy", {})),
        **kw,
    )
    return api, client


def fault(code: str, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "Fault": {
                "Error": [{"Message": "m", "Detail": "d", "code": code}],
                "type": "ValidationFault",
            }
        },
    )


# --------------------------------------------------------------------------------------------
# RetryPolicy
# --------------------------------------------------------------------------------------------
async def test_backoff_grows_and_is_capped_without_real_sleep():
    t = FakeTime()
    p = policy(t, max_attempts=6, base_delay=1, max_delay=5, jitter=0, max_total_wait=100)
    calls = []

    async def attempt(n: int) -> str:
        calls.append(n)
        if n < 6:
            raise Transient(message="boom")
        return "ok"

    assert await p.run(attempt) == "ok"
    assert calls == [1, 2, 3, 4, 5, 6]
    assert t.sleeps == [1, 2, 4, 5, 5]


async def test_jitter_stays_within_bounds():
    p = RetryPolicy(base_delay=1, max_delay=10, jitter=0.25, rng=random.Random(7))
    for attempt in range(1, 6):
        base = p.backoff(attempt)
        delay = p.delay_for(Transient(message="x"), attempt)
        assert base <= delay <= base * 1.25


async def test_retry_after_is_honoured_exactly():
    t = FakeTime()
    p = policy(t, jitter=0.5)
    seen = []

    async def attempt(n: int) -> str:
        seen.append(n)
        if n == 1:
            raise RateLimited(message="slow down", retry_after=7)
        return "ok"

    assert await p.run(attempt) == "ok"
    assert t.sleeps == [7]


async def test_wait_beyond_budget_gives_up_with_rate_limited():
    t = FakeTime()
    p = policy(t, max_total_wait=30)

    async def attempt(n: int) -> str:
        raise RateLimited(message="daily limit", retry_after=3600)

    with pytest.raises(RateLimited):
        await p.run(attempt)
    assert t.sleeps == []


@pytest.mark.parametrize(
    "error", [Invalid(message="bad"), Conflict(message="stale"), AuthExpired(message="401")]
)
async def test_final_errors_are_never_retried(error):
    t = FakeTime()
    p = policy(t)
    calls = []

    async def attempt(n: int) -> str:
        calls.append(n)
        raise error

    with pytest.raises(type(error)):
        await p.run(attempt)
    assert calls == [1]
    assert t.sleeps == []


async def test_unknown_outcome_not_retried_unless_allowed():
    t = FakeTime()
    p = policy(t)
    calls = []

    async def attempt(n: int) -> str:
        calls.append(n)
        raise UnknownOutcome(message="lost")

    with pytest.raises(UnknownOutcome):
        await p.run(attempt, retry_unknown=False)
    assert calls == [1]


async def test_unknown_outcome_then_transient_failures_stay_unknown():
    t = FakeTime()
    p = policy(t, max_attempts=3)

    async def attempt(n: int) -> str:
        if n == 1:
            raise UnknownOutcome(message="lost answer")
        raise Transient(message="503")

    with pytest.raises(UnknownOutcome) as info:
        await p.run(attempt, retry_unknown=True)
    assert "lost answer" in info.value.message


async def test_before_retry_can_end_the_loop():
    t = FakeTime()
    p = policy(t)
    calls = []

    async def attempt(n: int) -> str:
        calls.append(n)
        raise UnknownOutcome(message="lost")

    async def lookup(error):
        return "found-by-natural-key"

    assert await p.run(attempt, before_retry=lookup) == "found-by-natural-key"
    assert calls == [1]


async def test_pacer_spaces_calls_on_fake_clock():
    t = FakeTime()
    pacer = Pacer(5, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        await pacer.wait()
    assert t.sleeps == pytest.approx([0.2, 0.2, 0.2])


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------
def test_json_roundtrip_keeps_decimal_exact():
    raw = b'{"Amount": 0.1, "Qty": 3, "UnitPrice": 1234567890123.45}'
    data = loads(raw)
    assert data["Amount"] == Decimal("0.1") and isinstance(data["Amount"], Decimal)
    assert data["Qty"] == 3
    assert loads(dumps(data)) == data
    assert (
        dumps({"a": Decimal("10.50"), "b": [True, None, "x'y"]})
        == b'{"a":10.50,"b":[true,null,"x\'y"]}'
    )


# --------------------------------------------------------------------------------------------
# ApiTransport
# --------------------------------------------------------------------------------------------
async def test_transport_retries_5xx_then_succeeds_and_keeps_requestid():
    t = FakeTime()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["requestid"])
        if len(seen) < 3:
            return httpx.Response(503, text="unavailable")
        return httpx.Response(200, json={"Invoice": {"Id": "1"}})

    api, client = transport_for(handler, t)
    async with client:
        response = await api.request(
            "POST", "/invoice", params={"requestid": "rq-1"}, json_body={}, idempotent=True
        )
    assert response.data == {"Invoice": {"Id": "1"}}
    assert seen == ["rq-1", "rq-1", "rq-1"]
    assert len(t.sleeps) == 2


async def test_transport_honours_retry_after_on_429():
    t = FakeTime()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(
                429,
                headers={"Retry-After": "3"},
                json={
                    "fault": {
                        "error": [
                            {
                                "message": "message=ThrottleExceeded; errorCode=003001; statusCode=429"
                            }
                        ]
                    }
                },
            )
        return httpx.Response(200, json={"ok": True})

    api, client = transport_for(handler, t)
    async with client:
        await api.request("GET", "/x")
    assert t.sleeps == [3.0]


async def test_transport_never_retries_validation_fault():
    t = FakeTime()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return fault("6240")

    api, client = transport_for(handler, t)
    async with client:
        with pytest.raises(Invalid) as info:
            await api.request("POST", "/customer", json_body={}, idempotent=True)
    assert info.value.category == "duplicate"
    assert calls == [1]


async def test_dropped_connection_on_write_is_unknown_outcome():
    t = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    api, client = transport_for(handler, t)
    async with client:
        with pytest.raises(UnknownOutcome):
            await api.request("POST", "/invoice", json_body={})  # not idempotent: no resend
    assert t.sleeps == []


async def test_read_timeout_on_read_is_retried_as_transient():
    t = FakeTime()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"QueryResponse": {}})

    api, client = transport_for(handler, t)
    async with client:
        response = await api.request("GET", "/query")
    assert response.data == {"QueryResponse": {}}
    assert len(calls) == 2


async def test_connect_error_on_write_is_plain_transient_and_resent():
    t = FakeTime()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": 1})

    api, client = transport_for(handler, t)
    async with client:
        await api.request("POST", "/invoice", json_body={})
    assert len(calls) == 2


async def test_truncated_success_body_on_write_is_unknown_outcome():
    t = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{", headers={"content-type": "application/json"})

    api, client = transport_for(handler, t)
    async with client:
        with pytest.raises(UnknownOutcome):
            await api.request("POST", "/invoice", json_body={})


async def test_recover_lookup_runs_before_resend():
    t = FakeTime()
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        raise httpx.ReadTimeout("no answer", request=request)

    async def recover():
        return {"Id": "42"}

    api, client = transport_for(handler, t)
    async with client:
        response = await api.request("POST", "/invoice", json_body={}, recover=recover)
    assert response.data == {"Id": "42"}
    assert sent == [1]


async def test_failed_lookup_after_lost_write_is_still_unknown_outcome():
    t = FakeTime()
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        raise httpx.ReadTimeout("no answer", request=request)

    async def recover():
        raise Transient(message="lookup query failed")

    api, client = transport_for(handler, t)
    async with client:
        with pytest.raises(UnknownOutcome) as info:
            await api.request("POST", "/invoice", json_body={}, idempotent=True, recover=recover)
    assert "lookup" in info.value.message
    assert sent == [1]  # not resent while its fate is unknown


async def test_401_refreshes_once_and_resends_with_new_token():
    t = FakeTime()
    tokens = Tokens()
    auth_headers = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth_headers.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(
                401,
                json={"fault": {"error": [{"message": "AuthenticationFailed", "code": "3200"}]}},
            )
        return httpx.Response(200, json={"ok": 1})

    api, client = transport_for(handler, t, tokens=tokens)
    async with client:
        await api.request("GET", "/x")
    assert auth_headers == ["Bearer t1", "Bearer t2"]
    assert tokens.refreshes == 1


async def test_second_401_is_auth_expired():
    t = FakeTime()
    tokens = Tokens()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"fault": {"error": [{"message": "AuthenticationFailed", "code": "3200"}]}}
        )

    api, client = transport_for(handler, t, tokens=tokens)
    async with client:
        with pytest.raises(AuthExpired) as info:
            await api.request("GET", "/x")
    assert "Reconnect QuickBooks" in info.value.hint
    assert tokens.refreshes == 1


async def test_concurrency_limit_caps_requests_in_flight():
    t = FakeTime()
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json={})

    client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    api = ApiTransport(
        client,
        "https://api.example",
        Tokens(),
        qbo_map,
        api_name="QuickBooks",
        retry=policy(t),
        max_in_flight=10,
    )
    async with client:
        tasks = [asyncio.create_task(api.request("GET", f"/x/{i}")) for i in range(25)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert peak == 10
        release.set()
        await asyncio.gather(*tasks)
    assert api.requests_sent == 25
