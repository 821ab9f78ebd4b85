"""HTTP-level tests of the console's pages against both sandboxes in-process (no sockets): the
index's filters, sorting and paging; form validation; settings sections; the report's CSV.

The runtime is the real composition root, connected through the sandboxes' OAuth flows; one
httpx transport routes each host to its app.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ledgerbridge.bootstrap import build_runtime, load_sync_settings
from ledgerbridge.connect import SandboxEndpoints, connect_sandboxes
from ledgerbridge.connectors.inprocess import InProcessTransport
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy
from ledgerbridge.engine.ports import INVOICE, PAYMENT, SALES_RECEIPT, RecordKey
from ledgerbridge.sandbox.hubspot import create_app as hubspot_app
from ledgerbridge.sandbox.quickbooks import create_app as quickbooks_app
from ledgerbridge.settings import Settings
from ledgerbridge.web import create_app

PASSWORD = "pages-password"
HS, QB, CONSOLE = "http://hubspot.test", "http://qbo.test", "http://console.test"


class HostRouter(httpx.AsyncBaseTransport):
    def __init__(self, apps: dict[str, Any]) -> None:
        self.transports = {host: InProcessTransport(app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


class Client:
    def __init__(
        self, http: httpx.AsyncClient, runtime: Any, hubspot: Any, router: HostRouter
    ) -> None:
        self.http = http
        self.runtime = runtime
        self.hubspot = hubspot  # the HubSpot sandbox portal (Python access)
        self.router = router  # counts the requests each API received
        self.token = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        return await self.http.post(
            path,
            content=urlencode([*items, ("csrf_token", self.token)]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    hs, qb = hubspot_app(seed="demo"), quickbooks_app(seed="demo")
    router = HostRouter({"hubspot.test": hs, "qbo.test": qb})
    http = httpx.AsyncClient(transport=router)
    runtime = await build_runtime(Settings(data_dir=tmp_path, admin_password=PASSWORD), http=http)
    runtime.store.create_user("admin", PASSWORD)
    await connect_sandboxes(runtime, SandboxEndpoints(HS, QB, CONSOLE))
    runtime.ready = True
    app = create_app(runtime)
    console = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=CONSOLE, follow_redirects=False
    )
    page = await console.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    await console.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    page = await console.get("/settings/properties")
    wrapped = Client(console, runtime, hs.state.sandbox, router)
    wrapped.token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    try:
        yield wrapped
    finally:
        await console.aclose()
        await runtime.aclose()
        await http.aclose()


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr data-invoice-id="(\d+)"', html)


async def test_index_filters_sort_and_pages(client: Client) -> None:
    everything = await client.get("/invoices?limit=100")
    assert everything.status_code == 200
    total = len(_ids(everything.text))
    assert total == 50  # the demo portal's HubSpot invoices

    drafts = await client.get("/invoices?status=draft&limit=100")
    assert len(_ids(drafts.text)) == 8
    assert "Not synced" in drafts.text

    # Sorted by amount, ascending: the amounts read in order.
    ascending = await client.get("/invoices?sort=amount&dir=asc&limit=100")
    amounts = [
        Decimal(a.replace(",", ""))
        for a in re.findall(
            r'class="num">[^0-9-]*([\d,]+\.\d\d)</td>\s*<td class="num">', ascending.text
        )
    ]
    assert amounts == sorted(amounts) and len(amounts) == total

    # Paging with `after`: two pages of 25 cover everything once.
    first = await client.get("/invoices?sort=number&dir=asc")
    assert 'rel="next"' in first.text
    next_url = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = await client.get(next_url)
    assert len(set(_ids(first.text)) | set(_ids(second.text))) == total
    assert "26–50 of 50" in second.text

    # Amount range, currency, and a search on the PO number.
    big = await client.get("/invoices?amount_min=10000&limit=100")
    assert 0 < len(_ids(big.text)) < total
    euros = await client.get("/invoices?currency=EUR")
    assert all("€" in row for row in re.findall(r"<tr data-invoice-id.*?</tr>", euros.text, re.S))
    po = await client.get("/invoices?q=PO-4100")
    assert len(_ids(po.text)) == 1

    bad = await client.get("/invoices?amount_min=lots&date_from=yesterday")
    assert bad.status_code == 200
    assert "Minimum amount is not an amount" in bad.text and "From date is not a date" in bad.text


async def test_index_costs_one_search_per_page_at_ten_thousand_invoices(client: Client) -> None:
    with client.hubspot.batch():
        for n in range(10_050):
            client.hubspot.create_object(
                "invoices", {"hs_currency": "USD", "hs_title": f"Bulk {n}"}
            )
    hubspot = client.router.transports["hubspot.test"]
    for url, most in (
        ("/invoices?status=draft", 2),
        ("/invoices?status=draft&sort=number&dir=asc&after=9975", 2),
        # A text search first looks up matching ids two ways (number/title/PO through `query`;
        # company, email and QBO number through filters), then reads the page over those ids.
        ("/invoices?q=Bulk%209999", 4),
    ):
        before = hubspot.requests
        response = await client.get(url)
        assert response.status_code == 200
        # One search; one association read for rows without a customer name (these drafts).
        assert hubspot.requests - before <= most, url
    first = await client.get("/invoices?status=draft")
    assert (
        "10,000+ invoices" in first.text and "Search shows the first 10,000 results" in first.text
    )
    last = await client.get("/invoices?status=draft&sort=number&dir=asc&after=9975")
    assert len(_ids(last.text)) == 25 and 'rel="next"' not in last.text


async def test_create_form_validation(client: Client) -> None:
    response = await client.post(
        "/invoices/new",
        [
            ("action", "finish"),
            ("currency", "USD"),
            ("line_product", ""),
            ("line_name", ""),
            ("line_qty", "1"),
            ("line_price", ""),
        ],
    )
    assert response.status_code == 400
    assert "Choose a contact" in response.text
    response = await client.post(
        "/invoices/new",
        [
            ("action", "draft"),
            ("currency", "USD"),
            ("line_name", "Widget"),
            ("line_qty", "two"),
            ("line_price", "5"),
            ("discount_type", "PERCENT"),
            ("discount_value", "120"),
            ("invoice_date", "2026-05-10"),
            ("due_date", "2026-05-01"),
        ],
    )
    assert response.status_code == 400
    for message in (
        "Line 1 quantity: &#39;two&#39; is not a number",
        "A percent discount cannot be over 100",
        "The due date is before the invoice date",
    ):
        assert message in response.text
    # What was typed comes back, so nothing is lost.
    assert 'value="Widget"' in response.text


async def test_draft_saved_then_finished_from_its_panel(client: Client) -> None:
    contacts = (await client.get("/invoices/new/contacts?q=Ada")).json()
    ada = next(c for c in contacts if c["name"] == "Ada Lovelace")
    related = (await client.get(f"/invoices/new/contacts/{ada['id']}/related")).json()
    assert [c["name"] for c in related["companies"]] == ["Acme Analytics"]
    response = await client.post(
        "/invoices/new",
        [
            ("action", "draft"),
            ("contact_id", ada["id"]),
            ("company_id", related["companies"][0]["id"]),
            ("currency", "USD"),
            ("line_name", "Workshop"),
            ("line_qty", "2"),
            ("line_price", "300"),
            ("adj_kind", "tax"),
            ("adj_label", "Sales tax"),
            ("adj_type", "PERCENT"),
            ("adj_value", "8.25"),
            ("po_number", "PO-DRAFT-9"),
        ],
    )
    assert response.status_code == 303
    invoice_id = response.headers["location"].split("open=")[1]
    panel = await client.get(f"/invoices/{invoice_id}?panel=1")
    assert "Draft" in panel.text and "Drafts are not synced" in panel.text
    assert "$649.50" in panel.text  # 600.00 + 8.25% tax (49.50)
    finished = await client.post(f"/invoices/{invoice_id}/finish", {})
    assert finished.status_code == 303
    record = client.hubspot.get_object("invoices", invoice_id)
    assert record.properties["hs_invoice_status"] == "open"
    key = client.runtime.connection().engine.connection_id
    assert client.runtime.store.count_dirty(key) >= 1  # the engine was told


async def test_settings_sections_validate_and_save(client: Client) -> None:
    conn = client.runtime.connection()
    bad = await client.post(
        "/settings/sync/filters",
        [
            ("rule_field", "amount"),
            ("rule_op", "gt"),
            ("rule_value", "a lot"),
            ("rule_applies", "hubspot"),
            ("rule_state", "on"),
            ("rule_label", ""),
        ],
    )
    assert bad.status_code == 400 and "is not an amount" in bad.text
    good = await client.post(
        "/settings/sync/filters",
        [
            ("rule_field", "currency"),
            ("rule_op", "in"),
            ("rule_value", "USD, CAD"),
            ("rule_applies", "hubspot"),
            ("rule_state", "on"),
            ("rule_label", ""),
        ],
    )
    assert good.status_code == 303
    saved = load_sync_settings(client.runtime.store, conn.id)
    assert [(r.field, r.op.value, r.value) for r in saved.filters] == [
        ("currency", "in", ["USD", "CAD"])
    ]
    assert conn.engine.settings == saved  # the running engine uses them at once

    await client.post(
        "/settings/sync/policies",
        {
            "doc_number": "prefixed_hubspot_number",
            "doc_number_prefix": "",
            "product_not_found": "fail",
            "customer_match_key": "email",
        },
    )
    assert (
        load_sync_settings(client.runtime.store, conn.id).product_not_found
        is ProductNotFoundPolicy.CREATE_ITEM
    )
    await client.post(
        "/settings/sync/policies",
        {
            "doc_number": "qbo_assigns",
            "doc_number_prefix": "HS-",
            "product_not_found": "fail",
            "customer_match_key": "email",
            "tax_item_name": "Tax Collected",
            "tax_account_name": "Sales Tax Owed",
            "tax_code_mapping": "State sales tax = CA sales tax\n 8.25% = 3 \n",
            "refunds_booked_as": "credit_memo",
            "fees_enabled": "on",
            "fees_expense_account": "Stripe fees",
            "fees_paid_from_account": "Savings",
            "fees_vendor_name": "Stripe",
            "receipts_enabled": "on",
            "receipts_paid_invoice": "sales_receipt",
            "receipts_item_name": "Walk-in sales",
            "receipts_deposit_account": "Checking",
            "receipts_settle_seconds": "120",
        },
    )
    saved = load_sync_settings(client.runtime.store, conn.id)
    receipts = saved.sales_receipts
    assert (receipts.enabled, receipts.paid_invoice) == (True, "sales_receipt")
    assert (receipts.item_name, receipts.deposit_account) == ("Walk-in sales", "Checking")
    assert receipts.settle_seconds == 120
    assert saved.product_not_found is ProductNotFoundPolicy.FAIL
    assert (saved.tax_item_name, saved.tax_account_name) == ("Tax Collected", "Sales Tax Owed")
    assert saved.fees.enabled
    assert (saved.fees.expense_account, saved.fees.paid_from_account) == ("Stripe fees", "Savings")
    assert saved.fees.vendor_name == "Stripe"
    page = await client.get("/settings/sync")
    assert 'name="fees_enabled" value="on" checked' in page.text
    assert 'value="Sales Tax Owed"' in page.text
    assert saved.tax_code_mapping == {"State sales tax": "CA sales tax", "8.25%": "3"}
    assert saved.refunds.booked_as == "credit_memo"
    assert '<option value="credit_memo" selected>' in page.text
    assert "State sales tax = CA sales tax\n8.25% = 3</textarea>" in page.text
    assert 'value="sales_receipt" selected' in page.text
    assert 'value="Walk-in sales"' in page.text

    wrong = await client.post(
        "/settings/sync/mappings",
        [
            ("map_hubspot", "hs_purchase_order_number"),
            ("map_direction", "both"),
            ("map_qbo", "Fax"),
        ],
    )
    assert wrong.status_code == 400 and "QuickBooks has no custom field named" in wrong.text

    await client.post("/settings/sync/objects", {"invoices.hubspot_to_qbo": "on"})
    saved = load_sync_settings(client.runtime.store, conn.id)
    assert (
        saved.invoices.hubspot_to_qbo
        and not saved.invoices.qbo_to_hubspot
        and not saved.payments.hubspot_to_qbo
    )


async def test_property_validation(client: Client) -> None:
    response = await client.post(
        "/settings/properties", {"label": "Bad", "name": "hs_mine", "field_type": "text"}
    )
    assert response.status_code == 400 and "cannot start with hs_" in response.text
    response = await client.post(
        "/settings/properties", {"label": "Region", "field_type": "select", "options": ""}
    )
    assert response.status_code == 400 and "A dropdown needs options" in response.text
    response = await client.post(
        "/settings/properties",
        {"label": "Region", "field_type": "select", "options": "North\nSouth"},
    )
    assert response.status_code == 303
    page = await client.get("/settings/properties")
    assert 'data-property="region"' in page.text and "North, South" in page.text
    again = await client.post("/settings/properties", {"label": "Region", "field_type": "text"})
    assert again.status_code == 400 and "already exists" in again.text


async def test_report_csv_and_missing_records(client: Client) -> None:
    csv = await client.get("/reports/payments.csv?from=2026-01-01&to=2026-12-31")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("Payment id,Date,Invoice numbers")
    assert any(line.startswith("TOTAL,") for line in csv.text.splitlines())
    # A range the page would correct (and say so) is refused by the export, never swapped for
    # other dates in a file nobody reads on screen.
    for query in (
        "from=bad&to=2026-12-31",
        "from=2026-12-31&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
    ):
        refused = await client.get(f"/reports/payments.csv?{query}")
        assert refused.status_code == 400, query
        assert refused.headers["content-type"].startswith("text/plain")
        assert "The payments export was not made" in refused.text
    assert "'bad' is not a date." in (await client.get("/reports/payments.csv?from=bad")).text
    assert (await client.get("/invoices/999999999")).status_code == 404
    assert (await client.get("/contacts/999999999")).status_code == 404
    assert (await client.get("/invoices/abc/pdf")).status_code == 404


async def test_reconnect_through_oauth_and_the_sandboxes(client: Client) -> None:
    store = client.runtime.store
    conn_id = client.runtime.connection().id
    before = store.get_tokens(conn_id, Side.QUICKBOOKS)
    page = await client.get("/settings/connections/quickbooks/reconnect")
    assert "Reconnect the sandboxes" in page.text

    # The OAuth round trip: consent at the provider, back to the callback, new tokens stored.
    start = await client.get("/settings/connections/quickbooks/authorize")
    assert start.status_code == 303 and start.headers["location"].startswith(
        f"{QB}/connect/oauth2?"
    )
    consent = await client.runtime.http.get(start.headers["location"])
    back = consent.headers["location"]
    assert back.startswith(f"{CONSOLE}/oauth/quickbooks/callback?")
    done = await client.get(back.removeprefix(CONSOLE))
    assert done.headers["location"] == "/settings/sync"
    after = store.get_tokens(conn_id, Side.QUICKBOOKS)
    assert after is not None and before is not None and after.access_token != before.access_token
    assert "QuickBooks is connected" in (await client.get("/settings/sync")).text
    # The rebuilt connection works.
    assert (await client.get("/invoices")).status_code == 200

    # A callback nobody started here is refused.
    forged = await client.get("/oauth/quickbooks/callback?code=abc&state=forged&realmId=1")
    assert forged.headers["location"] == "/settings/connections/quickbooks/reconnect"
    assert (
        "did not start here"
        in (await client.get("/settings/connections/quickbooks/reconnect")).text
    )

    # The demo's sandboxes reconnect in one step.
    response = await client.post("/settings/connections/sandbox", {})
    assert response.headers["location"] == "/settings/sync"
    assert store.get_tokens(conn_id, Side.HUBSPOT) is not None
    assert (
        "Reconnected to the HubSpot and QuickBooks sandboxes"
        in (await client.get("/settings/sync")).text
    )


async def test_a_payment_recorded_as_a_sales_receipt_shows_the_receipt(client: Client) -> None:
    """A HubSpot payment tied to no invoice is recorded in QBO as a SalesReceipt; the payments
    report names the receipt (not a Payment with the same id) and links to it."""
    runtime = client.runtime
    conn = runtime.connection()
    settings = conn.sync_settings.model_copy(
        update={
            "sales_receipts": conn.sync_settings.sales_receipts.model_copy(
                update={"settle_seconds": 0}
            )
        }
    )
    runtime.update_sync_settings(conn.id, settings)
    contact = client.hubspot.create_object(
        "contacts", {"email": "walkin@pages.example", "firstname": "Walk", "lastname": "In"}
    )
    payment_id = str(
        client.hubspot.create_object(
            "commerce_payments",
            {
                "hs_initial_amount": "42.00",
                "hs_initiated_date": "2026-06-15T12:00:00.000Z",
                "hs_latest_status": "succeeded",
                "hs_currency_code": "USD",
                "hs_processor_type": "hs_payments",
                "hs_reference_number": "pl_pages",
            },
            [
                {
                    "to": {"id": str(contact)},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 387}],
                }
            ],
        )
    )
    engine = runtime.connection().engine
    key = RecordKey(conn.id, PAYMENT, Side.HUBSPOT, payment_id)
    await engine.sync_key(key)
    link = runtime.store.get_link(conn.id, PAYMENT, Side.HUBSPOT, payment_id)
    assert link is not None and link.qbo_kind == SALES_RECEIPT and link.qbo_id
    state = runtime.store.get_state(key)
    assert state is not None and state.status.value == "synced", state

    page = await client.get("/reports/payments?from=2026-06-01&to=2026-06-30")
    row = re.search(rf'<tr[^>]*data-payment-id="{payment_id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert f'href="/quickbooks/salesreceipts/{link.qbo_id}"' in row.group(0)
    assert f"Sales receipt {link.qbo_id}" in row.group(0)
    csv = await client.get("/reports/payments.csv?from=2026-06-01&to=2026-06-30")
    [line] = [x for x in csv.text.splitlines() if x.startswith(f"{payment_id},")]
    assert f"sales receipt {link.qbo_id}" in line.split(",")
    receipt = await client.get(f"/quickbooks/salesreceipts/{link.qbo_id}")
    assert receipt.status_code == 200 and "42" in receipt.text


async def test_an_invoice_recorded_as_a_sales_receipt_links_the_receipt(client: Client) -> None:
    runtime = client.runtime
    conn = runtime.connection()
    receipts = conn.sync_settings.sales_receipts.model_copy(
        update={"paid_invoice": "sales_receipt", "settle_seconds": 0}
    )
    runtime.update_sync_settings(
        conn.id, conn.sync_settings.model_copy(update={"sales_receipts": receipts})
    )
    paid = next(
        r.id
        for r in client.hubspot.store.live("invoices")
        if r.properties.get("hs_invoice_status") == "paid"
    )
    key = RecordKey(conn.id, INVOICE, Side.HUBSPOT, str(paid))
    await runtime.connection().engine.sync_key(key)
    link = runtime.store.get_link(conn.id, INVOICE, Side.HUBSPOT, str(paid))
    assert link is not None and link.qbo_kind == SALES_RECEIPT and link.qbo_id
    state = runtime.store.get_state(key)
    assert state is not None and state.status.value == "synced", state
    receipt = await runtime.connection().ledger.get_sales_receipt(link.qbo_id)
    hs_total = Decimal(client.hubspot.store.get("invoices", paid).properties["hs_amount_billed"])
    assert receipt is not None and receipt.payment.amount == hs_total

    panel = await client.get(f"/invoices/{paid}")
    assert f'href="/quickbooks/salesreceipts/{link.qbo_id}"' in panel.text
    assert "View sales receipt in QuickBooks" in panel.text
