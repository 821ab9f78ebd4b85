"""QuickBooks Online API sandbox: a faithful local emulator of QBO's accounting API v3."""

from ledgerbridge.sandbox.quickbooks.app import create_app

__all__ = ["create_app"]
