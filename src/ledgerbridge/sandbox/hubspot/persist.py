"""What the HubSpot sandbox writes to its journal (../journal.py): the records and association
edges written since the last save, and the small rest (counters, property definitions,
association labels, OAuth, webhook settings) when it changed. `apply` replays one entry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .associations import AssociationGraph
from .properties import PropertyRegistry
from .store import Record

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox


def meta(sb: HubSpotSandbox) -> dict[str, Any]:
    graph = sb.graph.to_dict(edges=False)
    return {
        "store": {
            "next_id": sb.store.next_id,
            "last_ms": sb.store.last_ms,
            "sequences": sb.store.sequences,
        },
        "props": sb.props.to_dict(),
        "graph": graph,
        "oauth": sb.tokens.to_dict(),
        "webhooks": {
            "url": sb.webhooks.config.url,
            "secret": sb.webhooks.config.secret,
            "subscriptions": sb.webhooks.config.subscriptions,
        },
    }


def changes(sb: HubSpotSandbox, last_meta: str | None) -> tuple[dict[str, Any], str]:
    """The entry for everything written since the last call (call with the lock held), and the
    serialised meta to compare the next call with."""
    entry: dict[str, Any] = {}
    records, gone = [], []
    for object_type, rid in sorted(sb.store.dirty):
        rec = sb.store.of(object_type).get(rid)
        if rec is None:
            gone.append([object_type, rid])
        else:
            records.append(rec.to_dict())
    sb.store.dirty.clear()
    edges = [
        [
            k[0],
            k[1],
            k[2],
            [[to_id, sorted(ids)] for to_id, ids in sb.graph.edges.get(k, {}).items() if ids],
        ]
        for k in sorted(sb.graph.dirty)
    ]
    sb.graph.dirty.clear()
    if records:
        entry["records"] = records
    if gone:
        entry["gone"] = gone
    if edges:
        entry["edges"] = edges
    now_meta = json.dumps(meta(sb), separators=(",", ":"), sort_keys=True)
    if now_meta != last_meta:
        entry["meta"] = json.loads(now_meta)
    return entry, now_meta


def apply(sb: HubSpotSandbox, entry: dict[str, Any]) -> None:
    for raw in entry.get("records", []):
        rec = Record.from_dict(raw)
        sb.store.of(rec.object_type)[rec.id] = rec
    for object_type, rid in entry.get("gone", []):
        sb.store.of(object_type).pop(rid, None)
    for from_type, from_id, to_type, targets in entry.get("edges", []):
        key = (from_type, from_id, to_type)
        if targets:
            sb.graph.edges[key] = {to_id: set(ids) for to_id, ids in targets}
        else:
            sb.graph.edges.pop(key, None)
    m = entry.get("meta")
    if m is not None:
        sb.store.next_id = m["store"]["next_id"]
        sb.store.last_ms = m["store"]["last_ms"]
        sb.store.sequences = m["store"]["sequences"]
        sb.props = PropertyRegistry.from_dict(m["props"])
        graph = AssociationGraph.from_dict({**m["graph"], "edges": []})
        graph.edges = sb.graph.edges
        sb.graph = graph
        sb.tokens.load(m["oauth"])
        wh = m["webhooks"]
        sb.webhooks.set(wh.get("url"), wh.get("secret"), wh.get("subscriptions"))
