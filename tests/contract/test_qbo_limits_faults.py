"""Gateway errors, throttling and injected faults, over a real socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import requests
from qbo_harness import STATIC, Company, Served, serve
from quickbooks.exceptions import AuthorizationException, SevereException, ValidationException
from quickbooks.objects.customer import Customer

from ledgerbridge.sandbox.faults import FaultPlan


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve(throttle=True, time_scale=60) as s:
        yield s


@pytest.fixture
def co(served: Served) -> Iterator[Company]:
    company = served.company()
    yield company
    httpx.put(f"{served.base_url}/_sandbox/faults", json={})


@pytest.fixture
def frozen(served: Served) -> Iterator[list[float]]:
    """Freeze the throttle's clock; tests move it by editing the list."""
    now = [1000.0]
    limiter = served.state.throttle
    real = limiter.monotonic
    limiter.monotonic = lambda: now[0]
    try:
        yield now
    finally:
        limiter.monotonic = real


def test_401_has_the_gateway_shape(co: Company, served: Served) -> None:
    response = requests.get(
        f"{served.base_url}/v3/company/{co.realm}/customer/1",
        headers={"Authorization": "Bearer expired-or-made-up", "Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    body = response.json()
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert body["fault"]["error"][0]["code"] == "3200"
    assert (
        body["fault"]["error"][0]["message"]
        == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    )
    assert isinstance(body["time"], int) and body["batchItemResponse"] == []
    client = served.qb(co.realm, served.auth_client(access_token="nope", refresh_token="nope"))
    with pytest.raises(AuthorizationException) as denied:
        Customer.all(qb=client)
    assert denied.value.error_code == 401


def test_500_requests_per_minute_then_429_throttle_exceeded(
    co: Company, frozen: list[float]
) -> None:
    for _ in range(500):
        assert co.http.get("/preferences").status_code == 200
    throttled = co.http.get("/preferences")
    assert throttled.status_code == 429
    error = throttled.json()["Fault"]["Error"][0]
    assert error["code"] == "3001" and "ThrottleExceeded" in error["Message"]
    with pytest.raises(ValidationException) as raised:
        Customer.all(qb=co.qb)
    assert raised.value.error_code == 3001
    frozen[0] += 1.0  # time_scale=60: a throttling "minute" lasts one second
    assert co.http.get("/preferences").status_code == 200


def test_batch_calls_are_limited_to_120_per_minute(co: Company, frozen: list[float]) -> None:
    body = {"BatchItemRequest": [{"bId": "q", "Query": "select * from Term"}]}
    for _ in range(120):
        assert co.http.post("/batch", json=body).status_code == 200
    assert co.http.post("/batch", json=body).status_code == 429
    assert co.http.get("/preferences").status_code == 200  # other calls still pass


def test_more_than_10_concurrent_requests_are_refused(
    co: Company, served: Served, frozen: list[float]
) -> None:
    httpx.put(f"{served.base_url}/_sandbox/faults", json={"latency_ms": 400})
    statuses: list[int] = []
    barrier = threading.Barrier(13)

    def call() -> None:
        with httpx.Client(
            base_url=co.http.base_url, headers={"Authorization": f"Bearer {STATIC}"}
        ) as client:
            barrier.wait()
            statuses.append(client.get("/preferences").status_code)

    threads = [threading.Thread(target=call) for _ in range(13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 10 and statuses.count(429) == 3


def test_injected_5xx_and_429_use_qbo_fault_shapes(co: Company, served: Served) -> None:
    httpx.put(f"{served.base_url}/_sandbox/faults", json={"error_rate": 1.0})
    failed = co.http.get("/preferences")
    assert failed.status_code == 503 and failed.json()["Fault"]["type"] == "SystemFault"
    with pytest.raises(SevereException):
        Customer.all(qb=co.qb)
    assert requests.get(served.discovery_url, timeout=5).status_code == 200  # OAuth never faulted
    httpx.put(f"{served.base_url}/_sandbox/faults", json={"rate_limit_rate": 1.0, "retry_after": 2})
    limited = co.http.get("/preferences")
    # QBO answers 429 without Retry-After (the client has to pace itself).
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.json()["Fault"]["Error"][0]["code"] == "3001"
    counts = httpx.get(f"{served.base_url}/_sandbox/faults").json()["counts"]
    assert counts["5xx"] >= 2 and counts["429"] >= 1
    assert served.state.fault_injector.counts == counts


def test_commit_then_timeout_and_request_id_retry(co: Company, served: Served) -> None:
    plan = FaultPlan(commit_timeout_rate=1.0, only_methods=["POST"])
    httpx.put(f"{served.base_url}/_sandbox/faults", json=plan.to_dict())
    body = {"DisplayName": "Committed Then Dropped"}
    with pytest.raises(httpx.TransportError):
        co.http.post("/customer", params={"requestid": "create-cust-1"}, json=body)
    written = co.state.query(
        co.realm, "SELECT count(*) FROM Customer WHERE DisplayName = 'Committed Then Dropped'"
    )
    assert written == {"totalCount": 1}  # the write happened although the client never heard back
    httpx.put(f"{served.base_url}/_sandbox/faults", json={})
    retry = co.http.post("/customer", params={"requestid": "create-cust-1"}, json=body)
    assert (
        retry.status_code == 200
        and retry.json()["Customer"]["DisplayName"] == "Committed Then Dropped"
    )
    assert Customer.count("DisplayName = 'Committed Then Dropped'", qb=co.qb) == 1
    naive = co.http.post("/customer", json=body)  # a retry without requestid hits the name rule
    assert naive.json()["Fault"]["Error"][0]["code"] == "6240"
