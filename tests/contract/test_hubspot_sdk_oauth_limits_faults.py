"""OAuth (authorize redirect, code exchange, refresh, expiry), rate limits and injected faults,
through the official SDK over a real socket."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import PublicObjectSearchRequest
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.oauth import ApiException as OAuthApiException
from hubspot.utils.oauth import get_auth_url
from urllib3.util.retry import Retry

from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.sandbox.hubspot import FakeClock, create_app
from servers import run_asgi_server

REDIRECT = "http://127.0.0.1:9/callback"
# urllib3 (under the SDK) would otherwise sleep on Retry-After and retry; these tests want to
# see the 429 itself.
NO_RETRY = Retry(total=0, respect_retry_after_header=False)


def _authorize(base_url: str) -> str:
    url = get_auth_url(
        "sandbox-client-id", REDIRECT, scope=("crm.objects.contacts.read",), state="xyz"
    )
    resp = httpx.get(url.replace("https://app.hubspot.com", base_url), follow_redirects=False)
    assert resp.status_code == 302
    location = urlparse(resp.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_oauth_code_exchange_refresh_and_expiry() -> None:
    clock = FakeClock()
    with run_asgi_server(create_app(clock=clock)) as base_url:
        tokens = HubSpot(host=base_url).oauth.tokens_api
        code = _authorize(base_url)
        issued = tokens.create(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
        )
        assert issued.expires_in == 1800 and issued.token_type == "bearer"
        with pytest.raises(OAuthApiException) as exc:  # codes are single-use
            tokens.create(
                grant_type="authorization_code",
                code=code,
                redirect_uri=REDIRECT,
                client_id="sandbox-client-id",
                client_secret="sandbox-client-secret",
            )
        assert json.loads(exc.value.body)["status"] == "BAD_AUTH_CODE"

        client = HubSpot(access_token=issued.access_token, host=base_url)
        client.crm.contacts.basic_api.create(
            simple_public_object_input_for_create=ContactCreate(properties={"email": "o@x.example"})
        )
        info = HubSpot(host=base_url).oauth.access_tokens_api.get(issued.access_token)
        assert info.hub_id and info.expires_in == 1800

        clock.advance(1801)
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.get_page()
        assert exc.value.status == 401
        assert json.loads(exc.value.body)["category"] == "EXPIRED_AUTHENTICATION"

        refreshed = tokens.create(
            grant_type="refresh_token",
            refresh_token=issued.refresh_token,
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
        )
        assert refreshed.access_token != issued.access_token
        assert (
            refreshed.refresh_token == issued.refresh_token
        )  # HubSpot refresh tokens do not rotate
        fresh = HubSpot(access_token=refreshed.access_token, host=base_url)
        assert len(fresh.crm.contacts.basic_api.get_page().results) == 1

        with pytest.raises(OAuthApiException) as exc:
            tokens.create(
                grant_type="refresh_token",
                refresh_token="nope",
                client_id="sandbox-client-id",
                client_secret="sandbox-client-secret",
            )
        assert json.loads(exc.value.body)["status"] == "BAD_REFRESH_TOKEN"
        with pytest.raises(OAuthApiException) as exc:
            tokens.create(
                grant_type="refresh_token",
                refresh_token=issued.refresh_token,
                client_id="sandbox-client-id",
                client_secret="wrong",
            )
        assert exc.value.status == 400


def test_rate_limits_rolling_window_daily_and_search() -> None:
    clock = FakeClock()
    app = create_app(rate_limits=True, clock=clock)
    with run_asgi_server(app) as base_url:
        httpx.put(
            f"{base_url}/_sandbox/rate-limits", json={"per_interval": 3, "daily": 1000}
        ).raise_for_status()
        client = HubSpot(access_token="pat-sandbox", host=base_url, retry=NO_RETRY)
        for _ in range(3):
            client.crm.contacts.basic_api.get_page()
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.get_page()
        assert exc.value.status == 429
        body = json.loads(exc.value.body)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        assert exc.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert exc.value.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert int(exc.value.headers["Retry-After"]) >= 1

        clock.advance(10)  # the rolling window has moved on
        ok = httpx.get(
            f"{base_url}/crm/v3/objects/contacts", headers={"Authorization": "Bearer pat-sandbox"}
        )
        assert ok.status_code == 200
        assert ok.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert ok.headers["X-HubSpot-RateLimit-Daily"] == "1000"

        httpx.put(
            f"{base_url}/_sandbox/rate-limits", json={"per_interval": 100, "search_per_second": 2}
        ).raise_for_status()
        search = client.crm.contacts.search_api
        for _ in range(2):
            search.do_search(public_object_search_request=PublicObjectSearchRequest())
        with pytest.raises(ContactsApiException) as exc:
            search.do_search(public_object_search_request=PublicObjectSearchRequest())
        assert json.loads(exc.value.body)["policyName"] == "SECONDLY"

        httpx.put(f"{base_url}/_sandbox/rate-limits", json={"daily": 1}).raise_for_status()
        client.crm.contacts.basic_api.get_page()
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.get_page()
        assert json.loads(exc.value.body)["policyName"] == "DAILY"


def test_injected_5xx_and_429_in_hubspot_shape() -> None:
    with run_asgi_server(create_app(faults=FaultPlan(error_rate=1.0, seed=1))) as base_url:
        client = HubSpot(access_token="pat-sandbox", host=base_url, retry=NO_RETRY)
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.get_page()
        assert exc.value.status == 503
        assert json.loads(exc.value.body)["status"] == "error"
        # OAuth and admin endpoints never fail, so the plan can be changed at runtime.
        httpx.put(
            f"{base_url}/_sandbox/faults", json={"rate_limit_rate": 1.0, "retry_after": 2}
        ).raise_for_status()
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.get_page()
        assert exc.value.status == 429 and exc.value.headers["Retry-After"] == "2"
        assert json.loads(exc.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
        counts = httpx.get(f"{base_url}/_sandbox/faults").json()["counts"]
        assert counts["5xx"] == 1 and counts["429"] == 1


def test_commit_then_timeout_writes_but_client_never_hears() -> None:
    app = create_app(faults=FaultPlan(commit_timeout_rate=1.0, only_methods=["POST"]))
    with run_asgi_server(app) as base_url:
        client = HubSpot(access_token="pat-sandbox", host=base_url)
        with pytest.raises(urllib3.exceptions.HTTPError):
            client.crm.contacts.basic_api.create(
                simple_public_object_input_for_create=ContactCreate(
                    properties={"email": "ghost@x.example"}
                )
            )
        httpx.put(f"{base_url}/_sandbox/faults", json={}).raise_for_status()
        # The write happened: a retry that creates again would duplicate it (here: a 409).
        found = client.crm.contacts.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[
                    {
                        "filters": [
                            {"propertyName": "email", "operator": "EQ", "value": "ghost@x.example"}
                        ]
                    }
                ]
            )
        )
        assert found.total == 1
        with pytest.raises(ContactsApiException) as exc:
            client.crm.contacts.basic_api.create(
                simple_public_object_input_for_create=ContactCreate(
                    properties={"email": "ghost@x.example"}
                )
            )
        assert exc.value.status == 409
        assert app.state.sandbox.faults.counts["commit_timeout"] == 1
