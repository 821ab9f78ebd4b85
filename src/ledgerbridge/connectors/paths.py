"""Safe path segments for API URLs.

Ids reach the connectors from webhooks, links and the console. Put into a URL as they are, an id
such as `../../etc/passwd` changes which endpoint is called (with our bearer token). Every
variable path segment is therefore percent-quoted (no `/` survives), and record ids, which both
APIs issue as digits, are checked first: anything else fails as invalid input, never as an auth
or transient error, so it is neither retried nor reported as "reconnect".
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ledgerbridge.errors import Invalid

_DIGITS = re.compile(r"[0-9]{1,32}")


def segment(value: object) -> str:
    """One path segment, percent-quoted so it cannot add or climb path levels."""
    text = str(value)
    if text in ("", ".", ".."):
        raise Invalid(message=f"{text!r} is not a valid URL path segment")
    return quote(text, safe="")


def record_id(value: object, api: str) -> str:
    """A record id as issued by HubSpot or QuickBooks (digits), ready for a URL path."""
    text = str(value)
    if not _DIGITS.fullmatch(text):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise Invalid(
            message=f"{shown!r} is not a valid {api} record id",
            hint=f"{api} ids are digits; the webhook, link or mapping that supplied this id "
            "is wrong. Nothing was sent.",
            code="invalid_id",
        )
    return text
