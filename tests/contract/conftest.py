"""Fixtures for contract tests: sandboxes served over real sockets, driven by official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledgerbridge.sandbox.hubspot import create_app as create_hubspot_app
from servers import run_asgi_server


@pytest.fixture
def hubspot_app() -> Any:
    """A fresh, empty HubSpot portal (in-process app; not served)."""
    return create_hubspot_app(seed="empty")


@pytest.fixture
def hubspot_server(hubspot_app: Any) -> Iterator[tuple[Any, str]]:
    """(app, base_url): the empty portal served on 127.0.0.1."""
    with run_asgi_server(hubspot_app) as base_url:
        yield hubspot_app, base_url


@pytest.fixture
def hubspot_url(hubspot_server: tuple[Any, str]) -> str:
    return hubspot_server[1]


@pytest.fixture
def hubspot_state(hubspot_server: tuple[Any, str]) -> Any:
    """The served portal's `HubSpotSandbox` (Python-level access for setup and checks)."""
    return hubspot_server[0].state.sandbox


@pytest.fixture
def hubspot_client(hubspot_url: str) -> Any:
    """HubSpot's official SDK pointed at the served sandbox with the private-app token."""
    from hubspot import HubSpot

    return HubSpot(access_token="pat-sandbox", host=hubspot_url, base_url=hubspot_url)
