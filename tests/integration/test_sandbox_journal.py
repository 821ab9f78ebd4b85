"""Sandbox persistence: saves append what changed to a journal; a restart (snapshot + journal)
gives back exactly the state that was saved; a torn last line (a crash mid-write) is dropped and
the state is the previous save's."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from ledgerbridge.sandbox.hubspot.sandbox import HubSpotSandbox
from ledgerbridge.sandbox.journal import Journal
from ledgerbridge.sandbox.quickbooks import operations
from ledgerbridge.sandbox.quickbooks.state import SandboxState
from ledgerbridge.sandbox.quickbooks.wire import dumps


def _norm(sb: HubSpotSandbox) -> str:
    """The snapshot with its lists in a fixed order (edge and record order carry no meaning)."""
    data = sb.snapshot()
    data["graph"]["edges"].sort()
    data["store"]["records"].sort(key=lambda r: (r["object_type"], int(r["id"])))
    return json.dumps(data, sort_keys=True)


def _hubspot_writes(sb: HubSpotSandbox, n: int) -> None:
    contact = sb.create_object("contacts", {"email": f"j{n}@x.example", "firstname": "J"})
    company = sb.create_object("companies", {"name": f"Co {n}"})
    sb.associate("contacts", contact, "companies", company)
    inv = sb.create_object("invoices", {"hs_currency": "USD"})
    sb.associate("invoices", inv, "contacts", contact)
    item = sb.create_object("line_items", {"name": "x", "quantity": "2", "price": "5"})
    sb.associate("invoices", inv, "line_items", item)
    sb.update_object("contacts", contact, {"firstname": f"Jay{n}"})
    draft = sb.create_object("invoices", {"hs_currency": "EUR"})
    sb.archive_object("invoices", draft)
    sb.unassociate("contacts", contact, "companies", company)


def test_hubspot_restart_replays_the_journal(tmp_path: Path) -> None:
    sb = HubSpotSandbox(seed="demo", state_dir=tmp_path)
    snapshot_size = (tmp_path / "hubspot.json").stat().st_size
    for n in range(3):
        _hubspot_writes(sb, n)
        sb.save()
    sb.props.create(
        "contacts",
        {
            "name": "qbo_customer_id",
            "label": "Q",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
        sb.now_ms(),
    )
    sb.set_webhook("http://127.0.0.1:9/hook", "s3cret", ["invoice.creation"])
    sb.save()
    journal = (tmp_path / "hubspot.journal").read_text()
    assert journal.count("\n") == 4  # one line per save with changes
    assert (
        tmp_path / "hubspot.json"
    ).stat().st_size == snapshot_size  # the snapshot was not rewritten
    assert len(journal) < snapshot_size  # a save costs its change, not the portal
    again = HubSpotSandbox(state_dir=tmp_path)
    assert _norm(again) == _norm(sb)
    again.save(compact=True)  # compaction folds the journal into the snapshot
    assert (tmp_path / "hubspot.journal").read_text() == ""
    third = HubSpotSandbox(state_dir=tmp_path)
    assert _norm(third) == _norm(sb)
    assert third.create_object("contacts", {"email": "next@x.example"}) not in {
        r.id for recs in sb.store.records.values() for r in recs.values()
    }


def test_hubspot_torn_journal_line_is_dropped(tmp_path: Path) -> None:
    sb = HubSpotSandbox(state_dir=tmp_path)
    kept = sb.create_object("contacts", {"email": "kept@x.example"})
    sb.save()
    sb.create_object("contacts", {"email": "lost@x.example"})
    sb.save()
    path = tmp_path / "hubspot.journal"
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last + (len(data) - last) // 2])  # the last write, half done
    again = HubSpotSandbox(state_dir=tmp_path)
    assert [r.properties["email"] for r in again.store.live("contacts")] == ["kept@x.example"]
    assert again.get_object("contacts", kept) is not None
    made = again.create_object("contacts", {"email": "after@x.example"})
    again.save()
    third = HubSpotSandbox(state_dir=tmp_path)  # writes after the torn line are not lost
    assert third.get_object("contacts", made).properties["email"] == "after@x.example"


def _qbo_writes(state: SandboxState, n: int) -> None:
    realm = state.default_realm_id
    customer = state.create_entity(realm, "Customer", {"DisplayName": f"Journal {n}"})
    item = state.create_entity(
        realm,
        "Item",
        {"Name": f"J item {n}", "Type": "Service", "IncomeAccountRef": {"value": "1"}},
    )
    line = {
        "DetailType": "SalesItemLineDetail",
        "Amount": Decimal("40"),
        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}},
    }
    invoice = state.create_entity(
        realm, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )
    state.create_entity(
        realm,
        "Payment",
        {
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": Decimal("15"),
            "Line": [
                {
                    "Amount": Decimal("15"),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )
    state.update_entity(
        realm,
        "Customer",
        {
            "Id": customer["Id"],
            "SyncToken": state.get_entity(realm, "Customer", customer["Id"])["SyncToken"],
            "sparse": True,
            "Notes": f"n{n}",
        },
    )
    gone = state.create_entity(
        realm, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    )
    operations.delete(
        state.env(realm), "Invoice", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]}
    )


def test_qbo_restart_replays_the_journal(tmp_path: Path) -> None:
    state = SandboxState(seed_name="demo", state_dir=tmp_path)
    snapshot = tmp_path / "quickbooks-sandbox.json"
    size = snapshot.stat().st_size
    state._loop_running = True  # as under the app: saves are explicit, not one per write
    for n in range(3):
        _qbo_writes(state, n)
        state.save()
    second = state.add_company()
    state.create_entity(second, "Customer", {"DisplayName": "Other realm"})
    state.save()
    journal = (tmp_path / "quickbooks-sandbox.journal").read_text()
    assert journal.count("\n") == 4
    assert snapshot.stat().st_size == size
    again = SandboxState(state_dir=tmp_path)
    assert dumps(again._snapshot()) == dumps(state._snapshot())
    assert again.query(second, "select * from Customer where DisplayName = 'Other realm'")
    again.save(compact=True)
    assert (tmp_path / "quickbooks-sandbox.journal").read_text() == ""
    assert dumps(SandboxState(state_dir=tmp_path)._snapshot()) == dumps(state._snapshot())


def test_journal_compaction_is_due_when_it_outgrows_the_snapshot(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "j", min_compact_bytes=10)
    journal.compact({"records": {"a": 1}})
    assert not journal.due()
    journal.append({"records": {"b": 2}})
    journal.append({"records": {"c": 3}})
    assert journal.due()  # the journal is now bigger than the snapshot
    journal.compact({"records": {"a": 1, "b": 2, "c": 3}})
    assert not journal.due()
    reread = Journal(tmp_path, "j")
    found = reread.load()
    assert found is not None
    snapshot, entries = found
    assert snapshot["records"] == {"a": 1, "b": 2, "c": 3} and entries == []
    reread.append({"records": {"d": 4}})
    assert Journal(tmp_path, "j").load() == (
        {"records": {"a": 1, "b": 2, "c": 3}, "journal_seq": 2},
        [{"records": {"d": 4}, "seq": 3}],
    )
