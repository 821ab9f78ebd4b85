"""Browser tests: odd input a new user types, and odd records, shown truthfully.

- A sync filter whose amount is not a number (NaN, Infinity) or whose 'between' is backwards is
  refused with the reason, and nothing is saved (a saved "Amount is greater than NaN" used to
  crash the sync of every new invoice).
- Unit prices beyond the cent (3 x $0.3333 = $1.00) are shown as both books hold them, not
  rounded to a price that does not add up to the line amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.bootstrap import load_sync_settings
from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import CustomFieldMapping, SyncSettings
from ledgerbridge.engine.ports import INVOICE


def _add_rule(page: Page, field: str, condition: str, value: str) -> None:
    page.click("#add-rule")
    row = page.locator("#rules tbody tr").last
    row.get_by_label("Field").fill(field)
    row.get_by_label("Condition").select_option(label=condition)
    row.get_by_label("Value").fill(value)


def test_filter_with_an_amount_that_is_not_a_number_is_refused(
    page: Page, stack: ConsoleStack
) -> None:
    page.goto("/settings/sync#filters")
    _add_rule(page, "amount", "is greater than", "NaN")
    _add_rule(page, "amount", "is between", "900, 100")
    page.get_by_role("button", name="Save filters").click()

    errors = page.locator("#filters ul.errors li")
    expect(errors).to_have_text(
        [
            "Rule 1 (Amount is greater than NaN): 'NaN' is not an amount.",
            "Rule 2 (Amount is between 900 and 100): "
            "'between' needs the lower value first (900, 100).",
        ]
    )
    # What was typed stays on the page to be corrected; nothing was saved.
    expect(page.locator("#rules tbody tr input[name=rule_value]")).to_have_count(2)
    assert load_sync_settings(stack.runtime.store, stack.connection_id).filters == []

    page.goto("/settings/sync#filters")
    _add_rule(page, "amount", "is greater than", "Infinity")
    page.get_by_role("button", name="Save filters").click()
    expect(errors).to_have_text(
        ["Rule 1 (Amount is greater than Infinity): 'Infinity' is not an amount."]
    )


def test_unit_price_beyond_the_cent_is_shown_as_both_books_hold_it(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    invoice_id = ui.create_invoice(
        page, contact="Ada", custom_lines=[("Metered API calls", "3", "0.3333")]
    )
    ui.expect_sync_status(page, "Synced")
    row = page.locator("#panel table.line-items tbody tr", has_text="Metered API calls")
    expect(row.locator("td").nth(2)).to_have_text("$0.3333")
    expect(row.locator("td").nth(3)).to_have_text("$1.00")

    # Both books hold that unit price and line amount.
    with stack.hubspot_client() as hs:
        lines = hs.get(
            f"/crm/v3/objects/invoices/{invoice_id}", params={"associations": "line_items"}
        ).json()["associations"]["line_items"]["results"]
        assert len(lines) == 1
        line = hs.get(
            f"/crm/v3/objects/line_items/{lines[0]['id']}",
            params={"properties": "price,quantity,amount"},
        ).json()["properties"]
    assert Decimal(line["price"]) == Decimal("0.3333")
    assert Decimal(line["amount"]) == Decimal("1.00")
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_id
    with stack.qbo_client() as qbo:
        qbo_invoice = qbo.get(f"/invoice/{link.qbo_id}").json()["Invoice"]
    [qbo_line] = [x for x in qbo_invoice["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert Decimal(str(qbo_line["SalesItemLineDetail"]["UnitPrice"])) == Decimal("0.3333")
    assert Decimal(str(qbo_line["Amount"])) == Decimal("1.00")
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal("1.00")


def test_out_of_sync_page_points_at_failing_records(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    # A 43-character PO number fails (QuickBooks custom fields hold 31): HubSpot has the
    # invoice, QuickBooks does not. The out-of-sync page must not claim the books agree.
    po_number = "PO-" + "1234567890" * 4
    invoice_id = ui.create_invoice(
        page, contact="Ada", products=[("Data migration", "1")], po_number=po_number
    )
    ui.expect_sync_status(page, "Failed")
    expect(page.locator("#panel")).to_contain_text(
        f"'{po_number}' is too long for the QuickBooks custom field 'PO Number' "
        "(43 characters; at most 31)"
    )
    expect(page.locator("#panel")).to_contain_text("Fix: Shorten the value in HubSpot, then retry")
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is None or not link.qbo_id
    with stack.qbo_client() as qbo:
        invoices = qbo.post(
            "/query",
            content="select * from Invoice maxresults 1000",
            headers={"Content-Type": "application/text"},
        ).json()["QueryResponse"]["Invoice"]
    marker = f"ledgerbridge:hubspot-invoice:{invoice_id}"
    assert not [i for i in invoices if marker in (i.get("PrivateNote") or "").split()]

    failing = stack.runtime.store.list_failures(stack.connection_id, limit=1).total
    assert failing >= 1
    page.goto("/settings/sync/out-of-sync")
    note = page.locator("#failing-note")
    expect(note).to_contain_text(f"Failing to sync ({failing})")
    expect(page.locator("#out-of-sync")).not_to_contain_text(
        "Every checked record agrees on both sides"
    )
    note.get_by_role("link").click()
    expect(page.locator("main")).to_contain_text(po_number)


def test_hand_edited_links_get_a_page_not_a_crash_or_json(page: Page) -> None:
    for url in ("/settings/sync/failing?page=abc", "/reconciliation?run=abc"):
        response = page.goto(url)
        assert response is not None and response.status == 400, url
        expect(page.locator("main h1")).to_have_text("This link has a value the page cannot use")
        name, value = url.split("?", 1)[1].split("=")
        expect(page.locator("main")).to_contain_text(f"{name} is '{value}', not a whole number")
    # A page number past the end (once a 500: the SQL offset overflowed) is just an empty page.
    for url, heading in (
        ("/settings/sync/failing?page=99999999999999999999", "Failing to sync ("),
        ("/settings/sync/out-of-sync?page=99999999999999999999", "Out of sync ("),
    ):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        expect(page.locator("main h2").first).to_contain_text(heading)


def test_backwards_ranges_on_the_invoice_index_are_explained(page: Page) -> None:
    page.goto("/invoices")
    page.get_by_text("Advanced filters").click()
    page.fill("#date_from", "2026-12-01")
    page.fill("#date_to", "2026-01-01")
    page.fill("#amount_min", "500")
    page.fill("#amount_max", "100")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("ul.errors li")).to_have_text(
        [
            "The To date is before the From date, so no invoice matches.",
            "The maximum amount is below the minimum amount, so no invoice matches.",
        ]
    )
    page.goto("/invoices?amount_min=NaN")
    expect(page.locator("ul.errors li")).to_have_text(["Minimum amount is not an amount"])


def test_failing_rows_name_invoices_alike(page: Page, ui: Any, stack: ConsoleStack) -> None:
    # A PO number mapped to QuickBooks' ShipDate fails mid-step ("not a date"), before the
    # engine knows the invoice's number: the row still reads "INV-…" like every other row.
    stack.set_sync_settings(
        SyncSettings(
            custom_mappings=[
                CustomFieldMapping(
                    hubspot_property="hs_purchase_order_number", qbo_field="ShipDate"
                )
            ]
        )
    )
    invoice_id = ui.create_invoice(
        page, contact="Ada", products=[("Data migration", "1")], po_number="next week"
    )
    ui.expect_sync_status(page, "Failed")
    number = page.locator("#panel h2.invoice-title").inner_text()
    page.goto("/settings/sync/failing")
    row = page.locator("tbody tr", has_text=f"HubSpot {invoice_id}")
    expect(row).to_contain_text("Ship date 'next week' is not a date")
    assert number.startswith("Invoice ")
    expect(row.locator("td").first.locator("div").first).to_have_text(
        number.removeprefix("Invoice ")
    )
