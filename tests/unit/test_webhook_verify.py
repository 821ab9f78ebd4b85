"""Webhook signature verification and parsing, against known vectors.

QBO: the vector from python-quickbooks' own tests (verifier `verify_me`, body `{"stuff":"5"}`).
HubSpot: the official SDK's Signature helper (hubspot-api-client) as an independent oracle for
v1/v2/v3, plus the 5-minute timestamp window.
"""

from __future__ import annotations

import json

import pytest
from hubspot.utils.signature import Signature

from ledgerbridge.connectors.hubspot import webhooks as hs
from ledgerbridge.connectors.quickbooks import webhooks as qbo
from ledgerbridge.connectors.webhook_event import dirty_keys
from ledgerbridge.engine.ports import CUSTOMER, INVOICE, ITEM, PAYMENT

QBO_VECTOR = ("verify_me", b'{"stuff":"5"}', "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA=")


# --------------------------------------------------------------------------------------------
# QuickBooks
# --------------------------------------------------------------------------------------------
def test_qbo_known_vector():
    token, body, expected = QBO_VECTOR
    assert qbo.signature(token, body) == expected
    assert qbo.verify(token, body, expected)


@pytest.mark.parametrize("tamper", ["body", "token", "signature", "missing"])
def test_qbo_rejects_tampering(tamper):
    token, body, expected = QBO_VECTOR
    if tamper == "body":
        assert not qbo.verify(token, b'{"stuff":"6"}', expected)
    elif tamper == "token":
        assert not qbo.verify("verify_you", body, expected)
    elif tamper == "signature":
        assert not qbo.verify(token, body, "m" + expected[1:])
    else:
        assert not qbo.verify(token, body, None)


def test_qbo_parse_legacy_payload():
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "1185883450",
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Invoice",
                                "id": "130",
                                "operation": "Create",
                                "lastUpdated": "2015-10-05T14:42:19-0700",
                            },
                            {
                                "name": "Payment",
                                "id": "77",
                                "operation": "Void",
                                "lastUpdated": "2015-10-05T14:42:19-0700",
                            },
                            {
                                "name": "Customer",
                                "id": "5",
                                "operation": "Merge",
                                "deletedId": "9",
                                "lastUpdated": "x",
                            },
                            {
                                "name": "Invoice",
                                "id": "130",
                                "operation": "Update",
                                "lastUpdated": "2015-10-05T14:43:19-0700",
                            },
                            {
                                "name": "Vendor",
                                "id": "1",
                                "operation": "Create",
                                "lastUpdated": "x",
                            },
                        ]
                    },
                }
            ]
        }
    )
    events = qbo.parse_events(body.encode())
    assert events[0].account_id == "1185883450"
    assert events[0].operation == "Create"
    assert dirty_keys(events) == [
        (INVOICE, "130"),
        (PAYMENT, "77"),
        (CUSTOMER, "5"),
        (CUSTOMER, "9"),
        ("vendor", "1"),
    ]


def test_qbo_parse_cloudevents_payload():
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "88cd52aa",
                "source": "intuit.x",
                "type": "qbo.invoice.created.v1",
                "datacontenttype": "application/json",
                "time": "2025-09-10T21:31:25Z",
                "intuitentityid": "1234",
                "intuitaccountid": "310687",
                "data": {},
            },
            {
                "specversion": "1.0",
                "id": "e2",
                "type": "qbo.item.updated.v1",
                "intuitentityid": "8",
                "intuitaccountid": "310687",
            },
        ]
    )
    events = qbo.parse_events(body)
    assert [(e.object_type, e.object_id, e.operation, e.account_id) for e in events] == [
        (INVOICE, "1234", "created", "310687"),
        (ITEM, "8", "updated", "310687"),
    ]
    assert events[0].event_id == "88cd52aa"


# --------------------------------------------------------------------------------------------
# HubSpot
# --------------------------------------------------------------------------------------------
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://example.com/webhooks/hubspot?connection=1"
BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"object.propertyChange","objectTypeId":"0-53","attemptNumber":0,'
    '"objectId":123,"propertyName":"hs_invoice_status","propertyValue":"open","changeSource":"CRM"}]'
)


def test_hubspot_v3_matches_official_sdk_and_window():
    now = 1_700_000_000_000
    ts = str(now - 1000)
    sdk = Signature.get_signature(
        SECRET, BODY, "v3", http_uri=URI, http_method="POST", timestamp=ts
    )
    assert hs.signature_v3(SECRET, "POST", URI, BODY.encode(), ts) == sdk
    headers = {"X-HubSpot-Signature-v3": sdk, "X-HubSpot-Request-Timestamp": ts}
    assert hs.verify(
        SECRET, method="POST", uri=URI, body=BODY.encode(), headers=headers, now_ms=now
    )
    # 5 minutes and a bit later: replay rejected.
    assert not hs.verify(
        SECRET,
        method="POST",
        uri=URI,
        body=BODY.encode(),
        headers=headers,
        now_ms=now + 5 * 60 * 1000 + 1,
    )
    # Any change to method, URI, body or timestamp breaks it.
    assert not hs.verify(
        SECRET, method="PUT", uri=URI, body=BODY.encode(), headers=headers, now_ms=now
    )
    assert not hs.verify(
        SECRET, method="POST", uri=URI + "&x=1", body=BODY.encode(), headers=headers, now_ms=now
    )
    assert not hs.verify(
        SECRET, method="POST", uri=URI, body=BODY.encode() + b" ", headers=headers, now_ms=now
    )
    bad_ts = {**headers, "X-HubSpot-Request-Timestamp": str(now)}
    assert not hs.verify(
        SECRET, method="POST", uri=URI, body=BODY.encode(), headers=bad_ts, now_ms=now
    )


def test_hubspot_v3_accepts_decoded_uri_form():
    now = 1_700_000_000_000
    ts = str(now)
    encoded = "https://example.com/hook?email=a%40b.com&x=%3A"
    decoded_sig = Signature.get_signature(
        SECRET, BODY, "v3", http_uri=hs.decode_uri(encoded), http_method="POST", timestamp=ts
    )
    headers = {"x-hubspot-signature-v3": decoded_sig, "x-hubspot-request-timestamp": ts}
    assert hs.verify(SECRET, method="POST", uri=encoded, body=BODY, headers=headers, now_ms=now)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_hubspot_legacy_versions_match_sdk(version):
    sdk = Signature.get_signature(SECRET, BODY, version, http_uri=URI, http_method="POST")
    headers = {"X-HubSpot-Signature": sdk, "X-HubSpot-Signature-Version": version}
    guard = hs.LegacyReplayGuard(window_ms=60_000)
    assert not hs.verify(
        "other-secret", method="POST", uri=URI, body=BODY, headers=headers, legacy=guard
    )
    assert hs.verify(SECRET, method="POST", uri=URI, body=BODY, headers=headers, legacy=guard)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_hubspot_legacy_versions_refused_unless_enabled_and_never_replayed(version):
    sdk = Signature.get_signature(SECRET, BODY, version, http_uri=URI, http_method="POST")
    headers = {"X-HubSpot-Signature": sdk, "X-HubSpot-Signature-Version": version}
    # Not configured: a correct v1/v2 signature is not enough (it has no timestamp).
    assert not hs.verify(SECRET, method="POST", uri=URI, body=BODY, headers=headers)
    guard = hs.LegacyReplayGuard(window_ms=60_000)
    now = 1_700_000_000_000
    ok = {"method": "POST", "uri": URI, "body": BODY, "headers": headers, "legacy": guard}
    assert hs.verify(SECRET, now_ms=now, **ok)
    assert not hs.verify(SECRET, now_ms=now + 1, **ok)  # the same request again: a replay
    assert not hs.verify(SECRET, now_ms=now + 59_999, **ok)


def test_hubspot_without_signature_is_rejected():
    assert not hs.verify(SECRET, method="POST", uri=URI, body=BODY, headers={})


def test_hubspot_parse_events():
    body = json.dumps(
        [
            {
                "eventId": 1,
                "portalId": 62515,
                "occurredAt": 1,
                "subscriptionType": "object.propertyChange",
                "objectTypeId": "0-53",
                "objectId": 123,
                "propertyName": "hs_invoice_status",
                "propertyValue": "open",
            },
            {
                "eventId": 2,
                "portalId": 62515,
                "subscriptionType": "object.creation",
                "objectTypeId": "0-101",
                "objectId": 9,
            },
            {
                "eventId": 3,
                "portalId": 62515,
                "subscriptionType": "contact.propertyChange",
                "objectId": 55,
                "propertyName": "email",
            },
            {
                "eventId": 4,
                "portalId": 62515,
                "subscriptionType": "object.associationChange",
                "fromObjectTypeId": "0-8",
                "fromObjectId": 700,
                "toObjectTypeId": "0-53",
                "toObjectId": 123,
            },
            {
                "eventId": 5,
                "portalId": 62515,
                "subscriptionType": "object.propertyChange",
                "objectTypeId": "0-53",
                "objectId": 123,
                "propertyName": "hs_due_date",
            },
            {
                "eventId": 6,
                "subscriptionType": "object.creation",
                "objectTypeId": "2-999",
                "objectId": 1,
            },
        ]
    )
    events = hs.parse_events(body)
    assert events[0].property_name == "hs_invoice_status" and events[0].account_id == "62515"
    assert dirty_keys(events) == [
        (INVOICE, "123"),
        (PAYMENT, "9"),
        (CUSTOMER, "55"),
        ("line_item", "700"),
    ]
