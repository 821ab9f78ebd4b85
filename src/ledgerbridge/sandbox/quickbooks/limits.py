"""QBO's text field limits on sales transactions, as the real API enforces them (error 2050).

From the reference (/qbo-api.md §2.2 and §4): PrivateNote ≤ 4000, CustomerMemo ≤ 1000, BillEmail
≤ 100, DocNumber ≤ 21 (checked with the doc number rules), and a line's Description ≤ 4000.
The sandbox used to store any length, so an over-long line description synced "fine" here and
failed against the real company.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.quickbooks import errors

PRIVATE_NOTE_MAX = 4000
CUSTOMER_MEMO_MAX = 1000
BILL_EMAIL_MAX = 100
LINE_DESCRIPTION_MAX = 4000


def _check(element: str, value: Any, maximum: int) -> None:
    if isinstance(value, str) and len(value) > maximum:
        raise errors.too_long(element, maximum, len(value))


def check_sales_limits(data: dict[str, Any]) -> None:
    """Raise the 2050 fault QBO answers for the first over-long field of a sales transaction."""
    _check("PrivateNote", data.get("PrivateNote"), PRIVATE_NOTE_MAX)
    memo = data.get("CustomerMemo")
    _check("CustomerMemo", memo.get("value") if isinstance(memo, dict) else memo, CUSTOMER_MEMO_MAX)
    email = data.get("BillEmail")
    _check("BillEmail", email.get("Address") if isinstance(email, dict) else email, BILL_EMAIL_MAX)
    for line in data.get("Line") or []:
        if isinstance(line, dict):
            _check("Line.Description", line.get("Description"), LINE_DESCRIPTION_MAX)
