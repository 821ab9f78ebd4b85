"""Who may do what in the console, and what each action is called in the activity log.

- admin: everything, including settings, connections and users.
- accountant: the day-to-day work: create invoices, retry, refund, delete payments, mappings.
- viewer: reads every page, changes nothing (but may change their own password).

Checked on the path by the app-wide guard, so a route added later is covered by the rules for
its path prefix without editing each route.
"""

from __future__ import annotations

import re

ADMIN, ACCOUNTANT, VIEWER = "admin", "accountant", "viewer"
ROLE_WORDS = {
    ADMIN: "Admin: settings, connections and users, plus everything an accountant does",
    ACCOUNTANT: "Accountant: create invoices, retry, refund, delete payments, field mappings",
    VIEWER: "Viewer: sees everything, changes nothing",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Anyone logged in may log out and change their own password.
_ANYONE = ("/logout", "/account/password")
# Pages and actions for admins only (reading them too: invitation links, OAuth reconnects).
_ADMIN_ALWAYS = ("/users", "/settings/connections", "/oauth/", "/connect")
# Changes that are admin-only; reading those pages is fine for everyone.
_ADMIN_CHANGES = (
    "/settings/sync/objects",
    "/settings/sync/filters",
    "/settings/sync/policies",
    "/settings/properties",
)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def refusal(role: str, method: str, path: str) -> str | None:
    """None when the role may do this; otherwise the message the user sees (403)."""
    safe = method in SAFE_METHODS
    if _under(path, _ANYONE):
        return None
    if _under(path, _ADMIN_ALWAYS) or (not safe and _under(path, _ADMIN_CHANGES)):
        if role == ADMIN:
            return None
        return "Only an admin can do this. Ask an admin of this installation to change it."
    if safe:
        return None
    if role in (ADMIN, ACCOUNTANT):
        return None
    return (
        "Your role is viewer: you can see everything but change nothing. "
        "Ask an admin for the accountant role if you need to."
    )


def can_change(role: str | None) -> bool:
    return role in (ADMIN, ACCOUNTANT)


# (method, path pattern, what the action is called, kind of record the first group names)
_ACTIONS: tuple[tuple[str, re.Pattern[str], str, str | None], ...] = tuple(
    (method, re.compile(pattern), name, kind)
    for method, pattern, name, kind in (
        ("POST", r"^/invoices/new$", "Created an invoice", None),
        ("POST", r"^/invoices/([^/]+)/finish$", "Finished a draft invoice", "invoice"),
        ("POST", r"^/invoices/([^/]+)/retry$", "Retried the sync", "invoice"),
        ("POST", r"^/invoices/([^/]+)/deal$", "Associated the invoice with a deal", "invoice"),
        ("POST", r"^/payments/([^/]+)/refund$", "Refunded a payment", "payment"),
        ("POST", r"^/payments/([^/]+)/delete$", "Deleted a payment", "payment"),
        ("POST", r"^/settings/sync/failing/retry-all$", "Retried every failing record", None),
        (
            "POST",
            r"^/settings/sync/failing/([^/]+)/retry$",
            "Retried a failing record",
            "sync_state",
        ),
        ("POST", r"^/settings/sync/mappings$", "Changed the field mappings", None),
        ("POST", r"^/settings/sync/objects$", "Changed what is synced", None),
        ("POST", r"^/settings/sync/filters$", "Changed the sync filters", None),
        ("POST", r"^/settings/sync/policies$", "Changed the sync policies", None),
        ("POST", r"^/settings/properties$", "Changed the invoice properties", None),
        ("POST", r"^/settings/connections/hubspot/token$", "Replaced the HubSpot token", None),
        ("POST", r"^/settings/connections/sandbox$", "Connected the sandboxes", None),
        ("POST", r"^/connect$", "Created the connection", None),
        ("POST", r"^/users/invite$", "Invited a user", None),
        ("POST", r"^/users/([^/]+)/role$", "Changed a user's role", "user"),
        ("POST", r"^/users/([^/]+)/delete$", "Removed a user", "user"),
        ("POST", r"^/account/password$", "Changed their password", None),
    )
)


def describe(method: str, path: str) -> tuple[str, str | None, str | None]:
    """(action in words, record kind, record id) for a console request that changes something."""
    for m, pattern, name, kind in _ACTIONS:
        match = pattern.match(path)
        if m == method and match:
            return name, kind, match.group(1) if kind and match.groups() else None
    return f"{method} {path}", None, None
