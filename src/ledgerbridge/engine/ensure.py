"""Dependencies of an invoice in QuickBooks: its customer and its items.

Customers are matched by normalized email, else created with a DisplayName that is free
across customers, vendors and employees: "Company", then "Company (email)", then
"Company (2)", ... checked with `display_name_taken`, so QBO's 6240 "duplicate name" never
fails an invoice (if it still happens, a race, the next candidate is tried).

Items are matched by SKU, then by name, else handled per the "product not found" policy. Under
"fail", every line is looked up before anything is created, so a failing invoice creates
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ledgerbridge.domain import Customer, LineItem, LineKind, Product, Side
from ledgerbridge.engine.compare import customer_base, product_values
from ledgerbridge.engine.fieldmap import ProductNotFoundPolicy
from ledgerbridge.engine.intents import KeyedLocks, create_once, intent_key
from ledgerbridge.engine.ports import (
    CUSTOMER,
    ITEM,
    BatchLedgerPort,
    Link,
    StorePort,
    TaxSetup,
    WriteResult,
)
from ledgerbridge.engine.tax_codes import choose_tax_code
from ledgerbridge.errors import ConfigError, Duplicate, Invalid, NotFound

MAX_NAME_CANDIDATES = 25
_FORBIDDEN_NAME_CHARS = str.maketrans({":": "-", "\t": " ", "\n": " ", "\r": " "})
QBO_NAME_MAX = 100  # display names and item names


@dataclass
class EnsureStats:
    """Customers and items a run matched or created in QBO."""

    customers_created: int = 0
    customers_matched: int = 0
    items_created: int = 0
    items_matched: int = 0


def display_name_candidates(
    customer: Customer, limit: int = MAX_NAME_CANDIDATES, *, currency: str | None = None
) -> list[str]:
    """'Company', 'Company (email)', 'Company (2)', 'Company (3)', ...; for a customer in a
    foreign currency (multicurrency), 'Company (EUR)', 'Company (EUR) (email)', ..."""
    base = _clean_name(customer.company_name or _person(customer) or customer.email or "Customer")
    if currency:
        base = _with_suffix(base, f"({currency})")
    email = customer.match_email
    names = [base]
    if email:
        names.append(_with_suffix(base, _clean_name(f"({email})")))
    names.extend(_with_suffix(base, f"({n})") for n in range(2, limit + 1))
    unique: list[str] = []
    for name in names:
        if name not in unique:
            unique.append(name)
    return unique[:limit]


def item_source_id(line: LineItem) -> str:
    """How a HubSpot line identifies its product for links: product id, else SKU, else name."""
    if line.product_id:
        return line.product_id
    if line.sku:
        return f"sku:{line.sku}"
    return f"name:{line.name.strip().lower()}"


class Resolver:
    """Resolves (and, unless `dry_run`, creates) customers and items in QuickBooks."""

    def __init__(
        self,
        connection_id: int,
        ledger: BatchLedgerPort,
        store: StorePort,
        locks: KeyedLocks,
        *,
        dry_run: bool = False,
        create_customers: bool = True,
        create_items: bool = True,
        tax_item: tuple[str, str] = ("Sales Tax Collected", "Sales Tax Payable"),
        tax_code_mapping: Mapping[str, str] | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.ledger = ledger
        self.store = store
        self.locks = locks
        self.dry_run = dry_run
        # Customer / item creation in QBO can be switched off: then only matches are used.
        self.create_customers = create_customers
        self.create_items = create_items
        self.stats = EnsureStats()
        self._default_item: str | None = None
        self._tax_item_name, self._tax_account_name = tax_item
        self._tax_item: str | None = None
        self._tax_code_mapping = dict(tax_code_mapping or {})
        self._tax_setup: TaxSetup | None = None
        self._planned: set[str] = set()  # dry run: what would be created, counted once
        self._matched: set[str] = set()  # what was matched, counted once
        self._links: dict[tuple[str, str], Link] = {}  # customer / item links seen (see _link)
        # Backfills prepare one page's customers and items at a time (prepare_customers,
        # prepare_items): names chosen for one page are known before the next page chooses.
        self.preparing = asyncio.Lock()

    # ---- customers -------------------------------------------------------------------------
    async def customer_id(
        self, customer: Customer, currency: str | None = None, home_currency: str | None = None
    ) -> str | None:
        """The QBO customer id (None only in a dry run, for a customer that would be created).

        `currency` (given only with multicurrency on): the customer must hold that currency. A
        foreign-currency customer has its own link ("<contact>@EUR"), intent key and display
        name ("Birch & Co (EUR)"); the home-currency customer is matched as without it."""
        email = customer.match_email
        if not email:
            raise Invalid(
                f"Contact {customer.preferred_name} has no email address",
                hint="Add an email address to the contact in HubSpot, then retry",
                code="missing_email",
            )
        foreign = currency is not None and currency != home_currency
        natural = f"{email}|{currency}" if foreign else email
        source = f"{customer.id}@{currency}" if foreign and customer.id else customer.id
        extra: dict[str, object] = {"email": email}
        if currency is not None:
            extra["currency"] = currency
            customer = replace(customer, currency=currency)
        link = self._link(CUSTOMER, source)
        if link is not None and link.qbo_id:
            return link.qbo_id
        async with self.locks.hold(f"{self.connection_id}:customer:{natural}"):
            found = await self.ledger.find_customer_by_email(email, currency)
            if found is not None and found.id:
                self._count_match(f"customer:{found.id}", customer=True)
                self._save(CUSTOMER, source, found.id, extra)
                return found.id
            if not self.create_customers:
                raise NotFound(
                    f"No QuickBooks customer has the email {email}, and creating customers is off",
                    hint=(
                        "Create the customer in QuickBooks with this email, or turn on customer "
                        "sync from HubSpot to QuickBooks in the sync settings, then retry"
                    ),
                    code="customer_not_found",
                )
            if self.dry_run:
                if f"customer:{natural}" not in self._planned:
                    self._planned.add(f"customer:{natural}")
                    self.stats.customers_created += 1
                return None
            key = intent_key(self.connection_id, CUSTOMER, natural)

            async def lookup() -> WriteResult | None:
                again = await self.ledger.find_customer_by_email(email, currency)
                return WriteResult(again.id, created=False) if again and again.id else None

            result = await create_once(
                self.store,
                key=key,
                connection_id=self.connection_id,
                object_type=CUSTOMER,
                target=Side.QUICKBOOKS,
                source_id=source or natural,
                lookup=lookup,
                create=lambda request_id: self._create_customer(
                    customer, request_id, currency if foreign else None
                ),
            )
            if result.created:
                self.stats.customers_created += 1
            else:
                self.stats.customers_matched += 1
            # A customer created from the contact holds the contact's values: the base its
            # later edits are merged against (engine/masterdata.py). So does one this create
            # found again after its answer was lost (a customer matched by email was linked
            # above, without a base).
            self._save(CUSTOMER, source, result.id, extra, customer_base(customer))
            return result.id

    async def prepare_customers(
        self, wanted: Sequence[tuple[Customer, str | None, str | None]]
    ) -> None:
        """Backfills: resolve a page's customers together, so that `customer_id` then answers
        each invoice from memory. `wanted`: (customer, currency, home currency) as EnsureCustomer
        carries them. Links are read in one query; customers QuickBooks already has (by email)
        are linked in one transaction; the missing ones get their write intents in one
        transaction, are created through the ledger's batch endpoint, and their intents and
        links are completed in one more. Anything unusual (a foreign-currency customer, an
        intent begun before, an item the batch refused or whose answer was lost, no free name)
        is left to `customer_id`, whose one-by-one path knows how to recover; so are dry runs
        and "don't create customers".
        """
        by_email: dict[str, tuple[Customer, dict[str, object], str | None]] = {}
        for customer, currency, home_currency in wanted:
            email = customer.match_email
            if not email or not customer.id or email in by_email:
                continue
            if currency is not None and currency != home_currency:
                continue  # its own customer per currency: the one-by-one path
            extra: dict[str, object] = {"email": email}
            if currency is not None:
                extra["currency"] = currency
                customer = replace(customer, currency=currency)
            by_email[email] = (customer, extra, currency)
        if not by_email or self.dry_run:
            return
        conn = self.connection_id
        names = [f"{conn}:customer:{email}" for email in by_email]
        async with self.locks.hold(*names):
            links = self.store.get_links(
                conn, CUSTOMER, Side.HUBSPOT, [c.id or "" for c, _, _ in by_email.values()]
            )
            matched: list[tuple[Customer, str, dict[str, object], dict[str, str | None] | None]]
            matched = []
            missing: list[tuple[Customer, dict[str, object]]] = []
            for email, (customer, extra, currency) in by_email.items():
                link = links.get(customer.id or "")
                if link is not None and link.qbo_id:
                    self._links[(CUSTOMER, customer.id or "")] = link
                    continue
                found = await self.ledger.find_customer_by_email(email, currency)
                if found is not None and found.id:
                    matched.append((customer, found.id, extra, None))
                    self._count_match(f"customer:{found.id}", customer=True)
                elif self.create_customers:
                    missing.append((customer, extra))
            self._link_many(matched)
            if missing:
                await self._create_customers(missing)

    async def _create_customers(
        self, customers: Sequence[tuple[Customer, dict[str, object]]]
    ) -> None:
        conn = self.connection_id
        chosen: set[str] = set()
        named: list[tuple[Customer, dict[str, object], str, str]] = []  # + name, intent key
        for customer, extra in customers:
            name = None
            for candidate in display_name_candidates(customer):
                if candidate.casefold() in chosen:
                    continue
                if not await self.ledger.display_name_taken(candidate):
                    name = candidate
                    break
            if name is None:
                continue  # customer_id tries again and says why it cannot
            chosen.add(name.casefold())
            key = intent_key(conn, CUSTOMER, customer.match_email or "")
            named.append((customer, extra, name, key))
        earlier = self.store.begin_intents(
            [(key, conn, CUSTOMER, Side.QUICKBOOKS, c.id or "") for c, _, _, key in named]
        )
        fresh = [item for item in named if item[3] not in earlier]
        if not fresh:
            return
        results = await self.ledger.batch_create_customers(
            [(replace(c, display_name=name, id=None), key) for c, _, name, key in fresh]
        )
        done: list[tuple[str, str]] = []
        created: list[tuple[Customer, str, dict[str, object], dict[str, str | None] | None]] = []
        for (customer, extra, _, key), result in zip(fresh, results, strict=True):
            if isinstance(result, WriteResult):
                done.append((key, result.id))
                # Created from the contact: the contact's values are the base its later edits
                # are merged against (engine/masterdata.py).
                created.append((customer, result.id, extra, customer_base(customer)))
        with self.store.unit_of_work():
            self.store.complete_intents(done)
            self._link_many(created)
        self.stats.customers_created += len(created)

    def _link_many(
        self,
        found: Sequence[tuple[Customer, str, dict[str, object], dict[str, str | None] | None]],
    ) -> None:
        """_save for many customers (HubSpot customer, QBO id, extra, base), one transaction."""
        if not found:
            return
        conn = self.connection_id
        taken = self.store.get_links(conn, CUSTOMER, Side.QUICKBOOKS, [q for _, q, _, _ in found])
        links = []
        for customer, qbo_id, extra, base in found:
            existing = taken.get(qbo_id)
            if existing is not None and existing.hubspot_id not in (None, customer.id):
                continue  # another HubSpot record already maps to this QBO record: keep that
            links.append(Link(conn, CUSTOMER, customer.id, qbo_id, base=base, extra=extra))
        self.store.save_links(links)
        for link in links:
            self._links[(CUSTOMER, link.hubspot_id or "")] = link

    async def _create_customer(
        self, customer: Customer, request_id: str, foreign: str | None = None
    ) -> WriteResult:
        last: Duplicate | None = None
        for n, name in enumerate(display_name_candidates(customer, currency=foreign)):
            if await self.ledger.display_name_taken(name):
                continue
            # A different body needs a different request id: QBO replays a request id's answer.
            rid = request_id if n == 0 else f"{request_id[:32]}-{n}"
            try:
                return await self.ledger.create_customer(
                    replace(customer, display_name=name, id=None), rid
                )
            except Duplicate as exc:
                if exc.code not in (None, "6240"):
                    raise
                last = exc  # taken between the check and the create: next candidate
        raise Duplicate(
            f"No free QuickBooks display name for {customer.preferred_name} after "
            f"{MAX_NAME_CANDIDATES} tries" + (f" ({last.message})" if last else ""),
            hint="Rename or merge the QuickBooks customers that use this name, then retry",
            code="6240",
        )

    # ---- items -----------------------------------------------------------------------------
    async def item_ids(
        self, lines: Sequence[LineItem], policy: ProductNotFoundPolicy, default_item_name: str
    ) -> list[str | None]:
        """One QBO item id per line (None only in a dry run, for an item that would be created)."""
        resolved: list[str | None] = []
        missing: list[int] = []
        tax_code: str | None = None
        if any(line.kind is LineKind.TAX for line in lines):
            setup = await self._company_tax_setup()
            if setup.uses_tax_codes:
                tax_code = choose_tax_code(lines, setup, self._tax_code_mapping)
        for index, line in enumerate(lines):
            if line.kind is LineKind.TAX:
                resolved.append(tax_code if tax_code is not None else await self._tax_item_id())
                continue
            link = self._link(ITEM, item_source_id(line))
            if link is not None and link.qbo_id:
                resolved.append(link.qbo_id)
                continue
            found = await self.ledger.find_item(line.sku, line.name)
            if found is not None and found.id:
                self._count_match(f"item:{found.id}", customer=False)
                self._save(
                    ITEM, item_source_id(line), found.id, {"sku": line.sku, "name": line.name}
                )
                resolved.append(found.id)
                continue
            resolved.append(None)
            missing.append(index)
        if not missing:
            return resolved
        if policy is ProductNotFoundPolicy.CREATE_ITEM and not self.create_items:
            policy = (
                ProductNotFoundPolicy.FAIL
            )  # item creation is switched off: nothing to fall back on
        if policy is ProductNotFoundPolicy.FAIL:
            names = ", ".join(_describe(lines[i]) for i in missing)
            raise NotFound(
                f"Product not found in QuickBooks: {names}",
                hint=(
                    "Create the item in QuickBooks with the same SKU or name, or change the "
                    "'product not found' policy (create the item, or use a default item), then retry"
                ),
                code="item_not_found",
            )
        for index in missing:
            if policy is ProductNotFoundPolicy.USE_DEFAULT_ITEM:
                resolved[index] = await self._default_item_id(default_item_name)
            else:
                resolved[index] = await self._create_item(lines[index])
        return resolved

    async def _company_tax_setup(self) -> TaxSetup:
        if self._tax_setup is None:
            self._tax_setup = await self.ledger.tax_setup()
        return self._tax_setup

    async def prepare_items(self, wanted: Sequence[tuple[LineItem, bool]]) -> None:
        """Backfills: resolve a page's items together, so that `item_ids` then answers each
        invoice from memory. `wanted`: (line, whether its "product not found" policy creates
        the item). Links are read in one query; items QuickBooks already has (by SKU, then
        name) are linked in one transaction; the missing ones get their write intents in one
        transaction, are created through the ledger's batch endpoint, and their intents and
        links are completed in one more. Anything unusual (an intent begun before, an item the
        batch refused or whose answer was lost) is left to `item_ids`, whose one-by-one path
        knows how to recover; so are dry runs, tax lines and "don't create items"."""
        if self.dry_run:
            return
        lines: dict[str, tuple[LineItem, bool]] = {}  # by natural key (SKU, else name)
        for line, create in wanted:
            if line.kind is LineKind.TAX:
                continue
            natural = _item_natural(line)
            if not natural or (ITEM, item_source_id(line)) in self._links:
                continue
            known = lines.get(natural)
            if known is None or (create and not known[1]):
                lines[natural] = (line, create or (known is not None and known[1]))
        if not lines:
            return
        conn = self.connection_id
        async with self.locks.hold(*(f"{conn}:item:{natural}" for natural in lines)):
            links = self.store.get_links(
                conn, ITEM, Side.HUBSPOT, [item_source_id(line) for line, _ in lines.values()]
            )
            matched: list[tuple[str, str, dict[str, object], dict[str, str | None] | None]] = []
            missing: list[tuple[str, LineItem]] = []
            for natural, (line, create) in lines.items():
                source = item_source_id(line)
                link = links.get(source)
                if link is not None and link.qbo_id:
                    self._links[(ITEM, source)] = link
                    continue
                found = await self.ledger.find_item(line.sku, line.name)
                if found is not None and found.id:
                    self._count_match(f"item:{found.id}", customer=False)
                    matched.append((source, found.id, _item_extra(line), None))
                elif create and self.create_items:
                    missing.append((natural, line))
            with self.store.unit_of_work():
                self._link_items(matched)
            if missing:
                await self._create_items(missing)

    async def _create_items(self, missing: Sequence[tuple[str, LineItem]]) -> None:
        conn = self.connection_id
        named = [
            (line, _new_product(line), intent_key(conn, ITEM, natural)) for natural, line in missing
        ]
        earlier = self.store.begin_intents(
            [(key, conn, ITEM, Side.QUICKBOOKS, item_source_id(line)) for line, _, key in named]
        )
        fresh = [item for item in named if item[2] not in earlier]
        if not fresh:
            return
        results = await self.ledger.batch_create_items([(p, key) for _, p, key in fresh])
        done: list[tuple[str, str]] = []
        created: list[tuple[str, str, dict[str, object], dict[str, str | None] | None]] = []
        for (line, product, key), result in zip(fresh, results, strict=True):
            if isinstance(result, WriteResult):
                done.append((key, result.id))
                # Created from the product: its values are the base later edits are merged
                # against (engine/masterdata.py).
                created.append(
                    (item_source_id(line), result.id, _item_extra(line), product_values(product))
                )
        with self.store.unit_of_work():
            self.store.complete_intents(done)
            self._link_items(created)
        self.stats.items_created += len(created)

    def _link_items(
        self, found: Sequence[tuple[str, str, dict[str, object], dict[str, str | None] | None]]
    ) -> None:
        """_save for many items (HubSpot source id, QBO id, extra, base), in the caller's
        transaction. A QBO item already linked to another HubSpot product keeps that link."""
        if not found:
            return
        conn = self.connection_id
        taken = self.store.get_links(conn, ITEM, Side.QUICKBOOKS, [q for _, q, _, _ in found])
        links: list[Link] = []
        used: set[str] = set()
        for source, qbo_id, extra, base in found:
            existing = taken.get(qbo_id)
            if existing is not None and existing.hubspot_id not in (None, source):
                continue
            if qbo_id in used:
                continue  # two products matched one item: the one-by-one path decides
            used.add(qbo_id)
            links.append(Link(conn, ITEM, source, qbo_id, base=base, extra=extra))
        self.store.save_links(links)
        for link in links:
            self._links[(ITEM, link.hubspot_id or "")] = link

    async def _tax_item_id(self) -> str | None:
        """Every tax line books to one item whose income account is a liability account."""
        if self._tax_item is not None:
            return self._tax_item
        name = self._tax_item_name
        async with self.locks.hold(f"{self.connection_id}:item:tax:{name.lower()}"):
            if self._tax_item is not None:
                return self._tax_item
            if self.dry_run:
                found = await self.ledger.find_item(None, name)
                if found is None and f"item:tax:{name}" not in self._planned:
                    self._planned.add(f"item:tax:{name}")
                    self.stats.items_created += 1
                return found.id if found is not None else None
            key = intent_key(self.connection_id, ITEM, f"tax:{name.lower()}")
            result = await self.ledger.tax_item(name, self._tax_account_name, key)
            if result.created:
                self.stats.items_created += 1
            self._tax_item = result.id
            return result.id

    async def _default_item_id(self, name: str) -> str:
        if self._default_item is None:
            found = await self.ledger.find_item(None, name)
            if found is None or not found.id:
                raise ConfigError(
                    f"The default item '{name}' does not exist in QuickBooks",
                    hint=(
                        f"Create an item named '{name}' in QuickBooks, or pick another default "
                        "item in the sync settings"
                    ),
                    code="default_item_missing",
                )
            self._default_item = found.id
        return self._default_item

    async def _create_item(self, line: LineItem) -> str | None:
        natural = _item_natural(line)
        async with self.locks.hold(f"{self.connection_id}:item:{natural}"):
            link = self._link(ITEM, item_source_id(line))
            if link is not None and link.qbo_id:
                return link.qbo_id
            if self.dry_run:
                if f"item:{natural}" not in self._planned:
                    self._planned.add(f"item:{natural}")
                    self.stats.items_created += 1
                return None
            product = _new_product(line)

            async def lookup() -> WriteResult | None:
                again = await self.ledger.find_item(line.sku, line.name)
                return WriteResult(again.id, created=False) if again and again.id else None

            result = await create_once(
                self.store,
                key=intent_key(self.connection_id, ITEM, natural),
                connection_id=self.connection_id,
                object_type=ITEM,
                target=Side.QUICKBOOKS,
                source_id=item_source_id(line),
                lookup=lookup,
                create=lambda request_id: self.ledger.create_item(product, request_id),
            )
            if result.created:
                self.stats.items_created += 1
            else:
                self.stats.items_matched += 1
            base = product_values(product) if result.created else None
            self._save(ITEM, item_source_id(line), result.id, _item_extra(line), base)
            return result.id

    def _count_match(self, name: str, *, customer: bool) -> None:
        if name in self._matched:
            return
        self._matched.add(name)
        if customer:
            self.stats.customers_matched += 1
        else:
            self.stats.items_matched += 1

    # ---- links -----------------------------------------------------------------------------
    def _link(self, object_type: str, hubspot_id: str | None) -> Link | None:
        if not hubspot_id:
            return None
        known = self._links.get((object_type, hubspot_id))
        if known is not None:
            return known
        link = self.store.get_link(self.connection_id, object_type, Side.HUBSPOT, hubspot_id)
        if link is not None and link.qbo_id:
            # Customer and item links only ever gain a QBO id: a resolver (one run, one
            # backfill) remembers them instead of reading the same link for every invoice.
            self._links[(object_type, hubspot_id)] = link
        return link

    def _save(
        self,
        object_type: str,
        hubspot_id: str | None,
        qbo_id: str,
        extra: dict[str, object],
        base: dict[str, str | None] | None = None,
    ) -> None:
        if not hubspot_id or self.dry_run:
            return
        existing = self.store.get_link(self.connection_id, object_type, Side.QUICKBOOKS, qbo_id)
        if existing is not None and existing.hubspot_id not in (None, hubspot_id):
            return  # another HubSpot record already maps to this QBO record: keep that link
        link = Link(self.connection_id, object_type, hubspot_id, qbo_id, base=base, extra=extra)
        self.store.save_link(link)
        self._links[(object_type, hubspot_id)] = link


def _item_natural(line: LineItem) -> str:
    """An item's natural key (its intent and lock name): the SKU, else the name."""
    return (line.sku or line.name).strip().lower()


def _item_extra(line: LineItem) -> dict[str, object]:
    return {"sku": line.sku, "name": line.name}


def _new_product(line: LineItem) -> Product:
    return Product(
        name=_clean_name(line.name),
        sku=line.sku,
        description=line.description,
        unit_price=line.unit_price,
    )


def _person(customer: Customer) -> str:
    return " ".join(p for p in (customer.first_name, customer.last_name) if p).strip()


def _with_suffix(base: str, suffix: str) -> str:
    """`base suffix` within QBO's name limit: the base is cut before the suffix is added, so
    two long names sharing their first 100 characters still get distinct candidates."""
    room = QBO_NAME_MAX - len(suffix) - 1
    if room < 1:
        return base  # a suffix this long cannot help; the plain name is already a candidate
    return f"{base[:room].rstrip()} {suffix}"


def _clean_name(name: str) -> str:
    return " ".join(name.translate(_FORBIDDEN_NAME_CHARS).split())[:QBO_NAME_MAX]


def _describe(line: LineItem) -> str:
    return f"'{line.name}' (SKU {line.sku})" if line.sku else f"'{line.name}'"
