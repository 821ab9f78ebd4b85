"""ledgerbridge: two-way sync between HubSpot CRM invoices and QuickBooks Online."""

__version__ = "0.1.0"
