"""OAuth against the QBO sandbox with Intuit's own intuit-oauth client, and python-quickbooks
using the tokens it gets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from qbo_harness import Served, serve
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.customer import Customer


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as s:
        yield s


def _connect(served: Served, realm: str | None = None) -> tuple[object, str]:
    """Run the authorization-code flow: authorize (consents at once), then exchange the code."""
    auth = served.auth_client()
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="xyz")
    if realm:
        url += f"&realmId={realm}"
    redirect = requests.get(url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    assert query["state"] == ["xyz"]
    auth.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    return auth, query["realmId"][0]


def test_discovery_document_names_this_server(served: Served) -> None:
    doc = requests.get(served.discovery_url, timeout=5).json()
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "issuer",
        "jwks_uri",
        "userinfo_endpoint",
    ):
        assert doc[key].startswith(served.base_url), key
    auth = served.auth_client()  # intuit-oauth GETs the document in its constructor
    assert auth.token_endpoint == f"{served.base_url}/oauth2/v1/tokens/bearer"
    assert auth.revoke_endpoint == doc["revocation_endpoint"]


def test_authorization_code_flow_gives_working_tokens(served: Served) -> None:
    auth, realm = _connect(served)
    assert realm == served.state.default_realm_id
    assert auth.expires_in == 3600
    assert auth.x_refresh_token_expires_in == 8726400
    assert auth.refresh_token and auth.access_token
    qb = served.qb(realm, auth)
    created = Customer()
    created.DisplayName = "OAuth Customer"
    saved = created.save(qb=qb)
    assert Customer.get(saved.Id, qb=qb).DisplayName == "OAuth Customer"
    info = auth.get_user_info()
    assert info.status_code == 200 and info.json()["email"]


def test_code_is_single_use_and_client_must_authenticate(served: Served) -> None:
    auth = served.auth_client()
    redirect = requests.get(
        auth.get_authorization_url([Scopes.ACCOUNTING]), allow_redirects=False, timeout=5
    )
    code = parse_qs(urlparse(redirect.headers["location"]).query)["code"][0]
    auth.get_bearer_token(code)
    with pytest.raises(AuthClientError) as again:
        served.auth_client().get_bearer_token(code)
    assert again.value.status_code == 400 and b"invalid_grant" in again.value.content
    bad = served.auth_client()
    bad.client_secret = "wrong"
    with pytest.raises(AuthClientError) as unauthorized:
        bad.refresh(refresh_token=auth.refresh_token)
    assert unauthorized.value.status_code == 401 and b"invalid_client" in unauthorized.value.content


def test_refresh_rotates_and_stale_refresh_token_is_invalid_grant(served: Served) -> None:
    auth, _ = _connect(served)
    first_refresh, first_access = auth.refresh_token, auth.access_token
    auth.refresh()
    assert auth.refresh_token != first_refresh and auth.access_token != first_access
    with pytest.raises(AuthClientError) as stale:
        served.auth_client().refresh(refresh_token=first_refresh)
    assert stale.value.status_code == 400 and b"invalid_grant" in stale.value.content
    with pytest.raises(AuthClientError) as unknown:
        served.auth_client().refresh(refresh_token="RT1-never-issued")
    assert b"invalid_grant" in unknown.value.content
    auth.refresh()  # the latest one still works


def test_access_token_expires_after_an_hour(served: Served) -> None:
    auth, realm = _connect(served)
    qb = served.qb(realm, auth)
    assert Customer.count(qb=qb) is not None
    state = served.state
    real_clock = state.clock
    state.clock = lambda: real_clock() + dt.timedelta(seconds=3601)
    try:
        with pytest.raises(AuthorizationException) as expired:
            Customer.count(qb=qb)
        assert expired.value.error_code == 401
        assert "Token expired" in expired.value.detail
        auth.refresh()  # the refresh token outlives the access token
        assert Customer.count(qb=served.qb(realm, auth)) is not None
    finally:
        state.clock = real_clock


def test_revoke_ends_the_connection(served: Served) -> None:
    auth, realm = _connect(served)
    qb = served.qb(realm, auth)
    refresh_token = auth.refresh_token
    assert auth.revoke(token=refresh_token) is True
    with pytest.raises(AuthorizationException):
        Customer.count(qb=qb)
    with pytest.raises(AuthClientError) as revoked:
        served.auth_client().refresh(refresh_token=refresh_token)
    assert b"invalid_grant" in revoked.value.content


def test_token_is_bound_to_its_company_and_static_token_works_everywhere(served: Served) -> None:
    other = served.state.add_company()
    auth, realm = _connect(served)
    assert realm != other
    response = requests.get(
        f"{served.base_url}/v3/company/{other}/companyinfo/{other}",
        headers={"Authorization": f"Bearer {auth.access_token}", "Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 403
    assert response.json()["fault"]["error"][0]["code"] == "3100"
    auth_other, realm_other = _connect(served, other)
    assert realm_other == other
    assert (
        served.qb(other, auth_other).get_single_object("CompanyInfo", other)["CompanyInfo"]["Id"]
        == "1"
    )
    assert served.qb(other).get_single_object("Preferences", "")  # static token
