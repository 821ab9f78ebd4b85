"""Customers and items after creation: a linked HubSpot contact and its QBO customer, a linked
HubSpot product and its QBO item, kept equal field by field, both ways.

A change on one side (a webhook, the HubSpot contact/product feeds, QBO's CDC) marks the
record's key dirty; the step reads both sides and does a three-way merge against the base
(the values both sides had at the last step), like invoices do:

- changed on one side only: copied to the other;
- changed on both sides to different values: the owner wins and the overwritten value goes
  to the audit log. Owners: **HubSpot** for customer fields (the CRM is where a person's name,
  email, phone and address are kept up to date), **QuickBooks** for item fields (prices, item
  names and whether an item is sold belong to the books);
- no base for a field (a link made by matching an existing record, or from a QuickBooks
  invoice): a blank side is filled from the other; two different values are left alone and
  reported (`diverged`), since which side changed cannot be known. A customer or item the
  engine created starts with a base: both sides held the values sent.

Writes use the version read (QBO SyncToken, sparse update): a QBO stale-object error is a
Conflict, and the runner reads and merges again. "Synced" is then checked like every other
record: both sides as they now are, compared by `compare_customer` / `compare_product`;
anything still different (e.g. a name QuickBooks cut to its 25-character limit) is `diverged`.

Only linked records sync (a key without a link is dropped: customers and items are created as
dependencies of invoices). A customer created per currency ("Birch & Co (EUR)") sends its QBO
changes to the contact at once; a contact change reaches it at its next step (a contact's
events wake the home-currency customer's key only). A HubSpot
product archived deactivates its QBO item and a QBO item made inactive archives the HubSpot
product; re-activation is not copied (HubSpot cannot restore an archived product by API).

The company name goes one way, HubSpot → QBO (`_company_rename`): a HubSpot company renamed
(its name differs from the base) sets the customer's CompanyName and, when the DisplayName was
made from the old name ("Old Co", "Old Co (EUR)", "Old Co (2)"), the DisplayName with the old
name swapped for the new one. A DisplayName already used by another customer, vendor or
employee fails the step (`display_name_taken`) before anything is written, with what to do.
A CompanyName or DisplayName changed only in QBO is the bookkeeper's and is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ledgerbridge.domain import Address, Customer, Product, Side, SyncStatus
from ledgerbridge.engine.compare import (
    C_ADDRESS,
    C_COMPANY,
    C_EMAIL,
    C_FIRST_NAME,
    C_LAST_NAME,
    C_PHONE,
    I_ACTIVE,
    I_DESCRIPTION,
    I_NAME,
    I_PRICE,
    compare_customer,
    compare_product,
    customer_values,
    product_values,
)
from ledgerbridge.engine.decisions import Decision, Plan
from ledgerbridge.engine.intents import KeyedLocks
from ledgerbridge.engine.ports import (
    CUSTOMER,
    ITEM,
    CrmPort,
    FieldDifference,
    LedgerPort,
    Link,
    RecordKey,
)
from ledgerbridge.engine.ports import StorePort as _StorePort
from ledgerbridge.engine.snapshot import snapshot_hash
from ledgerbridge.engine.state_book import StepResult
from ledgerbridge.engine.verify import DIFFERENCES
from ledgerbridge.errors import Duplicate

OWNERS: Mapping[str, Side] = {CUSTOMER: Side.HUBSPOT, ITEM: Side.QUICKBOOKS}
Values = dict[str, str | None]
C_DISPLAY = "display_name"  # written with a rename, never compared


def clean_name(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    return text or None


def renamed_display_name(display: str | None, old: str, new: str) -> str | None:
    """The DisplayName after the company `old` is renamed `new`: the old name at its start is
    replaced ("Old Co (EUR)" → "New Co (EUR)"); None when it was not made from the old name (a
    bookkeeper chose it: it is kept)."""
    current = clean_name(display) or ""
    if current.casefold() == old.casefold():
        return new
    if current.casefold().startswith(old.casefold() + " ("):
        return new + current[len(old) :]
    return None


def merge(
    base: Mapping[str, Any] | None,
    hs: Values,
    qbo: Values,
    owner: Side,
    *,
    hs_changed: bool = True,
    qbo_changed: bool = True,
) -> tuple[list[str], list[str], list[tuple[str, str | None, str | None, Side]]]:
    """(fields to write to QBO, fields to write to HubSpot, conflicts as (field, HubSpot value,
    QBO value, winner)). `hs_changed` / `qbo_changed` False: that side's version is the one
    last seen, so it has not changed whatever its values look like."""
    to_qbo: list[str] = []
    to_hs: list[str] = []
    conflicts: list[tuple[str, str | None, str | None, Side]] = []
    for name in hs:
        a, b = hs[name], qbo[name]
        if a == b:
            continue
        if base is None or name not in base:
            # No history for this field: a blank side is filled from the other (nothing is
            # lost); two different values are left as they are and reported (diverged): which
            # side changed cannot be known, so no side is overwritten.
            if a is None:
                to_hs.append(name)
            elif b is None:
                to_qbo.append(name)
            continue
        else:
            a_moved = hs_changed and a != base[name]
            b_moved = qbo_changed and b != base[name]
        if a_moved and not b_moved:
            to_qbo.append(name)
        elif b_moved and not a_moved:
            to_hs.append(name)
        else:
            conflicts.append((name, a, b, owner))
            (to_qbo if owner is Side.HUBSPOT else to_hs).append(name)
    return to_qbo, to_hs, conflicts


def apply_customer(target: Customer, source: Customer, fields: list[str]) -> Customer:
    """`target` with `fields` taken from `source`."""
    changes: dict[str, Any] = {}
    for name in fields:
        if name == C_FIRST_NAME:
            changes["first_name"] = source.first_name
        elif name == C_LAST_NAME:
            changes["last_name"] = source.last_name
        elif name == C_EMAIL:
            changes["email"] = source.email
        elif name == C_PHONE:
            changes["phone"] = source.phone
        elif name == C_ADDRESS:
            changes["address"] = source.address or Address()
    return replace(target, **changes)


def apply_product(target: Product, source: Product, fields: list[str]) -> Product:
    return replace(
        target,
        name=source.name if I_NAME in fields else target.name,
        description=source.description if I_DESCRIPTION in fields else target.description,
        unit_price=source.unit_price if I_PRICE in fields else target.unit_price,
        active=source.active if I_ACTIVE in fields else target.active,
    )


class MasterDataStep:
    """One linked customer's or item's step (used by the Stepper for CUSTOMER and ITEM keys)."""

    def __init__(
        self,
        connection_id: int,
        crm: CrmPort,
        ledger: LedgerPort,
        store: _StorePort,
        record_state: Any,
        locks: KeyedLocks,
    ) -> None:
        self.locks = locks
        self.connection_id = connection_id
        self.crm = crm
        self.ledger = ledger
        self.store = store
        self.record_state = record_state

    async def run(self, key: RecordKey) -> StepResult | None:
        link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
        if link is None or not link.hubspot_id or not link.qbo_id:
            return None  # not linked yet: created or matched when an invoice needs it
        # One step per linked pair at a time (a change on each side wakes both keys).
        async with self.locks.hold(f"{self.connection_id}:{key.object_type}:qbo:{link.qbo_id}"):
            link = self.store.get_link(self.connection_id, key.object_type, key.side, key.source_id)
            if link is None or not link.hubspot_id or not link.qbo_id:
                return None
            return await self._run(key, link)

    async def _run(self, key: RecordKey, link: Link) -> StepResult | None:
        if key.object_type == CUSTOMER:
            return await self._customer(key, link)
        if key.object_type == ITEM:
            if not str(link.hubspot_id).isdigit():
                return None  # a line without a HubSpot product (matched by SKU or name)
            return await self._item(key, link)
        return None

    # ---- customers ---------------------------------------------------------------------------
    async def _customer(self, key: RecordKey, link: Link) -> StepResult:
        contact_id = str(link.hubspot_id).split("@", 1)[0]
        hs = await self.crm.get_contact(contact_id)
        qbo = await self.ledger.get_customer(str(link.qbo_id))
        if hs is None or qbo is None:
            return self._missing(key, link, hs is None, "contact", "customer")
        hs_values, qbo_values = customer_values(hs), customer_values(qbo)
        to_qbo, to_hs, conflicts = merge(
            link.base,
            hs_values,
            qbo_values,
            OWNERS[CUSTOMER],
            hs_changed=hs.version is None or hs.version != link.hubspot_version,
            qbo_changed=qbo.version is None or qbo.version != link.qbo_version,
        )
        renamed, rename_fields, rename_conflict = await self._company_rename(link, hs, qbo)
        if rename_conflict is not None:
            conflicts.append(rename_conflict)
        if to_qbo or rename_fields:
            qbo = await self.ledger.update_customer(
                str(link.qbo_id),
                qbo.version or "0",
                apply_customer(renamed, hs, to_qbo),
                [*to_qbo, *rename_fields],
            )
        if to_hs:
            hs = await self.crm.update_contact(contact_id, apply_customer(hs, qbo, to_hs), to_hs)
        differences = compare_customer(hs, qbo)
        if rename_fields and clean_name(qbo.company_name) != clean_name(renamed.company_name):
            differences.append(
                FieldDifference(C_COMPANY, clean_name(hs.company_name), qbo.company_name)
            )
        if rename_fields and clean_name(qbo.display_name) != clean_name(renamed.display_name):
            differences.append(FieldDifference(C_DISPLAY, renamed.display_name, qbo.display_name))
        label = hs.preferred_name
        return self._finish(
            key,
            link,
            conflicts,
            differences,
            {**customer_values(hs), C_COMPANY: clean_name(hs.company_name)},
            {**customer_values(qbo), C_COMPANY: clean_name(qbo.company_name)},
            hs.version,
            qbo.version,
            label,
            bool(to_qbo or to_hs or rename_fields),
        )

    async def _company_rename(
        self, link: Link, hs: Customer, qbo: Customer
    ) -> tuple[Customer, list[str], tuple[str, str | None, str | None, Side] | None]:
        """(QBO customer with the new names, fields to write, conflict to audit): a HubSpot
        company rename. No base for the name (a link older than this rule): a blank QBO
        CompanyName is filled; otherwise nothing moves until both sides agree once."""
        new = clean_name(hs.company_name)
        current = clean_name(qbo.company_name)
        base = (link.base or {}).get(C_COMPANY)
        if new is None or new == current:
            return qbo, [], None
        if base is None:
            if current is None and C_COMPANY not in (link.base or {}):
                return replace(qbo, company_name=new), [C_COMPANY], None
            return qbo, [], None
        if new == base:
            return qbo, [], None  # HubSpot did not rename: a QBO-only change is kept
        conflict = None
        if current != base:  # renamed on both sides: HubSpot (owner) wins, audited
            conflict = (C_COMPANY, new, current, Side.HUBSPOT)
        fields = [C_COMPANY]
        display = renamed_display_name(qbo.display_name, current or base, new)
        if display is None and current != base:
            display = renamed_display_name(qbo.display_name, base, new)
        if display is not None and display.casefold() != (qbo.display_name or "").casefold():
            if await self.ledger.display_name_taken(display):
                raise Duplicate(
                    f'The HubSpot company was renamed "{new}", but QuickBooks already has a '
                    f'customer, vendor or employee named "{display}"',
                    hint=(
                        f'In QuickBooks, rename or merge the record named "{display}" (inactive '
                        "ones count too), or give the HubSpot company another name; then retry "
                        f'this customer. Nothing was changed: it is still "{qbo.display_name}"'
                    ),
                    code="display_name_taken",
                )
            fields.append(C_DISPLAY)
        return (
            replace(qbo, company_name=new, display_name=display or qbo.display_name),
            fields,
            (conflict),
        )

    # ---- items -------------------------------------------------------------------------------
    async def _item(self, key: RecordKey, link: Link) -> StepResult:
        hs = await self.crm.get_product(str(link.hubspot_id))
        qbo = await self.ledger.get_item(str(link.qbo_id))
        if qbo is None:
            return self._missing(key, link, False, "product", "item")
        if hs is None:
            # Archived (deleted) in HubSpot: the item stops being sold in QBO too.
            hs = replace(qbo, active=False, version=None)
        hs_values, qbo_values = product_values(hs), product_values(qbo)
        to_qbo, to_hs, conflicts = merge(
            link.base,
            hs_values,
            qbo_values,
            OWNERS[ITEM],
            hs_changed=hs.version is None or hs.version != link.hubspot_version,
            qbo_changed=qbo.version is None or qbo.version != link.qbo_version,
        )
        if to_qbo:
            qbo = await self.ledger.update_item(
                str(link.qbo_id), qbo.version or "0", apply_product(qbo, hs, to_qbo), to_qbo
            )
        if to_hs:
            wanted = apply_product(hs, qbo, to_hs)
            if not hs.active and wanted.active:
                # HubSpot has no API to restore an archived product: said, never silent.
                to_hs.remove(I_ACTIVE)
                wanted = replace(wanted, active=False)
            if to_hs:
                hs = await self.crm.update_product(str(link.hubspot_id), wanted, to_hs)
        differences = compare_product(hs, qbo)
        return self._finish(
            key,
            link,
            conflicts,
            differences,
            product_values(hs),
            product_values(qbo),
            hs.version,
            qbo.version,
            qbo.name,
            bool(to_qbo or to_hs),
        )

    # ---- outcome -----------------------------------------------------------------------------
    def _missing(
        self, key: RecordKey, link: Link, in_hubspot: bool, hs_word: str, qbo_word: str
    ) -> StepResult:
        where = "HubSpot" if in_hubspot else "QuickBooks"
        word = hs_word if in_hubspot else qbo_word
        plan = Plan(
            key,
            Decision(
                SyncStatus.FAILED,
                f"The linked {word} no longer exists in {where}",
                "Nothing was changed on the other side. Re-create or restore it, or leave it: "
                "invoices that need it will match or create it again",
                "not_found",
            ),
            hubspot_id=link.hubspot_id,
            qbo_id=link.qbo_id,
        )
        self.record_state(key, plan, None)
        return StepResult(key, plan)

    def _finish(
        self,
        key: RecordKey,
        link: Link,
        conflicts: list[tuple[str, str | None, str | None, Side]],
        differences: list[Any],
        hs_values: Values,
        qbo_values: Values,
        hs_version: str | None,
        qbo_version: str | None,
        label: str,
        wrote: bool,
    ) -> StepResult:
        for name, hs_value, qbo_value, winner in conflicts:
            kept, lost = (hs_value, qbo_value) if winner is Side.HUBSPOT else (qbo_value, hs_value)
            self.store.audit(
                self.connection_id,
                key.object_type,
                str(link.hubspot_id),
                name,
                lost,
                kept,
                f"{winner.value} (owner of {key.object_type} fields)",
            )
        agreed = {n: hs_values[n] for n in hs_values if hs_values[n] == qbo_values[n]}
        base = {**dict(link.base or {}), **agreed}
        self.store.save_link(
            replace(
                link,
                base=base,
                hubspot_version=hs_version,
                qbo_version=qbo_version,
                hubspot_hash=snapshot_hash(hs_values),
                qbo_hash=snapshot_hash(qbo_values),
            )
        )
        if differences:
            names = ", ".join(d.field.replace("_", " ") for d in differences)
            decision = Decision(
                SyncStatus.DIVERGED,
                f"HubSpot and QuickBooks differ on {names}",
                "Change the value on one side (the owner's wins when both change), or accept it",
                "diverged",
            )
        else:
            decision = Decision(SyncStatus.SYNCED)
        plan = Plan(
            key,
            decision,
            action="update" if wrote else "none",
            hubspot_id=link.hubspot_id,
            qbo_id=link.qbo_id,
            label=label,
            extra={DIFFERENCES: tuple(differences)},
        )
        self.record_state(key, plan, None)
        return StepResult(key, plan)
