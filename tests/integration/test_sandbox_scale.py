"""`--seed demo --scale N`: both sandboxes hold the demo data plus N generated invoices in every
state with their people, products and payments, the same ones for the same scale seed, and the
two sides agree on who the customers are."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ledgerbridge.demo import DemoOptions, sandbox_apps
from ledgerbridge.sandbox import demo_data, scale_data
from ledgerbridge.sandbox.hubspot.sandbox import HubSpotSandbox
from ledgerbridge.sandbox.quickbooks.state import SandboxState

N = 400


def _shape(sb: HubSpotSandbox) -> list[tuple[str, ...]]:
    """What a portal holds, without ids and timestamps."""
    return sorted(
        (
            inv.properties.get("hs_invoice_status", ""),
            inv.properties.get("hs_amount_billed", ""),
            inv.properties.get("hs_invoice_latest_contact_email") or "",
            inv.properties.get("hs_purchase_order_number") or "",
        )
        for inv in sb.store.live("invoices")
    )


def test_scaled_company_is_reproducible_and_complete() -> None:
    assert list(scale_data.company(N, 7).invoices()) == list(scale_data.company(N, 7).invoices())
    assert list(scale_data.company(N, 7).invoices()) != list(scale_data.company(N, 8).invoices())

    demo = HubSpotSandbox(seed="demo")
    big = HubSpotSandbox(seed="demo", scale=N, scale_seed=7)
    again = HubSpotSandbox(seed="demo", scale=N, scale_seed=7)
    assert _shape(big) == _shape(again)
    generated = [i for i in scale_data.company(N, 7).invoices() if i.origin == "hubspot"]
    assert len(big.store.live("invoices")) == len(demo.store.live("invoices")) + len(generated)
    statuses = Counter(i.properties["hs_invoice_status"] for i in big.store.live("invoices"))
    assert set(statuses) == {"draft", "open", "paid", "voided"}
    payment_states = Counter(i.properties["hs_payment_status"] for i in big.store.live("invoices"))
    assert set(payment_states) == {"unpaid", "paid", "partially_paid"}
    assert len(big.store.live("contacts")) == len(demo_data.people()) + N // 10
    assert len(big.store.live("products")) == len(demo_data.PRODUCTS) + scale_data.EXTRA_PRODUCTS
    assert len(big.store.live("commerce_payments")) > N // 4

    qbo = SandboxState(seed_name="demo", scale=N, scale_seed=7)
    realm = qbo.default_realm_id
    count = qbo.query(realm, "select count(*) from Invoice")["totalCount"]
    qbo_demo = SandboxState(seed_name="demo")
    demo_count = qbo_demo.query(qbo_demo.default_realm_id, "select count(*) from Invoice")
    assert count == demo_count["totalCount"] + N - len(generated)
    assert (
        qbo.query(realm, "select count(*) from Payment")["totalCount"] > (N - len(generated)) // 3
    )
    emails = {c.properties["email"] for c in big.store.live("contacts")}
    customers = qbo.query(realm, "select * from Customer maxresults 1000")["Customer"]
    assert {c["PrimaryEmailAddr"]["Address"] for c in customers} == emails
    skus = {p.properties["hs_sku"] for p in big.store.live("products")}
    items = qbo.query(realm, "select * from Item maxresults 1000")["Item"]
    assert skus <= {i.get("Sku") for i in items}


def test_demo_scale_option_reaches_both_sandboxes(tmp_path: Path) -> None:
    """`ledgerbridge demo --scale N` builds its sandboxes through DemoOptions.scale."""
    hs, qb = sandbox_apps(DemoOptions(data_dir=tmp_path, scale=50))
    people = len(demo_data.people()) + 5
    assert len(hs.state.sandbox.store.live("contacts")) == people
    state = qb.state.sandbox
    assert state.query(state.default_realm_id, "select count(*) from Customer") == {
        "totalCount": people
    }
