"""HTTP-level tests of console access: roles, server-side sessions, the Secure cookie flag,
login throttling, invitations, and the activity log of who did what."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerbridge.bootstrap import Runtime
from ledgerbridge.settings import Settings
from ledgerbridge.store import SqlStore, TokenCipher, migrate
from ledgerbridge.web import create_app

PASSWORD = "s3cret-enough"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


class Site:
    """The console app on a fresh database; `client(address)` is one browser at an address."""

    def __init__(self, store: SqlStore, app: Any, clock: Clock) -> None:
        self.store, self.app, self.clock = store, app, clock
        self.clients: list[httpx.AsyncClient] = []

    def client(self, address: str = "10.0.0.1") -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 5000)),
            base_url="http://console.test",
            follow_redirects=False,
        )
        self.clients.append(client)
        return client


async def _make_site(tmp_path: Path, **app_options: Any) -> tuple[Site, Runtime]:
    url = f"sqlite:///{tmp_path}/access.db"
    migrate(url)
    clock = Clock()
    store = SqlStore(url, TokenCipher.generate(), clock=clock)
    store.create_user("admin", PASSWORD, role="admin")
    store.create_user("alice", PASSWORD, role="accountant")
    store.create_user("victor", PASSWORD, role="viewer")
    runtime = Runtime(settings=Settings(data_dir=tmp_path), store=store, http=httpx.AsyncClient())
    runtime.ready = True
    return Site(store, create_app(runtime, **app_options), clock), runtime


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    made, runtime = await _make_site(tmp_path)
    try:
        yield made
    finally:
        for client in made.clients:
            await client.aclose()
        await runtime.aclose()


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def _try_login(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    token = _token((await client.get("/login")).text)
    return await client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token}
    )


async def login(client: httpx.AsyncClient, user: str, password: str = PASSWORD) -> str:
    """Logs in; returns the session's CSRF token."""
    response = await _try_login(client, user, password)
    assert response.status_code == 303, response.text
    return _token((await client.get("/account")).text)


# ---- roles ---------------------------------------------------------------------------------------
async def test_each_role_may_do_what_it_should(site: Site) -> None:
    viewer, accountant, admin = site.client(), site.client(), site.client()
    tokens = {
        "viewer": await login(viewer, "victor"),
        "accountant": await login(accountant, "alice"),
        "admin": await login(admin, "admin"),
    }
    clients = {"viewer": viewer, "accountant": accountant, "admin": admin}

    async def post(role: str, path: str) -> int:
        response = await clients[role].post(path, data={"csrf_token": tokens[role]})
        return response.status_code

    # Everyone reads (no connection yet: the page says how to connect, 503, not 403).
    for role in clients:
        assert (await clients[role].get("/invoices")).status_code == 503
        assert (await clients[role].get("/settings/sync")).status_code != 403
    # Viewer: changes nothing.
    for path in ("/invoices/1/retry", "/payments/1/refund", "/settings/sync/mappings"):
        assert await post("viewer", path) == 403, path
    refused = await viewer.post("/payments/1/refund", data={"csrf_token": tokens["viewer"]})
    assert "Your role is viewer" in refused.text
    # Accountant: day-to-day work passes the guard; settings, connections and users do not.
    for path in ("/invoices/1/retry", "/payments/1/refund", "/settings/sync/mappings"):
        assert await post("accountant", path) != 403, path
    for path in ("/settings/sync/policies", "/settings/connections/sandbox", "/users/invite"):
        assert await post("accountant", path) == 403, path
    assert (await accountant.get("/users")).status_code == 403
    # Admin: all of it.
    assert (await admin.get("/users")).status_code == 200
    for path in ("/settings/sync/policies", "/invoices/1/retry"):
        assert await post("admin", path) != 403, path
    # Everyone may change their own password.
    response = await viewer.post(
        "/account/password",
        data={"csrf_token": tokens["viewer"], "current": PASSWORD, "password": "x", "confirm": "x"},
    )
    assert response.status_code == 400 and "at least 10 characters" in response.text


async def test_console_actions_are_logged_with_their_user(site: Site) -> None:
    viewer, accountant = site.client(), site.client()
    viewer_token = await login(viewer, "victor")
    accountant_token = await login(accountant, "alice")
    await viewer.post("/invoices/77/retry", data={"csrf_token": viewer_token})
    await accountant.post("/invoices/77/retry", data={"csrf_token": accountant_token})
    events = site.store.list_events(object_type="invoice", record="77")
    assert [(e.username, e.action, e.outcome) for e in reversed(events)] == [
        ("victor", "Retried the sync", "refused"),
        ("alice", "Retried the sync", "failed"),  # no connection yet: 503
    ]
    logins = site.store.list_events(action="Logged in")
    assert {e.username for e in logins} == {"victor", "alice"}
    assert all(e.client == "10.0.0.1" for e in logins)


# ---- sessions ------------------------------------------------------------------------------------
async def test_logout_ends_a_copied_cookie_too(site: Site) -> None:
    browser = site.client()
    token = await login(browser, "alice")
    stolen = site.client()
    stolen.cookies.update(browser.cookies)
    assert (await stolen.get("/account")).status_code == 200
    await browser.post("/logout", data={"csrf_token": token})
    response = await stolen.get("/account")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert site.store.count_sessions("alice") == 0


async def test_password_change_ends_every_other_session(site: Site) -> None:
    here, elsewhere = site.client(), site.client()
    token = await login(here, "alice")
    await login(elsewhere, "alice")
    assert site.store.count_sessions("alice") == 2
    new_password = "a much better one"
    response = await here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 303
    assert (await here.get("/account")).status_code == 200  # this browser stays signed in
    assert (await elsewhere.get("/account")).status_code == 303  # the other one is out
    assert site.store.count_sessions("alice") == 1
    assert (await _try_login(site.client(), "alice", PASSWORD)).status_code == 401
    assert (await _try_login(site.client(), "alice", new_password)).status_code == 303
    assert site.store.list_events(action="Changed their password")[0].username == "alice"


async def test_sessions_expire_on_the_server(site: Site) -> None:
    browser = site.client()
    await login(browser, "alice")
    site.clock.advance(hours=12, seconds=1)
    assert (await browser.get("/account")).status_code == 303


async def test_removed_user_is_signed_out(site: Site) -> None:
    admin, victim = site.client(), site.client()
    token = await login(admin, "admin")
    await login(victim, "victor")
    response = await admin.post("/users/victor/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert (await victim.get("/account")).status_code == 303


@pytest.mark.parametrize(("options", "secure"), [({}, False), ({"secure_cookies": True}, True)])
async def test_secure_cookie_flag(tmp_path: Path, options: dict[str, Any], secure: bool) -> None:
    made, runtime = await _make_site(tmp_path, **options)
    try:
        client = made.client()
        response = await _try_login(client, "admin", PASSWORD)
        assert ("secure" in response.headers["set-cookie"].lower()) is secure
        await client.aclose()
    finally:
        await runtime.aclose()


def test_serve_sets_the_secure_flag_unless_told_not_to(tmp_path: Path) -> None:
    from ledgerbridge.process_stack import console_app

    def flag(settings: Settings, serving: bool) -> bool:
        runtime = Runtime(settings=settings, store=None, http=None)  # type: ignore[arg-type]
        app = console_app(runtime, serving=serving)
        session = next(m for m in app.user_middleware if m.cls.__name__ == "SessionMiddleware")
        return bool(session.kwargs["https_only"])

    assert flag(Settings(data_dir=tmp_path), serving=True) is True
    assert flag(Settings(data_dir=tmp_path), serving=False) is False  # demo: plain http
    assert flag(Settings(data_dir=tmp_path, secure_cookies=False), serving=True) is False


# ---- login throttling ----------------------------------------------------------------------------
async def test_twenty_wrong_passwords_then_the_right_one_is_refused(site: Site) -> None:
    client = site.client()
    statuses = [(await _try_login(client, "alice", f"guess-{i}")).status_code for i in range(20)]
    assert statuses[:3] == [401, 401, 401]  # a few typos cost nothing
    assert statuses[3] == 429 and set(statuses[4:]) == {429}  # then a wait is imposed
    right = await _try_login(client, "alice", PASSWORD)
    assert right.status_code == 429
    assert "Too many failed attempts" in right.text
    assert (await client.get("/account")).status_code == 303  # not logged in
    # The delays grow: 1 s after the 3rd failure, 2 s after the 4th ...
    site.clock.advance(seconds=1.5)
    assert (await _try_login(client, "alice", "guess-x")).status_code == 401
    site.clock.advance(seconds=1.5)
    assert (await _try_login(client, "alice", "guess-y")).status_code == 429
    site.clock.advance(seconds=1)
    assert (await _try_login(client, "alice", PASSWORD)).status_code == 303
    events = site.store.list_events(username="alice")
    outcomes = [e.outcome for e in events]
    assert outcomes.count("failed") == 4 and outcomes.count("throttled") == 19


async def test_lockout_window_after_ten_failures(site: Site) -> None:
    client = site.client()
    for i in range(10):
        site.clock.advance(minutes=3)  # slow enough never to hit a delay before the 10th
        assert (await _try_login(client, "alice", f"guess-{i}")).status_code == 401
    locked = await _try_login(client, "alice", PASSWORD)
    assert locked.status_code == 429 and "Wait 15 minutes" in locked.text
    site.clock.advance(minutes=14)
    assert (await _try_login(client, "alice", PASSWORD)).status_code == 429
    site.clock.advance(minutes=1, seconds=1)
    assert (await _try_login(client, "alice", PASSWORD)).status_code == 303


async def test_the_lockout_is_per_account_and_per_address(site: Site) -> None:
    attacker = site.client("203.0.113.9")
    for i in range(4):
        await _try_login(attacker, "alice", f"guess-{i}")
    # alice is slowed from any address; bob's account from another address is not.
    assert (await _try_login(site.client("10.9.9.9"), "alice", PASSWORD)).status_code == 429
    assert (await _try_login(site.client("10.9.9.9"), "admin", PASSWORD)).status_code == 303
    # An address spraying many accounts is slowed down too, for every account.
    sprayer = site.client("198.51.100.7")
    for i in range(10):
        site.clock.advance(minutes=1)
        await _try_login(sprayer, f"nobody-{i}", "guess")
    assert (await _try_login(sprayer, "admin", PASSWORD)).status_code == 429
    assert (await _try_login(site.client("10.1.1.1"), "admin", PASSWORD)).status_code == 303


# ---- invitations ---------------------------------------------------------------------------------
async def test_invitation_link_works_once(site: Site) -> None:
    admin = site.client()
    token = await login(admin, "admin")
    page = await admin.post("/users/invite", data={"csrf_token": token, "role": "accountant"})
    link = re.search(r'id="invite-link"[^>]*value="([^"]+)"', page.text)
    assert link, page.text
    path = link.group(1).removeprefix("http://console.test")
    newcomer = site.client("10.0.0.2")
    form = await newcomer.get(path)
    assert form.status_code == 200 and "accountant" in form.text
    password = "newcomer-password"
    response = await newcomer.post(
        path,
        data={
            "csrf_token": _token(form.text),
            "username": "nina",
            "password": password,
            "confirm": password,
        },
    )
    assert response.status_code == 303
    assert (await newcomer.get("/account")).status_code == 200
    user = site.store.get_user("nina")
    assert user is not None and user.role == "accountant"
    # The link is used up.
    again = site.client("10.0.0.3")
    assert (await again.get(path)).status_code == 404
    assert site.store.list_events(action="Invited a user")[0].username == "admin"
    assert site.store.list_events(action="Accepted an invitation")[0].username == "nina"


async def test_dashboard_is_the_landing_page(site: Site) -> None:
    client = site.client()
    response = await _try_login(client, "victor", PASSWORD)
    assert response.headers["location"] == "/dashboard"
    assert (await client.get("/")).headers["location"] == "/dashboard"
