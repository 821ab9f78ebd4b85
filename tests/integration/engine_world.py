"""A small world for engine integration tests: both sandboxes in-process (httpx.ASGITransport),
the real connectors, a SqlStore on SQLite, and a SyncEngine wired to them.

No fakes: the sandboxes are the fakes. Helpers create records the way a user would (in HubSpot:
contact, products, invoice with line items, discount, PO number, then Finish; in QBO: customer,
items, invoice, payment), and `sync()` runs poll + sync steps until the queue is empty.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from ledgerbridge.connectors.auth import StaticTokenProvider
from ledgerbridge.connectors.http import RetryPolicy
from ledgerbridge.connectors.hubspot.client import HubSpotConnector
from ledgerbridge.connectors.inprocess import in_process_client
from ledgerbridge.connectors.quickbooks.client import QuickBooksConnector
from ledgerbridge.domain import Side, SyncStatus
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey, StoredSyncState
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.sandbox.faults import FaultPlan
from ledgerbridge.sandbox.hubspot import create_app as create_hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as create_qbo_app
from ledgerbridge.sandbox.quickbooks.seed import DEFAULT_ITEMS
from ledgerbridge.store import SqlStore, TokenCipher
from servers import run_asgi_server

HS_TOKEN = "pat-sandbox"
QBO_TOKEN = "qbo-sandbox-token"


def assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


@dataclass
class HubSpotSide:
    """Python-level access to the HubSpot sandbox portal, as a user would change it."""

    sb: Any  # HubSpotSandbox

    def contact(
        self,
        email: str | None,
        first: str = "Ada",
        last: str = "Lovelace",
        company: str | None = "Acme Analytics",
    ) -> str:
        props: dict[str, Any] = {"firstname": first, "lastname": last}
        if email:
            props["email"] = email
        if company:
            props["company"] = company
        contact_id = str(self.sb.create_object("contacts", props))
        if company:
            company_id = self.sb.create_object("companies", {"name": company})
            self.sb.associate("contacts", contact_id, "companies", company_id, 1)
        return contact_id

    def product(self, name: str, sku: str, price: str) -> str:
        return str(self.sb.create_object("products", {"name": name, "hs_sku": sku, "price": price}))

    def invoice(
        self,
        contact_id: str | None,
        lines: Sequence[tuple[str | None, str, str] | tuple[str, str, str, str]],
        *,
        currency: str = "USD",
        po: str | None = None,
        discount_percent: str | None = None,
        finish: bool = True,
        **props: Any,
    ) -> str:
        """lines: (product_id, quantity, price) or (None, quantity, price, name) for custom lines."""
        properties: dict[str, Any] = {"hs_currency": currency, **props}
        if po:
            properties["hs_purchase_order_number"] = po
        associations = [assoc(contact_id, 177)] if contact_id else []
        invoice_id = str(self.sb.create_object("invoices", properties, associations))
        for position, line in enumerate(lines):
            product_id, quantity, price = line[0], line[1], line[2]
            values: dict[str, Any] = {
                "quantity": quantity,
                "price": price,
                "hs_position_on_quote": str(position),
                "hs_line_item_currency_code": currency,
            }
            if product_id:
                values["hs_product_id"] = product_id
            else:
                values["name"] = line[3]  # type: ignore[misc]
            self.sb.create_object("line_items", values, [assoc(invoice_id, 410)])
        if discount_percent:
            self.sb.create_object(
                "discounts",
                {
                    "hs_label": "discount",
                    "hs_type": "PERCENT",
                    "hs_value": discount_percent,
                    "hs_sort_order": "1",
                },
                [assoc(invoice_id, 412)],
            )
        if finish:
            self.finish(invoice_id)
        return invoice_id

    def finish(self, invoice_id: str) -> None:
        self.sb.update_object("invoices", invoice_id, {"hs_invoice_status": "open"})

    def props(self, object_type: str, object_id: str) -> dict[str, Any]:
        record = self.sb.store.get(object_type, object_id)
        assert record is not None, f"no {object_type} {object_id}"
        return dict(record.properties)

    def all(self, object_type: str) -> list[Any]:
        return list(self.sb.store.live(object_type))

    def payments_of(self, invoice_id: str) -> list[dict[str, Any]]:
        record = self.sb.store.get("invoices", invoice_id)
        return [dict(r.properties) for r in self.sb.linked(record, "commerce_payments")]

    def pay(self, invoice_id: str, amount: str, processor: str = "hs_payments") -> str:
        contacts = self.sb.linked(self.sb.store.get("invoices", invoice_id), "contacts")
        associations = [assoc(invoice_id, 542)]
        if contacts:
            associations.append(assoc(contacts[0].id, 387))
        return str(
            self.sb.create_object(
                "commerce_payments",
                {
                    "hs_initial_amount": amount,
                    "hs_initiated_date": "2026-11-05T12:00:00.000Z",
                    "hs_latest_status": "succeeded",
                    "hs_currency_code": "USD",
                    "hs_payment_method_type": "ach",
                    "hs_processor_type": processor,
                    "hs_reference_number": f"REF-{invoice_id}",
                },
                associations,
            )
        )


@dataclass
class World:
    hubspot_app: Any
    qbo_app: Any
    hs: HubSpotSide
    qbo: QuickBooksSide
    crm: HubSpotConnector
    ledger: QuickBooksConnector
    store: SqlStore
    connection_id: int
    engine: SyncEngine
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    servers: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def with_settings(self, settings: SyncSettings) -> SyncEngine:
        self.engine = SyncEngine(self.connection_id, self.crm, self.ledger, self.store, settings)
        return self.engine

    async def sync(self, rounds: int = 12) -> None:
        """Poll both sides and run due sync steps until nothing is left to do."""
        for _ in range(rounds):
            await self.engine.poll_once()
            report = await self.engine.run_once(500)
            if report.claimed == 0:
                return
        raise AssertionError("the engine did not settle")

    def state(self, object_type: str, side: Side, source_id: str) -> StoredSyncState | None:
        return self.store.get_state(RecordKey(self.connection_id, object_type, side, source_id))

    def invoice_state(self, hs_id: str) -> StoredSyncState:
        state = self.state(INVOICE, Side.HUBSPOT, hs_id)
        assert state is not None, f"no sync state for HubSpot invoice {hs_id}"
        return state

    def payment_state(self, side: Side, payment_id: str) -> StoredSyncState | None:
        return self.state(PAYMENT, side, payment_id)

    def qbo_id_of(self, hs_id: str) -> str:
        link = self.store.get_link(self.connection_id, INVOICE, Side.HUBSPOT, hs_id)
        assert link is not None and link.qbo_id, f"HubSpot invoice {hs_id} is not linked"
        return link.qbo_id

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        self.servers.close()
        self.store.close()


@dataclass
class QuickBooksSide:
    """Python-level access to the QBO sandbox company, as a bookkeeper would change it."""

    state: Any  # the sandbox's SandboxState
    realm: str

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.state.create_entity(self.realm, entity, body))

    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        return self.state.get_entity(self.realm, entity, entity_id)

    def all(self, entity: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.state.companies[self.realm].all(entity)]

    def customer(self, name: str, email: str | None) -> str:
        body: dict[str, Any] = {"DisplayName": name}
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        return str(self.create("Customer", body)["Id"])

    def item(self, name: str, sku: str | None = None, price: str = "0") -> str:
        income = next(
            a for a in self.all("Account") if a.get("AccountSubType") == "ServiceFeeIncome"
        )
        body: dict[str, Any] = {
            "Name": name,
            "Type": "Service",
            "UnitPrice": price,
            "IncomeAccountRef": {"value": income["Id"]},
        }
        if sku:
            body["Sku"] = sku
        return str(self.create("Item", body)["Id"])

    def invoice(
        self,
        customer_id: str,
        lines: Sequence[tuple[str, str, str]],
        email: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer_id},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": str(Decimal(q) * Decimal(p)),
                    "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": q, "UnitPrice": p},
                }
                for item, q, p in lines
            ],
            **extra,
        }
        if email:
            body["BillEmail"] = {"Address": email}
        return self.create("Invoice", body)

    def payment(
        self, customer_id: str, applications: Sequence[tuple[str, str]], **extra: Any
    ) -> dict[str, Any]:
        total = sum((Decimal(a) for _, a in applications), Decimal(0))
        return self.create(
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": str(total),
                "Line": [
                    {"Amount": amount, "LinkedTxn": [{"TxnId": inv, "TxnType": "Invoice"}]}
                    for inv, amount in applications
                ],
                **extra,
            },
        )

    def count(self, entity: str) -> int:
        return len(self.all(entity))

    def added_items(self) -> int:
        """Items beyond the ones every new company starts with ("Services", "Hours")."""
        return self.count("Item") - len(DEFAULT_ITEMS)

    def item_named(self, name: str) -> str:
        return next(str(i["Id"]) for i in self.all("Item") if i["Name"] == name)


async def make_world(
    db_url: str,
    name: str,
    *,
    settings: SyncSettings | None = None,
    hs_faults: FaultPlan | None = None,
    qbo_faults: FaultPlan | None = None,
    hs_seed: str = "empty",
    qbo_seed: str = "empty",
    sockets: bool | contextlib.ExitStack = False,
    clock: Callable[[], dt.datetime] | None = None,
) -> World:
    """`sockets`: serve both sandboxes over real sockets (uvicorn on free ports) instead of
    in-process: True (stopped when the world closes) or an ExitStack that stops them when it
    closes; `clock`: the engine's clock."""
    hubspot_app = create_hubspot_app(seed=hs_seed, faults=hs_faults)
    qbo_app = create_qbo_app(seed=qbo_seed, faults=qbo_faults)
    qbo_state = qbo_app.state.sandbox
    realm = qbo_state.default_realm_id
    servers = contextlib.ExitStack()
    if sockets is not False:
        stack = sockets if isinstance(sockets, contextlib.ExitStack) else servers
        hs_base = stack.enter_context(run_asgi_server(hubspot_app))
        qbo_base = stack.enter_context(run_asgi_server(qbo_app))
        hs_http = httpx.AsyncClient(base_url=hs_base, timeout=30)
        qbo_http = httpx.AsyncClient(base_url=qbo_base, timeout=30)
    else:
        hs_base, qbo_base = "http://hubspot.test", "http://qbo.test"
        hs_http = in_process_client(hubspot_app, base_url=hs_base)
        qbo_http = in_process_client(qbo_app, base_url=qbo_base)
    crm = HubSpotConnector(
        hs_http, StaticTokenProvider(HS_TOKEN), base_url=hs_base, retry=fast_retry()
    )
    ledger = QuickBooksConnector(
        qbo_http,
        StaticTokenProvider(QBO_TOKEN),
        realm,
        base_url=qbo_base,
        retry=fast_retry(),
    )
    store = SqlStore(db_url, TokenCipher.generate())
    info = store.create_connection(name, qbo_realm_id=realm)
    await crm.ensure_sync_properties()
    engine = (
        SyncEngine(info.id, crm, ledger, store, settings or SyncSettings(), clock)
        if clock is not None
        else SyncEngine(info.id, crm, ledger, store, settings or SyncSettings())
    )
    return World(
        hubspot_app,
        qbo_app,
        HubSpotSide(hubspot_app.state.sandbox),
        QuickBooksSide(qbo_state, realm),
        crm,
        ledger,
        store,
        info.id,
        engine,
        [hs_http, qbo_http],
        servers,
    )


def fast_retry() -> RetryPolicy:
    """Connector retries that never sleep on the wall clock."""

    async def no_sleep(_: float) -> None:
        return None

    return RetryPolicy(sleep=no_sleep)


def money(text: str) -> Decimal:
    return Decimal(text)


def today() -> dt.date:
    return dt.date(2026, 11, 1)


SYNCED = SyncStatus.SYNCED
FAILED = SyncStatus.FAILED
EXCLUDED = SyncStatus.EXCLUDED
BLOCKED = SyncStatus.BLOCKED
FaultPlan = FaultPlan
