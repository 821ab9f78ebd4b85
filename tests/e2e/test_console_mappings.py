"""Browser tests: custom field mappings (HubSpot invoice property ⇄ QuickBooks custom field) and
custom invoice properties, seen arriving in QuickBooks."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page, expect

from ledgerbridge.console_stack import ConsoleStack
from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import INVOICE


def _qbo_custom_fields(stack: ConsoleStack, invoice_id: str) -> dict[str, str]:
    link = stack.runtime.store.get_link(stack.connection_id, INVOICE, Side.HUBSPOT, invoice_id)
    assert link is not None and link.qbo_id
    with stack.qbo_client() as qbo:
        invoice = qbo.get(f"/invoice/{link.qbo_id}").json()["Invoice"]
    return {
        f.get("Name"): f.get("StringValue")
        for f in invoice.get("CustomField") or []
        if f.get("StringValue")
    }


def test_po_number_mapping_added_in_settings_reaches_quickbooks(
    page: Page, ui: Any, stack: ConsoleStack
) -> None:
    stack.set_sync_settings(SyncSettings(custom_mappings=[]))  # start with no custom mapping
    page.goto("/settings/sync#mappings")
    mappings = page.locator("#custom-mappings tbody tr")
    expect(mappings).to_have_count(0)

    page.click("#add-mapping")
    row = mappings.first
    row.get_by_label("HubSpot property").select_option("hs_purchase_order_number")
    row.get_by_label("Direction").select_option("both")
    row.get_by_label("QuickBooks custom field").select_option("PO Number")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.locator(".flash.success")).to_have_text("Field mappings saved.")
    expect(page.locator("#custom-mappings tbody tr")).to_have_count(1)

    po_number = f"PO-{uuid.uuid4().hex[:8].upper()}"
    invoice_id = ui.create_invoice(
        page, contact="Hiro", products=[("Data migration", "1")], po_number=po_number
    )
    ui.expect_sync_status(page, "Synced")
    # The panel shows what QuickBooks holds, read back from it.
    expect(page.locator("#panel [data-qbo-field='PO Number']")).to_have_text(po_number)
    assert _qbo_custom_fields(stack, invoice_id).get("PO Number") == po_number

    page.get_by_role("link", name="View invoice in QuickBooks").click()
    expect(page.locator("main [data-qbo-field='PO Number']")).to_have_text(po_number)


def test_custom_property_created_and_mapped(page: Page, ui: Any, stack: ConsoleStack) -> None:
    suffix = uuid.uuid4().hex[:5]
    label = f"Project code {suffix}"
    page.goto("/settings/properties")
    page.fill("#prop-label", label)
    page.select_option("#prop-type", "text")
    page.fill("#prop-description", "Which client project this invoice bills")
    page.get_by_role("button", name="Create property").click()
    expect(page.locator(".flash.success")).to_contain_text(f"Property “{label}” created.")
    name = f"project_code_{suffix}"
    expect(page.locator(f"#custom-properties tr[data-property='{name}']")).to_contain_text(label)

    page.goto("/settings/sync#mappings")
    page.click("#add-mapping")
    row = page.locator("#custom-mappings tbody tr").last
    row.get_by_label("HubSpot property").select_option(name)
    row.get_by_label("QuickBooks custom field").select_option("Project")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.locator(".flash.success")).to_have_text("Field mappings saved.")

    invoice_id = ui.create_invoice(
        page, contact="Ines", products=[("Consulting hour", "4")], properties={name: "APOLLO-7"}
    )
    expect(page.locator(f"#panel [data-property='{name}']")).to_have_text("APOLLO-7")
    ui.expect_sync_status(page, "Synced")
    expect(page.locator("#panel [data-qbo-field='Project']")).to_have_text("APOLLO-7")
    assert _qbo_custom_fields(stack, invoice_id).get("Project") == "APOLLO-7"
