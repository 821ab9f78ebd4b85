"""HTTP-level tests of the console's login and CSRF protection, over every route the app has.

The routes are enumerated from the app itself, so a page added later is covered without
editing this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from ledgerbridge.bootstrap import Runtime
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore, TokenCipher
from ledgerbridge.web import create_app
from ledgerbridge.web.security import SAFE_METHODS, is_public

PASSWORD = "s3cret-enough"


@pytest.fixture
async def console(
    sqlite_db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, list[APIRoute]]]:
    store = SqlStore(sqlite_db_url, TokenCipher.generate())
    if store.get_user("admin") is None:
        store.create_user("admin", PASSWORD)
    else:
        store.set_password("admin", PASSWORD)
    runtime = Runtime(settings=Settings(data_dir=tmp_path), store=store, http=httpx.AsyncClient())
    runtime.ready = True
    app = create_app(runtime)
    routes = list(_flatten(app.routes))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://console.test",
        follow_redirects=False,
    )
    try:
        yield client, routes
    finally:
        await client.aclose()
        await runtime.aclose()


def _flatten(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (which FastAPI may wrap)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _pages(routes: list[APIRoute]) -> list[str]:
    return [
        _concrete(r.path) for r in routes if "GET" in r.methods and not is_public(_concrete(r.path))
    ]


def _actions(routes: list[APIRoute]) -> list[tuple[str, str]]:
    return [
        (method, _concrete(r.path)) for r in routes for method in sorted(r.methods - SAFE_METHODS)
    ]


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the login form carries a CSRF token"
    return match.group(1)


async def _login(client: httpx.AsyncClient) -> str:
    token = await _csrf(client)
    response = await client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/invoices"},
    )
    assert response.status_code == 303
    page = await client.get("/settings/properties")  # any page: the session's token after login
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_every_page_requires_login(console: tuple[httpx.AsyncClient, list[APIRoute]]) -> None:
    client, routes = console
    pages = _pages(routes)
    assert {
        "/invoices",
        "/invoices/1",
        "/invoices/new",
        "/invoices/1/pdf",
        "/contacts/1",
        "/companies/1",
        "/settings/sync",
        "/settings/sync/failing",
        "/settings/properties",
        "/reports/payments",
        "/reports/payments.csv",
    } <= set(pages)
    for path in pages:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    # The login page itself, health and static files are public.
    assert (await client.get("/login")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/static/console.css")).status_code == 200


async def test_login_returns_to_the_page_asked_for(
    console: tuple[httpx.AsyncClient, list[APIRoute]],
) -> None:
    client, _ = console
    response = await client.get("/reports/payments?from=2026-01-01")
    assert response.headers["location"] == "/login?next=/reports/payments%3Ffrom%3D2026-01-01"
    token = await _csrf(client)
    response = await client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/reports/payments?from=2026-01-01",
        },
    )
    assert response.headers["location"] == "/reports/payments?from=2026-01-01"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
async def test_login_never_redirects_off_site(
    console: tuple[httpx.AsyncClient, list[APIRoute]], target: str
) -> None:
    client, _ = console
    token = await _csrf(client)
    response = await client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.headers["location"] == "/dashboard"


async def test_wrong_password_is_refused(console: tuple[httpx.AsyncClient, list[APIRoute]]) -> None:
    client, _ = console
    token = await _csrf(client)
    response = await client.post(
        "/login", data={"username": "admin", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "do not match" in response.text
    assert (await client.get("/invoices")).status_code == 303  # still logged out


async def test_every_post_requires_a_valid_csrf_token(
    console: tuple[httpx.AsyncClient, list[APIRoute]],
) -> None:
    client, routes = console
    actions = _actions(routes)
    assert ("POST", "/login") in actions and ("POST", "/payments/1/refund") in actions
    assert len(actions) >= 15
    # Anonymous, no token at all.
    for method, path in actions:
        response = await client.request(method, path, data={"x": "1"})
        assert response.status_code == 403, (method, path)
    token = await _login(client)
    for method, path in actions:
        if path == "/logout":
            continue
        missing = await client.request(method, path, data={"amount": "1"})
        wrong = await client.request(method, path, data={"csrf_token": token[:-2] + "xx"})
        wrong_header = await client.request(method, path, headers={"X-CSRF-Token": "forged"})
        assert (missing.status_code, wrong.status_code, wrong_header.status_code) == (
            403,
            403,
            403,
        ), (method, path)
    # The right token passes the guard (the route then runs: here no connection is set up yet).
    response = await client.post("/settings/sync/failing/retry-all", data={"csrf_token": token})
    assert response.status_code != 403
    response = await client.post("/settings/sync/objects", headers={"X-CSRF-Token": token})
    assert response.status_code != 403


async def test_a_token_from_before_login_is_worthless_after(
    console: tuple[httpx.AsyncClient, list[APIRoute]],
) -> None:
    client, _ = console
    before = await _csrf(client)
    after = await _login(client)
    assert before != after
    response = await client.post("/settings/sync/failing/retry-all", data={"csrf_token": before})
    assert response.status_code == 403


async def test_logout_ends_the_session(console: tuple[httpx.AsyncClient, list[APIRoute]]) -> None:
    client, _ = console
    token = await _login(client)
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.headers["location"] == "/login"
    assert (await client.get("/invoices")).status_code == 303


async def test_cookie_and_headers(console: tuple[httpx.AsyncClient, list[APIRoute]]) -> None:
    client, _ = console
    response = await client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


async def test_without_a_connection_pages_say_how_to_connect(
    console: tuple[httpx.AsyncClient, list[APIRoute]],
) -> None:
    client, _ = console
    await _login(client)
    response = await client.get("/invoices")
    assert response.status_code == 503
    assert "Connect HubSpot and QuickBooks" in response.text
