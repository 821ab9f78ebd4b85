"""The demo stack over real sockets, for end-to-end tests.

`DemoStack` runs `ledgerbridge.demo.run_demo` (console + webhooks, both sandboxes, the worker) in
a background thread with its own event loop, on three free consecutive ports, SQLite in a temp
dir. Tests talk to it the way users and the real APIs do: plain HTTP to the sandboxes' REST APIs
(HubSpot CRM v3, QBO v3), signed webhooks flowing from the sandboxes to ledgerbridge.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ledgerbridge.demo import DemoOptions, run_demo
from ledgerbridge.servers import port_free

HS_TOKEN = "pat-sandbox"
QBO_TOKEN = "qbo-sandbox-token"


def free_port_triple() -> int:
    for _ in range(200):
        base = random.randint(20000, 60000)
        if all(port_free(base + i) for i in range(3)):
            return base
    raise RuntimeError("no three free consecutive ports")


def assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


class HubSpotRest:
    """HubSpot CRM v3 over HTTP, as any client would call it."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {HS_TOKEN}"}, timeout=30
        )

    def create(
        self,
        object_type: str,
        properties: dict[str, Any],
        associations: list[dict[str, Any]] | None = None,
    ) -> str:
        body: dict[str, Any] = {"properties": properties}
        if associations:
            body["associations"] = associations
        r = self.http.post(f"/crm/v3/objects/{object_type}", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def update(
        self, object_type: str, object_id: str, properties: dict[str, Any]
    ) -> dict[str, Any]:
        r = self.http.patch(
            f"/crm/v3/objects/{object_type}/{object_id}", json={"properties": properties}
        )
        assert r.status_code == 200, r.text
        return r.json()

    def get(
        self,
        object_type: str,
        object_id: str,
        properties: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict[str, Any]:
        params: list[tuple[str, str]] = [("properties", p) for p in properties or []]
        params += [("associations", a) for a in associations or []]
        r = self.http.get(f"/crm/v3/objects/{object_type}/{object_id}", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def search(
        self, object_type: str, filters: list[dict[str, Any]], properties: list[str]
    ) -> list[dict[str, Any]]:
        r = self.http.post(
            f"/crm/v3/objects/{object_type}/search",
            json={"filterGroups": [{"filters": filters}], "properties": properties, "limit": 100},
        )
        assert r.status_code == 200, r.text
        return r.json()["results"]

    def contact(self, email: str, first: str, last: str, company: str | None = None) -> str:
        props = {"email": email, "firstname": first, "lastname": last}
        if company:
            props["company"] = company
        return self.create("contacts", props)

    def product(self, name: str, sku: str | None, price: str) -> str:
        props = {"name": name, "price": price}
        if sku:
            props["hs_sku"] = sku
        return self.create("products", props)

    def invoice(
        self,
        contact_id: str,
        lines: list[tuple[str, str, str]],
        *,
        currency: str = "USD",
        discount_percent: str | None = None,
        finish: bool = True,
        **props: Any,
    ) -> str:
        """lines: (product id, quantity, price). Creates the draft, its line items and discount,
        then clicks Finish (draft → open) unless finish=False."""
        invoice_id = self.create(
            "invoices", {"hs_currency": currency, **props}, [assoc(contact_id, 177)]
        )
        for n, (product_id, qty, price) in enumerate(lines):
            self.create(
                "line_items",
                {
                    "hs_product_id": product_id,
                    "quantity": qty,
                    "price": price,
                    "hs_position_on_quote": str(n),
                },
                [assoc(invoice_id, 410)],
            )
        if discount_percent:
            self.create(
                "discounts",
                {
                    "hs_label": "Loyalty",
                    "hs_type": "PERCENT",
                    "hs_value": discount_percent,
                    "hs_sort_order": "1",
                },
                [assoc(invoice_id, 412)],
            )
        if finish:
            self.update("invoices", invoice_id, {"hs_invoice_status": "open"})
        return invoice_id


class QboRest:
    """QuickBooks Online v3 over HTTP."""

    def __init__(self, base: str, realm: str) -> None:
        self.realm = realm
        self.http = httpx.Client(
            base_url=f"{base}/v3/company/{realm}",
            headers={"Authorization": f"Bearer {QBO_TOKEN}", "Accept": "application/json"},
            params={"minorversion": "75"},
            timeout=30,
        )

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(f"/{entity.lower()}", json=body)
        assert r.status_code == 200, r.text
        return r.json()[entity]

    def get(self, entity: str, entity_id: str) -> dict[str, Any]:
        r = self.http.get(f"/{entity.lower()}/{entity_id}")
        assert r.status_code == 200, r.text
        return r.json()[entity]

    def query(self, text: str) -> list[dict[str, Any]]:
        r = self.http.post("/query", content=text, headers={"Content-Type": "application/text"})
        assert r.status_code == 200, r.text
        response = r.json()["QueryResponse"]
        rows: list[dict[str, Any]] = []
        for _key, value in response.items():
            if isinstance(value, list):
                rows.extend(value)
        return rows

    def count(self, entity: str) -> int:
        r = self.http.post(
            "/query",
            content=f"select count(*) from {entity}",
            headers={"Content-Type": "application/text"},
        )
        return int(r.json()["QueryResponse"]["totalCount"])


class DemoStack:
    def __init__(
        self,
        data_dir: Path,
        *,
        seed: str = "empty",
        poll_interval: float = 60.0,
        showcase_failure: bool = False,
        with_console: bool = True,
    ) -> None:
        self.port = free_port_triple()
        self.options = DemoOptions(
            port=self.port,
            data_dir=data_dir,
            seed=seed,
            poll_interval=poll_interval,
            quiet=True,
            showcase_failure=showcase_failure,
            with_console=with_console,
            extra_env={"admin_password": "correct-horse"},
        )
        self.runtime: Any = None
        self.hs_app: Any = None
        self.qbo_app: Any = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hubspot_url(self) -> str:
        return f"http://127.0.0.1:{self.port + 1}"

    @property
    def qbo_url(self) -> str:
        return f"http://127.0.0.1:{self.port + 2}"

    @property
    def realm(self) -> str:
        return str(self.qbo_app.state.sandbox.default_realm_id)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(runtime: Any, hs: Any, qb: Any) -> None:
                self.runtime, self.hs_app, self.qbo_app = runtime, hs, qb
                self._ready.set()

            await run_demo(self.options, stop=self._stop, on_ready=ready)

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc
            self._ready.set()

    def start(self, timeout: float = 60.0) -> DemoStack:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the demo stack did not start")
        if self._error:
            raise RuntimeError(f"the demo stack failed: {self._error!r}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def hubspot(self) -> HubSpotRest:
        return HubSpotRest(self.hubspot_url)

    def qbo(self) -> QboRest:
        return QboRest(self.qbo_url, self.realm)

    @property
    def connection(self) -> Any:
        return self.runtime.connection()


def new_uid() -> str:
    """A short unique tag for the records one test creates (tests share a module's stack)."""
    return uuid.uuid4().hex[:6]


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 15.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Poll until predicate() returns something truthy; returns it. Fails with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
