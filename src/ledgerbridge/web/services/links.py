"""Where "View in QuickBooks" goes.

Against Intuit's servers, the QuickBooks web app's own pages. Against a local QuickBooks sandbox
(which has no web app), the console's read-only view of the record as the API returns it.
"""

from __future__ import annotations

from ledgerbridge.store import ConnectionInfo

QBO_APP = {
    "sandbox-quickbooks.api.intuit.com": "https://app.sandbox.qbo.intuit.com",
    "quickbooks.api.intuit.com": "https://app.qbo.intuit.com",
}
APP_PAGES = {
    "invoice": "invoice",
    "payment": "recvpayment",
    "salesreceipt": "salesreceipt",
    "purchase": "expense",
    "refundreceipt": "refundreceipt",
    "creditmemo": "creditmemo",
}
# Link.qbo_kind -> the kind of page that shows it ("" is the object type's own entity).
PAGE_OF_KIND = {"SalesReceipt": "salesreceipt"}


def qbo_url(connection: ConnectionInfo | None, kind: str, record_id: str | None) -> str | None:
    """kind: "invoice", "payment", "salesreceipt", "purchase" (an expense, e.g. a payment's
    fees), "refundreceipt" or "creditmemo"."""
    if not record_id:
        return None
    base = (connection.qbo_base_url if connection else "") or ""
    for host, app in QBO_APP.items():
        if f"//{host}" in base:
            return f"{app}/app/{APP_PAGES[kind]}?txnId={record_id}"
    return f"/quickbooks/{kind}s/{record_id}"


def qbo_payment_id(payment_key: str | None) -> str | None:
    """The QBO payment behind a HubSpot payment the sync recorded: its unique key is
    'qbo-payment:<QBO payment id>:<QBO invoice id>' (engine/payments.py share_key)."""
    if not payment_key or not payment_key.startswith("qbo-payment:"):
        return None
    parts = payment_key.split(":")
    return parts[1] if len(parts) >= 3 and parts[1] else None


def payment_page(qbo_kind: str) -> str:
    """The page kind for a HubSpot payment's QBO record: a Payment, or a SalesReceipt."""
    return PAGE_OF_KIND.get(qbo_kind, "payment")


def payment_kind_label(qbo_kind: str) -> str:
    return "sales receipt" if qbo_kind == "SalesReceipt" else "payment"
