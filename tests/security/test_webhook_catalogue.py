"""Bad webhook inputs, over a real socket, each with its exact outcome.

Every row: who signs the body (the public sandbox secret, the real secret, a wrong one, nobody),
the body, the HTTP status and message expected, and exactly which records end up marked dirty on
the sandbox and the real connection (nothing lost, nothing duplicated, nothing forged).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx
import pytest
from security_helpers import REAL_PORTAL, REAL_REALM, SANDBOX_PORTAL, SANDBOX_REALM, Served

from ledgerbridge.bootstrap import SANDBOX_CLIENT_SECRET, SANDBOX_VERIFIER_TOKEN
from ledgerbridge.connectors.hubspot import webhooks as hs
from ledgerbridge.connectors.quickbooks import webhooks as qbo

QB, HS = "quickbooks", "hubspot"


def legacy(entities: list[object], realm: object = SANDBOX_REALM) -> bytes:
    note = {"realmId": realm, "dataChangeEvent": {"entities": entities}}
    return json.dumps({"eventNotifications": [note]}).encode()


def entity(id_: object = "130", name: object = "Invoice", **extra: object) -> dict[str, object]:
    return {"name": name, "id": id_, "operation": "Update", "lastUpdated": "2026-01-01", **extra}


def cloud(entity_id: object = "55", account: object = SANDBOX_REALM, **extra: object) -> bytes:
    event = {
        "specversion": "1.0",
        "id": "e1",
        "type": "qbo.invoice.updated.v1",
        "intuitentityid": entity_id,
        "intuitaccountid": account,
        **extra,
    }
    return json.dumps([event]).encode()


def hs_event(object_id: object = 123, portal: object = SANDBOX_PORTAL, **extra: object) -> dict:
    return {
        "eventId": 1,
        "portalId": portal,
        "subscriptionType": "object.propertyChange",
        "objectTypeId": "0-53",
        "objectId": object_id,
        **extra,
    }


def hs_body(*events: object) -> bytes:
    return json.dumps(list(events)).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


@dataclass(frozen=True)
class Row:
    name: str
    side: str
    body: bytes
    status: int
    message: str  # a substring of the answer's "error"
    sandbox: list[tuple[str, str, str]] = field(default_factory=list)  # dirty keys after
    real: list[tuple[str, str, str]] = field(default_factory=list)
    key: str | None = "sandbox"  # which secret signs it: sandbox, real, wrong, or None
    signature: str = "v3"  # HubSpot: v3, v1, stale, badts
    marked: int | None = None  # the answer's count, when not one per dirty key


INV_130 = [(QB, "invoice", "130")]
HS_123 = [(HS, "invoice", "123")]

QBO_ROWS = [
    Row("legacy signed by the sandbox", QB, legacy([entity()]), 200, "", sandbox=INV_130),
    Row(
        "same entity twice: one mark",
        QB,
        legacy([entity(), entity()]),
        200,
        "",
        sandbox=INV_130,
        marked=2,  # two events seen, one record marked
    ),
    Row("cloudevents signed by the sandbox", QB, cloud(), 200, "", sandbox=[(QB, "invoice", "55")]),
    Row("sandbox secret forging a real realm", QB, legacy([entity()], REAL_REALM), 200, ""),
    Row(
        "sandbox secret, no realm, real not marked",
        QB,
        legacy([entity()], None),
        200,
        "",
        sandbox=INV_130,
    ),
    Row("sandbox secret forging a real account (cloud)", QB, cloud(account=REAL_REALM), 200, ""),
    Row("no signature", QB, legacy([entity()]), 401, "did not verify", key=None),
    Row("wrong signature", QB, legacy([entity()]), 401, "did not verify", key="wrong"),
    Row("JSON string body", QB, b'"abc"', 400, "must be a JSON object or array"),
    Row("JSON number body", QB, b"1", 400, "must be a JSON object or array"),
    Row("JSON null body", QB, b"null", 400, "must be a JSON object or array"),
    Row("notification is a number", QB, b'{"eventNotifications":[1]}', 400, "eventNotifications.0"),
    Row("notifications not a list", QB, b'{"eventNotifications":"x"}', 400, "eventNotifications"),
    Row("cloud event is a number", QB, b"[1]", 400, "QuickBooks webhook body: 0"),
    Row("path traversal id", QB, legacy([entity("../../etc/passwd")]), 400, "entities.0.id"),
    Row("url-encoded traversal id", QB, legacy([entity("..%2F..%2Fetc")]), 400, "entities.0.id"),
    Row("id with a slash", QB, legacy([entity("1/2")]), 400, "entities.0.id"),
    Row("negative id", QB, legacy([entity("-1")]), 400, "entities.0.id"),
    Row("id with spaces", QB, legacy([entity(" 1")]), 400, "entities.0.id"),
    Row("float id", QB, legacy([entity(1.5)]), 400, "entities.0.id"),
    Row("boolean id", QB, legacy([entity(True)]), 400, "entities.0.id"),
    Row("40-digit id", QB, legacy([entity("1" * 40)]), 400, "entities.0.id"),
    Row("empty id", QB, legacy([entity("")]), 400, "entities.0.id"),
    Row("missing id", QB, legacy([{"name": "Invoice"}]), 400, "entities.0.id"),
    Row("traversal in deletedId", QB, legacy([entity(deletedId="../9")]), 400, "deletedId"),
    Row("realm id not digits", QB, legacy([entity()], "x/../1"), 400, "realmId"),
    Row("entity name 300 chars", QB, legacy([entity(name="I" * 300)]), 400, "name"),
    Row("cloud traversal id", QB, cloud("../../etc/passwd"), 400, "intuitentityid"),
    Row("cloud deletedid traversal", QB, cloud(data={"deletedid": "a/b"}), 400, "deletedid"),
    Row("not JSON", QB, b"{", 400, "not JSON"),
    Row("empty body", QB, b"", 400, "not JSON"),
    Row("invalid UTF-8", QB, b'{"a":"\xff"}', 400, "not JSON"),
    Row("nested 100,000 deep", QB, DEEP, 400, "nested too deeply"),
    Row("objects nested 50,000 deep", QB, DEEP_OBJECT, 400, "nested too deeply"),
]

HS_ROWS = [
    Row("v3 signed by the sandbox", HS, hs_body(hs_event()), 200, "", sandbox=HS_123),
    Row("one event as an object", HS, json.dumps(hs_event()).encode(), 200, "", sandbox=HS_123),
    Row(
        "same event twice: one mark",
        HS,
        hs_body(hs_event(), hs_event()),
        200,
        "",
        sandbox=HS_123,
        marked=2,
    ),
    Row("sandbox secret forging a real portal", HS, hs_body(hs_event(portal=REAL_PORTAL)), 200, ""),
    Row(
        "legacy v1 signature (no timestamp)",
        HS,
        hs_body(hs_event()),
        401,
        "v3 signatures are required",
        signature="v1",
    ),
    Row(
        "legacy v2 signature (no timestamp)",
        HS,
        hs_body(hs_event()),
        401,
        "did not verify",
        signature="v2",
    ),
    Row(
        "v3 with a stale timestamp",
        HS,
        hs_body(hs_event()),
        401,
        "did not verify",
        signature="stale",
    ),
    Row(
        "v3 with a non-numeric timestamp",
        HS,
        hs_body(hs_event()),
        401,
        "did not verify",
        signature="badts",
    ),
    Row("no signature", HS, hs_body(hs_event()), 401, "did not verify", key=None),
    Row("wrong secret", HS, hs_body(hs_event()), 401, "did not verify", key="wrong"),
    Row("JSON string body", HS, b'"abc"', 400, "must be a JSON array"),
    Row("JSON number body", HS, b"1", 400, "must be a JSON array"),
    Row("event is a number", HS, b"[1]", 400, "HubSpot webhook body: 0"),
    Row("path traversal objectId", HS, hs_body(hs_event("../../x")), 400, "0.objectId"),
    Row("float objectId", HS, hs_body(hs_event(1.5)), 400, "0.objectId"),
    Row("negative objectId", HS, hs_body(hs_event(-5)), 400, "0.objectId"),
    Row("40-digit objectId", HS, hs_body(hs_event("9" * 40)), 400, "0.objectId"),
    Row("portalId not digits", HS, hs_body(hs_event(portal="x")), 400, "0.portalId"),
    Row(
        "subscriptionType not text",
        HS,
        hs_body(hs_event(subscriptionType=5)),
        400,
        "subscriptionType",
    ),
    Row("association id traversal", HS, hs_body(hs_event(fromObjectId="a/b")), 400, "fromObjectId"),
    Row("nested 100,000 deep", HS, DEEP, 400, "nested too deeply"),
    Row("not JSON", HS, b"[{", 400, "not JSON"),
    Row("invalid UTF-8", HS, b'[{"a":"\xff"}]', 400, "malformed webhook body"),
]


def _post(served: Served, row: Row) -> httpx.Response:
    secrets = {
        "sandbox": (SANDBOX_CLIENT_SECRET, SANDBOX_VERIFIER_TOKEN),
        "real": ("real-hubspot-secret", "real-verifier-token"),
        "wrong": ("wrong-secret", "wrong-token"),
    }
    headers = {"content-type": "application/json"}
    if row.side == QB:
        url = f"{served.url}/webhooks/quickbooks"
        if row.key:
            headers["intuit-signature"] = qbo.signature(secrets[row.key][1], row.body)
    else:
        url = f"{served.url}/webhooks/hubspot"
        if row.key:
            secret = secrets[row.key][0]
            now = int(time.time() * 1000)
            ts = {"stale": str(now - 10 * 60 * 1000), "badts": "soon"}.get(row.signature, str(now))
            text = row.body.decode("utf-8", "replace")
            if row.signature == "v1":
                headers["x-hubspot-signature"] = hs.signature_v1(secret, text)
                headers["x-hubspot-signature-version"] = "v1"
            elif row.signature == "v2":
                headers["x-hubspot-signature"] = hs.signature_v2(secret, "POST", url, text)
                headers["x-hubspot-signature-version"] = "v2"
            else:
                headers["x-hubspot-request-timestamp"] = ts
                signed = ts if row.signature != "badts" else str(now)
                headers["x-hubspot-signature-v3"] = hs.signature_v3(
                    secret, "POST", url, text, signed
                )
    return httpx.post(url, content=row.body, headers=headers, timeout=30)


def _check(served: Served, row: Row) -> None:
    response = _post(served, row)
    assert response.status_code == row.status, (row.name, response.text)
    if row.status == 200:
        expected = len(row.sandbox) + len(row.real) if row.marked is None else row.marked
        assert response.json() == {"marked": expected}, row.name
    else:
        answer = response.json()
        assert row.message in f"{answer['error']} {answer.get('hint', '')}", (row.name, answer)
    assert served.dirty(served.sandbox_id) == sorted(row.sandbox), row.name
    assert served.dirty(served.real_id) == sorted(row.real), row.name


@pytest.mark.parametrize("row", QBO_ROWS + HS_ROWS, ids=lambda r: f"{r.side}: {r.name}")
def test_bad_webhook(served: Served, row: Row) -> None:
    _check(served, row)


REAL_ROWS = [
    Row(
        "QBO real token, real realm",
        QB,
        legacy([entity()], REAL_REALM),
        200,
        "",
        real=INV_130,
        key="real",
    ),
    Row("QBO sandbox token, real realm", QB, legacy([entity()], REAL_REALM), 200, ""),
    Row("QBO sandbox token, sandbox realm", QB, legacy([entity()]), 200, "", sandbox=INV_130),
    Row(
        "HubSpot real secret, real portal",
        HS,
        hs_body(hs_event(portal=REAL_PORTAL)),
        200,
        "",
        real=HS_123,
        key="real",
    ),
    Row("HubSpot sandbox secret, real portal", HS, hs_body(hs_event(portal=REAL_PORTAL)), 200, ""),
]


@pytest.mark.parametrize("row", REAL_ROWS, ids=lambda r: r.name)
def test_real_secret_marks_real_connections_only_it_signed_for(
    served_with_secrets: Served, row: Row
) -> None:
    _check(served_with_secrets, row)


@pytest.mark.parametrize(
    "row",
    [
        Row(
            "QBO, no verifier token set",
            QB,
            legacy([entity()], REAL_REALM),
            403,
            "LEDGERBRIDGE_QBO_WEBHOOK_VERIFIER_TOKEN is not set",
        ),
        Row(
            "HubSpot, no client secret set",
            HS,
            hs_body(hs_event(portal=REAL_PORTAL)),
            403,
            "LEDGERBRIDGE_HUBSPOT_CLIENT_SECRET is not set",
        ),
    ],
    ids=lambda r: r.name,
)
def test_real_connections_without_secrets_refuse_webhooks(
    served_real_only: Served, row: Row
) -> None:
    response = _post(served_real_only, row)
    assert response.status_code == 403
    assert row.message in response.json()["error"]
    assert served_real_only.dirty(served_real_only.real_id) == []


def test_legacy_signatures_when_enabled_are_accepted_once(served_legacy: Served) -> None:
    row = Row(
        "v1, real secret",
        HS,
        hs_body(hs_event(portal=REAL_PORTAL)),
        200,
        "",
        real=HS_123,
        key="real",
        signature="v1",
    )
    _check(served_legacy, row)
    replay = _post(served_legacy, row)
    assert replay.status_code == 401
    assert "did not verify" in replay.json()["error"]
