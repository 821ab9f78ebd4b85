"""History: what happened to an invoice, and the Activity log across all records.

Four sources, merged newest first:
- HubSpot's own property history (propertiesWithHistory): changes made on the HubSpot side;
- the sync step log (sync_steps): every step the engine took and how it ended, including what
  it wrote to QuickBooks (counterpart number);
- the audit log: conflict decisions (which side won a field and why) and parity failures;
- console events: who clicked what (retry, refund, delete, create, settings, logins).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ledgerbridge.domain import Side
from ledgerbridge.engine.ports import INVOICE
from ledgerbridge.web.formatting import SYNC_STATUS_LABELS

# Invoice properties whose HubSpot history is shown, in people's words.
WATCHED = {
    "hs_invoice_status": "Status",
    "hs_amount_billed": "Amount billed",
    "hs_balance_due": "Balance due",
    "hs_due_date": "Due date",
    "hs_title": "Title",
    "hs_purchase_order_number": "PO number",
    "hs_payment_status": "Payment status",
}
SOURCE_WORDS = {
    "API": "through the API (this sync or another app)",
    "CRM_UI": "by a user in HubSpot",
    "INTEGRATION": "by an integration",
    "IMPORT": "by an import",
    "WORKFLOWS": "by a workflow",
    "CALCULATED": "calculated by HubSpot",
}
KINDS = {
    "change": "Change in HubSpot",
    "sync": "Sync step",
    "decision": "Conflict decision",
    "console": "Console action",
}
ACTIVITY_KINDS = ("sync", "decision", "console")
SIDE_WORDS = {"hubspot": "HubSpot", "quickbooks": "QuickBooks"}
# Cells a spreadsheet would run as a formula (or that hide one behind a tab or line break).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    kind: str  # change | sync | decision | console
    title: str
    detail: str = ""
    who: str = ""
    outcome: str = ""
    record: str = ""  # what the entry is about, in words (Activity page)
    link: str = ""  # where to see the record


def _step_entry(step: Any, record_words: str = "", link: str = "") -> HistoryEntry:
    status = SYNC_STATUS_LABELS.get(step.status, step.status)
    side = SIDE_WORDS.get(step.side, step.side)
    if step.status == "synced":
        where = "QuickBooks" if step.side == Side.HUBSPOT.value else "HubSpot"
        number = f" as {step.counterpart_number}" if step.counterpart_number else ""
        title = f"Synced to {where}{number}"
    elif step.status == "failed":
        title = f"Sync failed ({step.category or 'error'}), attempt {step.attempts}"
    else:
        title = f"Sync: {status}"
    return HistoryEntry(
        at=step.at,
        kind="sync",
        title=title,
        detail=step.message or f"from {side}",
        who="sync",
        outcome=step.status,
        record=record_words,
        link=link,
    )


def _decision_entry(entry: Any, record_words: str = "", link: str = "") -> HistoryEntry:
    return HistoryEntry(
        at=entry.at,
        kind="decision",
        title=f"{entry.field_name}: {entry.winner}",
        detail=f"kept {_short(entry.new)}; overwritten {_short(entry.old)}",
        who="sync",
        outcome="decided",
        record=record_words,
        link=link,
    )


def _event_entry(event: Any, record_words: str = "", link: str = "") -> HistoryEntry:
    return HistoryEntry(
        at=event.at,
        kind="console",
        title=event.action,
        detail=(event.detail or "") if event.outcome != "done" else "",
        who=event.username or "unknown",
        outcome=event.outcome,
        record=record_words,
        link=link,
    )


def _short(value: Any) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _hubspot_changes(record: dict[str, Any] | None) -> list[HistoryEntry]:
    out: list[HistoryEntry] = []
    history = (record or {}).get("propertiesWithHistory") or {}
    for name, label in WATCHED.items():
        versions = list(history.get(name) or [])
        for index, version in enumerate(versions):
            at = _instant(version.get("timestamp"))
            if at is None:
                continue
            first = index == len(versions) - 1
            kind = str(version.get("sourceType") or "")
            source = SOURCE_WORDS.get(kind, f"source {kind.lower()}" if kind else "no source given")
            out.append(
                HistoryEntry(
                    at=at,
                    kind="change",
                    title=f"{label} {'set' if first else 'changed'} to {_short(version.get('value'))}",
                    detail=f"in HubSpot, {source}",
                    who="HubSpot",
                    outcome="changed",
                )
            )
    return out


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


async def invoice_history(console: Any, invoice_id: str, limit: int = 100) -> list[HistoryEntry]:
    """Everything known about one HubSpot invoice, newest first."""
    store = console.store
    conn = console.connection_id
    link = store.get_link(conn, INVOICE, Side.HUBSPOT, invoice_id)
    ids = [invoice_id] + ([link.qbo_id] if link is not None and link.qbo_id else [])
    entries: list[HistoryEntry] = []
    entries += [_step_entry(s) for s in store.list_steps(conn, object_type=INVOICE, source_ids=ids)]
    for record in ids:
        entries += [_decision_entry(a) for a in store.list_audit(conn, INVOICE, record)]
    entries += [
        _event_entry(e) for e in store.list_events(object_type="invoice", record=invoice_id)
    ]
    record = await console.hubspot.get("invoices", invoice_id, ["hs_number"], history=list(WATCHED))
    entries += _hubspot_changes(record)
    entries.sort(key=lambda e: e.at, reverse=True)
    return collapse_repeats(entries)[:limit]


def collapse_repeats(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Newest first, with runs of the same sync outcome in a row (a verification pass records
    the invoice, its payments' re-check and the echo of its own write as separate steps, each
    "Synced to QuickBooks as 1042") shown once: the newest, saying how many steps it stands for
    and since when. A different entry between two equal ones keeps them apart."""
    out: list[HistoryEntry] = []
    runs: list[tuple[int, dt.datetime, str]] = []
    for entry in entries:
        last = out[-1] if out else None
        if (
            last is not None
            and entry.kind == last.kind == "sync"
            and (entry.title, entry.outcome, entry.record)
            == (last.title, last.outcome, last.record)
            and entry.detail == runs[-1][2]
        ):
            count, _oldest, detail = runs[-1]
            runs[-1] = (count + 1, entry.at, detail)
            continue
        out.append(entry)
        runs.append((1, entry.at, entry.detail))
    return [
        entry
        if count == 1
        else replace(
            entry, detail=f"{detail} ({count} steps since {oldest:%Y-%m-%d %H:%M:%S})".strip()
        )
        for entry, (count, oldest, detail) in zip(out, runs, strict=True)
    ]


# ---- the Activity page ----------------------------------------------------------------------------
@dataclass
class ActivityQuery:
    kind: str = ""
    who: str = ""
    record: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Any) -> ActivityQuery:
        query = cls()
        kind = str(params.get("kind") or "")
        if kind and kind not in ACTIVITY_KINDS:
            query.problems.append(
                f"Kind {kind!r} is not one of: sync, decision, console. The filter was not applied."
            )
        else:
            query.kind = kind
        query.who = str(params.get("who") or "").strip()[:100]
        query.record = str(params.get("record") or "").strip()[:200]
        for name, label in (("date_from", "From date"), ("date_to", "To date")):
            raw = params.get(name)
            if raw:
                try:
                    setattr(query, name, dt.date.fromisoformat(str(raw)))
                except ValueError:
                    query.problems.append(f"{label} {raw!r} is not a date (YYYY-MM-DD).")
        return query

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        since = dt.datetime.combine(self.date_from, dt.time(), dt.UTC) if self.date_from else None
        until = (
            dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), dt.UTC)
            if self.date_to
            else None
        )
        return since, until


def _record_words(object_type: str | None, side: str | None, record: str | None) -> str:
    if not record:
        return ""
    kind = (object_type or "record").replace("_", " ")
    where = f" ({SIDE_WORDS.get(side or '', side)})" if side else ""
    return f"{kind} {record}{where}"


def _record_link(object_type: str | None, side: str | None, record: str | None) -> str:
    if object_type == INVOICE and record and side in (None, "hubspot") and record.isdigit():
        return f"/invoices?open={record}"
    return ""


def activity(console: Any, query: ActivityQuery, limit: int = 500) -> list[HistoryEntry]:
    store = console.store
    conn = console.connection_id if console.connected else None
    since, until = query.bounds()
    entries: list[HistoryEntry] = []
    record_ids = [query.record] if query.record else None
    if conn is not None and query.kind in ("", "sync") and not query.who:
        for s in store.list_steps(
            conn, source_ids=record_ids, since=since, until=until, limit=limit
        ):
            words = _record_words(s.object_type, s.side, s.source_id)
            entries.append(_step_entry(s, words, _record_link(s.object_type, s.side, s.source_id)))
    if conn is not None and query.kind in ("", "decision") and not query.who:
        for a in store.list_audit(conn, record=query.record or None, limit=limit):
            if (since and a.at < since) or (until and a.at >= until):
                continue
            words = _record_words(a.object_type, None, a.record)
            entries.append(_decision_entry(a, words, _record_link(a.object_type, None, a.record)))
    if query.kind in ("", "console"):
        for e in store.list_events(
            username=query.who or None, record=query.record or None, since=since, limit=limit
        ):
            if until and e.at >= until:
                continue
            words = _record_words(e.object_type, None, e.record)
            entries.append(_event_entry(e, words, _record_link(e.object_type, None, e.record)))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading
    apostrophe (OWASP's advice for CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def activity_csv(entries: Iterable[HistoryEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["When (UTC)", "Kind", "Who", "What", "Record", "Outcome", "Detail"])
    for e in entries:
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    e.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    KINDS.get(e.kind, e.kind),
                    e.who,
                    e.title,
                    e.record,
                    e.outcome,
                    e.detail,
                )
            ]
        )
    return out.getvalue()


def kinds_for_filter() -> Sequence[tuple[str, str]]:
    return [(k, v) for k, v in KINDS.items() if k != "change"]
