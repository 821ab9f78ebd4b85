"""The engine's rules over in-memory fakes of its ports (engine_fakes.py): planner, steps, apply,
verify and the outcome policy, end to end through `SyncEngine.run_once`, in milliseconds.

Every test that checks a status also compares what both sides now hold. The integration tests
(tests/integration/test_engine_*.py) run the same engine against the sandboxes over HTTP and a
real database; these pin down the decisions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from engine_fakes import (
    QBO_ID_PROP,
    QBO_NUMBER_PROP,
    STATUS_PROP,
    CrmPayment,
    FakeCrm,
    FakeLedger,
    FakeStore,
)

from ledgerbridge.domain import (
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentApplication,
    Product,
    Side,
    SyncStatus,
)
from ledgerbridge.engine.compare import compare_invoice
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.filters import FilterOp, FilterRule
from ledgerbridge.engine.outcomes import RetryPolicy
from ledgerbridge.engine.ports import INVOICE, PAYMENT, RecordKey, StoredSyncState
from ledgerbridge.engine.runner import SyncEngine
from ledgerbridge.engine.steps import RunReport
from ledgerbridge.errors import Conflict, Transient

CONN = 1
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ADA = Customer(email="ada@example.com", first_name="Ada", last_name="Lovelace")


def hubspot_invoice(**changes: Any) -> Invoice:
    invoice = Invoice(
        currency="USD",
        lines=(
            LineItem("Consulting", Decimal(3), Decimal("150.00"), sku="CONS"),
            LineItem("Workshop", Decimal(1), Decimal("99.99"), sku="WKSP"),
        ),
        status=InvoiceStatus.OPEN,
        customer=ADA,
        issue_date=dt.date(2026, 3, 1),
        due_date=dt.date(2026, 3, 31),
        memo="March work",
    )
    return replace(invoice, **changes)


@dataclass
class World:
    crm: FakeCrm
    ledger: FakeLedger
    store: FakeStore
    engine: SyncEngine
    now: list[dt.datetime]

    def key(self, object_type: str, side: Side, source_id: str) -> RecordKey:
        return RecordKey(CONN, object_type, side, source_id)

    def mark(self, object_type: str, side: Side, source_id: str) -> RecordKey:
        key = self.key(object_type, side, source_id)
        self.store.mark_dirty(key, "test")
        return key

    async def run(self) -> RunReport:
        return await self.engine.run_once()

    def later(self, seconds: float) -> None:
        self.now[0] += dt.timedelta(seconds=seconds)

    def state(self, key: RecordKey) -> StoredSyncState:
        found = self.store.get_state(key)
        assert found is not None, f"no state for {key.as_text()}"
        return found

    async def both(self, hs_id: str) -> tuple[Invoice, Invoice]:
        """The invoice as both sides now hold it (through the link)."""
        link = self.store.get_link(CONN, INVOICE, Side.HUBSPOT, hs_id)
        assert link is not None and link.qbo_id is not None
        hs = await self.crm.get_invoice(hs_id)
        qbo = await self.ledger.get_invoice(link.qbo_id)
        assert hs is not None and qbo is not None
        return hs, qbo

    async def assert_books_agree(self, hs_id: str) -> tuple[Invoice, Invoice]:
        hs, qbo = await self.both(hs_id)
        assert compare_invoice(hs, qbo, settings=self.engine.settings) == []
        assert hs.total == qbo.total
        return hs, qbo


def make_world(settings: SyncSettings | None = None) -> World:
    now = [START]
    crm, ledger, store = FakeCrm(), FakeLedger(), FakeStore()
    engine = SyncEngine(CONN, crm, ledger, store, settings or SyncSettings(), lambda: now[0])
    return World(crm, ledger, store, engine, now)


@pytest.fixture
def world() -> World:
    return make_world()


# ---- create ------------------------------------------------------------------------------------
async def test_open_hubspot_invoice_is_created_in_quickbooks_with_customer_and_items(
    world: World,
) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)

    report = await world.run()

    assert report.synced == 1
    state = world.state(key)
    assert state.status is SyncStatus.SYNCED
    _, qbo = await world.assert_books_agree(hs_id)
    assert qbo.total == Decimal("549.99")
    assert qbo.customer is not None and qbo.customer.match_email == "ada@example.com"
    assert {i.sku for i in world.ledger.items.values()} == {"CONS", "WKSP"}
    # HubSpot shows the sync on the invoice itself.
    props = world.crm.properties[hs_id]
    assert props[STATUS_PROP] == "synced"
    assert props[QBO_ID_PROP] == qbo.id
    assert props[QBO_NUMBER_PROP] == qbo.number
    assert state.counterpart_id == qbo.id
    assert world.store.dirty == {}


async def test_draft_is_not_synced_until_finished(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice(status=InvoiceStatus.DRAFT))
    world.mark(INVOICE, Side.HUBSPOT, hs_id)

    await world.run()

    assert world.ledger.invoices == {}
    world.crm.edit_invoice(hs_id, status=InvoiceStatus.OPEN)
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()
    assert world.state(key).status is SyncStatus.SYNCED
    await world.assert_books_agree(hs_id)


async def test_a_second_run_of_a_synced_invoice_writes_nothing(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()
    sent = len(world.ledger.sent)

    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()

    assert len(world.ledger.sent) == sent
    assert len(world.ledger.invoices) == 1
    assert world.state(key).status is SyncStatus.SYNCED
    await world.assert_books_agree(hs_id)


async def test_existing_customer_and_item_are_matched_not_created(world: World) -> None:
    customer_id = world.ledger.add_customer(replace(ADA, display_name="Ada Lovelace"))
    world.ledger.add_item(Product("Consulting", sku="CONS"))
    hs_id = world.crm.add_invoice(hubspot_invoice())
    world.mark(INVOICE, Side.HUBSPOT, hs_id)

    await world.run()

    _, qbo = await world.assert_books_agree(hs_id)
    assert qbo.customer is not None and qbo.customer.id == customer_id
    assert len(world.ledger.customers) == 1
    assert sorted(i.sku or "" for i in world.ledger.items.values()) == ["CONS", "WKSP"]


# ---- update and conflict -----------------------------------------------------------------------
async def test_a_hubspot_edit_reaches_quickbooks(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()

    world.crm.edit_invoice(hs_id, due_date=dt.date(2026, 4, 15))
    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    report = await world.run()

    assert report.synced == 1
    assert [s.method for s in world.ledger.sent].count("update_invoice") == 1
    assert world.state(key).status is SyncStatus.SYNCED
    hs, qbo = await world.assert_books_agree(hs_id)
    assert hs.due_date == qbo.due_date == dt.date(2026, 4, 15)


async def test_a_quickbooks_edit_reaches_hubspot(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()
    _, qbo = await world.both(hs_id)
    assert qbo.id is not None

    world.ledger.edit_invoice(qbo.id, memo="March work, as agreed")
    key = world.mark(INVOICE, Side.QUICKBOOKS, qbo.id)
    await world.run()

    assert world.state(world.key(INVOICE, Side.HUBSPOT, hs_id)).status is SyncStatus.SYNCED
    assert world.store.get_state(key) is None  # the state lives on the origin's key
    hs, qbo = await world.assert_books_agree(hs_id)
    assert hs.memo == qbo.memo == "March work, as agreed"


async def test_a_field_changed_on_both_sides_goes_to_its_owner_and_is_audited(
    world: World,
) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()
    _, qbo = await world.both(hs_id)
    assert qbo.id is not None

    world.crm.edit_invoice(hs_id, memo="HubSpot's words")
    world.ledger.edit_invoice(qbo.id, memo="QuickBooks' words")
    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()

    # The invoice was created in HubSpot: by default HubSpot owns its fields.
    hs, qbo = await world.assert_books_agree(hs_id)
    assert hs.memo == qbo.memo == "HubSpot's words"
    # The overwritten value is kept in the audit log.
    [audited] = [entry for entry in world.store.audit_log if entry[2] == "memo"]
    assert audited[3:5] == ("QuickBooks' words", "HubSpot's words")
    assert audited[5].startswith("hubspot")


async def test_a_stale_write_is_read_and_merged_again_in_the_same_round(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    await world.run()
    world.crm.edit_invoice(hs_id, due_date=dt.date(2026, 5, 1))
    world.ledger.fail_next("update_invoice", Conflict("stale object (SyncToken)"))

    world.mark(INVOICE, Side.HUBSPOT, hs_id)
    report = await world.run()

    assert report.synced == 1 and report.retrying == 0
    assert world.ledger.calls.count("update_invoice") == 2
    assert world.state(key).status is SyncStatus.SYNCED
    _, qbo = await world.assert_books_agree(hs_id)
    assert qbo.due_date == dt.date(2026, 5, 1)


# ---- failures ----------------------------------------------------------------------------------
async def test_a_transient_failure_is_retried_after_backoff_and_then_syncs(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    world.ledger.fail_next("create_invoice", Transient("QuickBooks answered 503"))

    report = await world.run()

    assert report.retrying == 1
    state = world.state(key)
    assert state.status is SyncStatus.PENDING
    assert state.category == "transient" and state.message == "QuickBooks answered 503"
    assert world.ledger.invoices == {}
    delay = world.engine.backoff(1)
    assert world.store.dirty[key].not_before == START + dt.timedelta(seconds=delay)
    assert (await world.run()).claimed == 0  # not due yet

    world.later(delay)
    report = await world.run()

    assert report.synced == 1
    assert world.state(key).status is SyncStatus.SYNCED
    assert len(world.ledger.invoices) == 1
    await world.assert_books_agree(hs_id)


async def test_transient_failures_give_up_after_max_attempts_with_a_hint() -> None:
    world = make_world(SyncSettings(max_attempts=2))
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    world.ledger.fail_next(
        "create_invoice", Transient("QuickBooks answered 503"), Transient("QuickBooks answered 503")
    )

    await world.run()
    world.later(world.engine.backoff(1))
    report = await world.run()

    assert report.failed == 1
    state = world.state(key)
    assert state.status is SyncStatus.FAILED
    assert state.message is not None and "gave up after 2 attempts" in state.message
    assert state.hint
    assert key not in world.store.dirty  # waits for a retry by a person
    assert world.ledger.invoices == {}
    assert world.crm.properties[hs_id][STATUS_PROP] == "failed"


async def test_an_invoice_quickbooks_cannot_take_fails_alone_with_a_fix_hint(
    world: World,
) -> None:
    euro = world.crm.add_invoice(hubspot_invoice(currency="EUR"))
    fine = world.crm.add_invoice(hubspot_invoice())
    euro_key = world.mark(INVOICE, Side.HUBSPOT, euro)
    fine_key = world.mark(INVOICE, Side.HUBSPOT, fine)

    report = await world.run()

    assert (report.failed, report.synced) == (1, 1)
    failed = world.state(euro_key)
    assert failed.status is SyncStatus.FAILED
    assert failed.category and failed.message and failed.hint
    assert "EUR" in failed.message
    assert world.crm.properties[euro][STATUS_PROP] == "failed"
    # Nothing of it was written to QuickBooks; the other invoice synced.
    assert len(world.ledger.invoices) == 1
    assert world.store.get_link(CONN, INVOICE, Side.HUBSPOT, euro) is None
    assert world.state(fine_key).status is SyncStatus.SYNCED
    await world.assert_books_agree(fine)


async def test_a_create_whose_answer_was_lost_is_found_again_not_sent_twice(
    world: World,
) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)
    world.ledger.lose_next_answer("create_invoice")

    report = await world.run()

    # QuickBooks made it and the answer was lost: the step looks it up by its natural key (the
    # marker on the invoice) and adopts it, in the same round, instead of creating it again.
    assert report.synced == 1
    assert [s.method for s in world.ledger.sent].count("create_invoice") == 1
    assert "find_invoice" in world.ledger.calls
    assert len(world.ledger.invoices) == 1
    assert world.state(key).status is SyncStatus.SYNCED
    [result] = report.results
    assert result.applied is not None and result.applied.created == []
    await world.assert_books_agree(hs_id)


# ---- exclusion ---------------------------------------------------------------------------------
async def test_a_sync_filter_excludes_with_the_rule_that_excluded() -> None:
    rule = FilterRule(field="currency", op=FilterOp.EQ, value="CAD", label="Canadian only")
    world = make_world(SyncSettings(filters=[rule]))
    hs_id = world.crm.add_invoice(hubspot_invoice())
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)

    report = await world.run()

    assert report.excluded == 1
    state = world.state(key)
    assert state.status is SyncStatus.EXCLUDED
    assert state.message is not None and state.message.startswith("Excluded by sync filter")
    assert world.ledger.invoices == {} and world.ledger.customers == {}
    assert world.crm.properties[hs_id][STATUS_PROP] == "excluded"


async def test_an_invoice_voided_before_it_synced_is_excluded(world: World) -> None:
    hs_id = world.crm.add_invoice(hubspot_invoice(status=InvoiceStatus.VOIDED))
    key = world.mark(INVOICE, Side.HUBSPOT, hs_id)

    await world.run()

    assert world.state(key).status is SyncStatus.EXCLUDED
    assert world.ledger.invoices == {}


# ---- QuickBooks invoices and payments ----------------------------------------------------------
def quickbooks_invoice() -> Invoice:
    return Invoice(
        currency="USD",
        lines=(LineItem("Design", Decimal(2), Decimal("400.00")),),
        status=InvoiceStatus.OPEN,
        issue_date=dt.date(2026, 3, 3),
        due_date=dt.date(2026, 4, 2),
    )


def quickbooks_payment(invoice_id: str, amount: str) -> Payment:
    return Payment(
        amount=Decimal(amount),
        currency="USD",
        date=dt.date(2026, 3, 10),
        applications=(PaymentApplication(invoice_id, Decimal(amount)),),
        method="check",
        reference="4711",
    )


async def test_a_quickbooks_invoice_appears_in_hubspot(world: World) -> None:
    customer_id = world.ledger.add_customer(replace(ADA, display_name="Ada Lovelace"))
    qbo_id = world.ledger.add_invoice(quickbooks_invoice(), customer_id)
    key = world.mark(INVOICE, Side.QUICKBOOKS, qbo_id)

    await world.run()

    assert world.state(key).status is SyncStatus.SYNCED
    link = world.store.get_link(CONN, INVOICE, Side.QUICKBOOKS, qbo_id)
    assert link is not None and link.hubspot_id is not None
    hs, qbo = await world.assert_books_agree(link.hubspot_id)
    assert hs.total == qbo.total == Decimal("800.00")
    assert world.crm.properties[link.hubspot_id][QBO_ID_PROP] == qbo_id


async def test_a_payment_waits_for_its_invoice_then_syncs(world: World) -> None:
    customer_id = world.ledger.add_customer(replace(ADA, display_name="Ada Lovelace"))
    qbo_invoice = world.ledger.add_invoice(quickbooks_invoice(), customer_id)
    qbo_payment = world.ledger.add_payment(quickbooks_payment(qbo_invoice, "300.00"), customer_id)
    payment_key = world.mark(PAYMENT, Side.QUICKBOOKS, qbo_payment)

    report = await world.run()

    # Invoices before payments: the payment is blocked (not failed) and its invoice is woken.
    assert report.blocked == 1
    blocked = world.state(payment_key)
    assert blocked.status is SyncStatus.BLOCKED
    invoice_key = world.key(INVOICE, Side.QUICKBOOKS, qbo_invoice)
    assert blocked.blocked_on == invoice_key.as_text()
    assert world.crm.payments == {}
    assert invoice_key in world.store.dirty

    await world.run()  # the invoice syncs and wakes the payment
    assert world.state(invoice_key).status is SyncStatus.SYNCED
    assert payment_key in world.store.dirty
    await world.run()

    assert world.state(payment_key).status is SyncStatus.SYNCED
    [copy] = [p.payment for p in world.crm.payments.values()]
    assert copy.amount == Decimal("300.00")
    link = world.store.get_link(CONN, INVOICE, Side.QUICKBOOKS, qbo_invoice)
    assert link is not None and link.hubspot_id is not None
    hs, qbo = await world.both(link.hubspot_id)
    assert hs.amount_paid == qbo.amount_paid == Decimal("300.00")
    assert hs.balance_due == qbo.balance_due == Decimal("500.00")
    assert compare_invoice(hs, qbo, settings=world.engine.settings) == []


async def test_a_payment_on_an_invoice_voided_before_it_synced_is_excluded_with_it(
    world: World,
) -> None:
    hs_invoice = world.crm.add_invoice(hubspot_invoice(status=InvoiceStatus.VOIDED))
    world.mark(INVOICE, Side.HUBSPOT, hs_invoice)
    await world.run()
    hs_payment = "7001"
    world.crm.payments[hs_payment] = _hubspot_payment(hs_payment, hs_invoice)
    key = world.mark(PAYMENT, Side.HUBSPOT, hs_payment)

    await world.run()

    assert world.state(key).status is SyncStatus.EXCLUDED
    assert world.ledger.payments == {}


def _hubspot_payment(payment_id: str, invoice_id: str) -> CrmPayment:
    payment = Payment(
        amount=Decimal("100.00"),
        currency="USD",
        date=dt.date(2026, 3, 12),
        applications=(PaymentApplication(invoice_id, Decimal("100.00")),),
        processor="stripe",
        customer=ADA,
        id=payment_id,
        version="1",
        origin=Side.HUBSPOT,
    )
    return CrmPayment(payment, invoice_id)


# ---- the outcome policy ------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base_seconds=2.0, backoff_cap_seconds=10.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert RetryPolicy.from_settings(SyncSettings(backoff_base_seconds=3)).backoff(2) == 6.0
