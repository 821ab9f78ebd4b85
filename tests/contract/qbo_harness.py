"""Shared set-up for the QuickBooks sandbox contract tests: the sandbox served over a real socket,
and Intuit's official clients (python-quickbooks, intuit-oauth) pointed at it through their own
settings: intuit-oauth's `environment` accepts a discovery-document URL, and python-quickbooks'
`api_url_v3` is an attribute an instance can override."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from intuitlib.client import AuthClient
from quickbooks import QuickBooks

from ledgerbridge.sandbox.quickbooks import create_app
from servers import run_asgi_server

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT = "http://localhost:8000/callback"
STATIC = "qbo-sandbox-token"


@dataclass
class Served:
    app: Any
    base_url: str

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid_configuration"

    def auth_client(self, **tokens: Any) -> AuthClient:
        return AuthClient(
            CLIENT_ID, CLIENT_SECRET, REDIRECT, environment=self.discovery_url, **tokens
        )

    def qb(self, realm: str, auth: AuthClient | None = None) -> QuickBooks:
        """python-quickbooks for `realm`; by default authenticated with the static token."""
        auth = auth or self.auth_client(access_token=STATIC, refresh_token="unused")
        client = QuickBooks(
            auth_client=auth,
            refresh_token=auth.refresh_token,
            company_id=realm,
            minorversion=75,
            use_decimal=True,
        )
        client.api_url_v3 = f"{self.base_url}/v3"
        return client

    def company(self, seed: str = "empty") -> Company:
        realm = self.state.add_company(seed=seed)
        http = httpx.Client(
            base_url=f"{self.base_url}/v3/company/{realm}",
            headers={"Authorization": f"Bearer {STATIC}", "Accept": "application/json"},
        )
        return Company(self, realm, self.qb(realm), http)


@dataclass
class Company:
    served: Served
    realm: str
    qb: QuickBooks
    http: httpx.Client

    @property
    def state(self) -> Any:
        return self.served.state

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.state.create_entity(self.realm, entity, body)

    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        return self.state.get_entity(self.realm, entity, entity_id)

    def customer(self, name: str, **extra: Any) -> dict[str, Any]:
        return self.create("Customer", {"DisplayName": name, **extra})

    def item(self, name: str, price: str = "100", **extra: Any) -> dict[str, Any]:
        from decimal import Decimal

        return self.create(
            "Item",
            {
                "Name": name,
                "Type": "Service",
                "UnitPrice": Decimal(price),
                "IncomeAccountRef": {"value": "1"},
                **extra,
            },
        )


@contextlib.contextmanager
def serve(**options: Any) -> Iterator[Served]:
    """The sandbox on 127.0.0.1; python-quickbooks (through requests-oauthlib) refuses plain
    http unless OAUTHLIB_INSECURE_TRANSPORT is set, so it is set for the duration."""
    app = create_app(**options)
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        with run_asgi_server(app) as base_url:
            yield Served(app, base_url)
    finally:
        if previous is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous
