"""Who an invoice is for, named the same way on every page: the company (the party that owes the
money, and the QuickBooks customer's name), with the person to ask beside it.

The company is the invoice's associated company; an invoice associated with its contact only
(made without a company, or created in QuickBooks before the company link was added) takes the
company its contact works for. With no company at all, the contact is the party."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Party:
    company: str
    contact: str  # the person's name, else their email

    @property
    def primary(self) -> str:
        return self.company or self.contact

    @property
    def secondary(self) -> str:
        """The contact shown beside the company (empty when the contact is the party)."""
        return self.contact if self.company and self.contact != self.company else ""

    def __str__(self) -> str:
        return " · ".join(x for x in (self.primary, self.secondary) if x)


def contact_name(contact: dict[str, Any] | None) -> str:
    c = contact or {}
    name = " ".join(str(x) for x in (c.get("firstname"), c.get("lastname")) if x)
    return name or str(c.get("email") or "")


def party(
    company_name: str | None, contact: dict[str, Any] | None, contact_email: str | None = None
) -> Party:
    c = contact or {}
    company = str(company_name or c.get("company") or "")
    person = contact_name(c) or str(contact_email or "")
    return Party(company=company, contact=person)
