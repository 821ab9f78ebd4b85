"""What the QBO sandbox writes to its journal (../journal.py): per company, the records written
since the last save (or their tombstones), the request-id log's new entries, new outbox mail and
the id/number counters; whole companies when they are new; OAuth when it changed. `apply`
replays one entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledgerbridge.sandbox.quickbooks.company import Company
from ledgerbridge.sandbox.quickbooks.wire import dumps

if TYPE_CHECKING:
    from ledgerbridge.sandbox.quickbooks.state import SandboxState


def _company_changes(company: Company, outbox_saved: int) -> dict[str, Any] | None:
    records = []
    for entity, rid in sorted(company.dirty):
        record = company.entities.get(entity, {}).get(rid)
        tombstone = company.tombstones.get(entity, {}).get(rid) if record is None else None
        records.append([entity, rid, record, tombstone])
    company.dirty.clear()
    requests = [
        [r, company.request_log[r]] for r in company.new_requests if r in company.request_log
    ]
    company.new_requests.clear()
    outbox = company.outbox[outbox_saved:]
    if not (records or requests or outbox):
        return None
    return {
        "realm": company.realm_id,
        "records": records,
        "requests": requests,
        "outbox": outbox,
        "next_ids": company.next_ids,
        "doc_numbers": company.doc_numbers,
    }


def changes(state: SandboxState, last_meta: str | None) -> tuple[dict[str, Any], str]:
    """The entry for everything changed since the last call, and the serialised small state
    (default realm, OAuth) to compare the next call with."""
    entry: dict[str, Any] = {}
    full, parts = [], []
    for realm, company in state.companies.items():
        saved = state._outbox_saved.get(realm, 0)
        if realm in state._new_realms:
            full.append(company.to_json())
            company.dirty.clear()
            company.new_requests.clear()
        else:
            part = _company_changes(company, saved)
            if part is not None:
                parts.append(part)
        state._outbox_saved[realm] = len(company.outbox)
    state._new_realms.clear()
    if full:
        entry["new_companies"] = full
    if parts:
        entry["companies"] = parts
    meta = dumps({"default_realm": state.default_realm, "oauth": state.oauth.to_json()})
    if meta != last_meta:
        entry["meta"] = {"default_realm": state.default_realm, "oauth": state.oauth.to_json()}
    return entry, meta


def apply(state: SandboxState, entry: dict[str, Any]) -> None:
    for data in entry.get("new_companies", []):
        state.companies[data["realm_id"]] = Company.from_json(data)
    for part in entry.get("companies", []):
        company = state.companies[part["realm"]]
        for entity, rid, record, tombstone in part["records"]:
            table = company.entities.setdefault(entity, {})
            if record is not None:
                table[rid] = record
            else:
                table.pop(rid, None)
                if tombstone is not None:
                    company.tombstones.setdefault(entity, {})[rid] = tombstone
        for rid, logged in part["requests"]:
            company.remember_request(rid, logged)
        company.new_requests.clear()
        company.outbox.extend(part["outbox"])
        company.next_ids = part["next_ids"]
        company.doc_numbers = part["doc_numbers"]
        company.dirty.clear()
        company.changed.clear()
        company.doc_index = None  # derived from the entities: rebuilt on use
    meta = entry.get("meta")
    if meta is not None:
        state.default_realm = meta["default_realm"]
        state.oauth.load(meta["oauth"])
