"""Planning a QBO payment's copies when HubSpot refunded or deleted some of them (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerbridge.domain import Payment, PaymentApplication, Side, SyncStatus
from ledgerbridge.engine import ownership
from ledgerbridge.engine.decisions import UpsertCrmPayment
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.payments import PaymentInput, payment_hash, plan_payment, share_key
from ledgerbridge.engine.ports import INVOICE, PAYMENT, Link, RecordKey

KEY = RecordKey(1, PAYMENT, Side.QUICKBOOKS, "p-1")
INVOICES = {q: Link(1, INVOICE, h, q) for q, h in (("q-1", "h-1"), ("q-2", "h-2"))}


def _payment(status: str = "succeeded") -> Payment:
    return Payment(
        amount=Decimal("300.00"),
        currency="USD",
        date=dt.date(2026, 11, 2),
        applications=(
            PaymentApplication("q-1", Decimal("100.00")),
            PaymentApplication("q-2", Decimal("200.00")),
        ),
        status=status,
        id="p-1",
    )


def _link() -> Link:
    return Link(
        1, PAYMENT, None, "p-1", qbo_hash="old", extra={"shares": {"q-1": "h-1", "q-2": "h-2"}}
    )


def _plan(states: dict[str, str], status: str = "succeeded"):  # type: ignore[no-untyped-def]
    inp = PaymentInput(
        KEY, _payment(status), _link(), INVOICES, frozenset(), SyncSettings(), states
    )
    return plan_payment(inp)


def test_nothing_owned_upserts_every_share_as_before() -> None:
    plan = _plan({})
    ops = [op for op in plan.ops if isinstance(op, UpsertCrmPayment)]
    assert [(op.hubspot_invoice_id, op.keep_refund) for op in ops] == [
        ("h-1", False),
        ("h-2", False),
    ]
    assert plan.extra["hubspot_owned"] == ()


def test_a_share_deleted_in_hubspot_is_not_upserted_but_stays_known() -> None:
    plan = _plan({"q-1": "deleted"})
    ops = [op for op in plan.ops if isinstance(op, UpsertCrmPayment)]
    assert [op.hubspot_invoice_id for op in ops] == ["h-2"]
    assert plan.extra["shares"] == {"q-1": "h-1", "q-2": "h-2"}
    (note,) = plan.extra["hubspot_owned"]
    assert "h-1" in note[0] and "not re-created" in note[2]


def test_every_share_deleted_writes_nothing_and_remembers_the_version() -> None:
    plan = _plan({"q-1": "deleted", "q-2": "deleted"})
    assert not plan.writes and plan.decision.status is SyncStatus.SYNCED
    assert plan.extra["qbo_hash"] == payment_hash(_payment())
    assert len(plan.extra["hubspot_owned"]) == 2


def test_a_refunded_share_keeps_its_refund() -> None:
    plan = _plan({"q-2": "partially_refunded"})
    ops = {op.hubspot_invoice_id: op for op in plan.ops if isinstance(op, UpsertCrmPayment)}
    assert ops["h-2"].keep_refund and not ops["h-1"].keep_refund
    assert ops["h-2"].external_key == share_key("p-1", "q-2")


def test_a_deleted_qbo_payment_may_still_refund_in_full() -> None:
    plan = _plan({"q-2": "partially_refunded"}, status="deleted")
    assert not any(op.keep_refund for op in plan.ops if isinstance(op, UpsertCrmPayment))


class _Crm:
    def __init__(self, found: dict[str, Payment]) -> None:
        self.found = found
        self.asked: list[list[str]] = []

    async def find_ledger_payments(self, keys: list[str]) -> dict[str, Payment]:
        self.asked.append(sorted(keys))
        return {k: v for k, v in self.found.items() if k in keys}


async def test_hubspot_states_reads_only_changed_copied_payments() -> None:
    refunded = Payment(Decimal("200.00"), "USD", dt.date(2026, 11, 2), status="partially_refunded")
    crm = _Crm({share_key("p-1", "q-2"): refunded})
    states = await ownership.hubspot_states(crm, _link(), _payment(), "p-1")  # type: ignore[arg-type]
    assert states == {"q-1": "deleted", "q-2": "partially_refunded"}
    assert crm.asked == [[share_key("p-1", "q-1"), share_key("p-1", "q-2")]]

    unchanged = Link(
        1, PAYMENT, None, "p-1", qbo_hash=payment_hash(_payment()), extra=_link().extra
    )
    assert await ownership.hubspot_states(crm, unchanged, _payment(), "p-1") == {}  # type: ignore[arg-type]
    assert await ownership.hubspot_states(crm, None, _payment(), "p-1") == {}  # type: ignore[arg-type]
    assert len(crm.asked) == 1


def _copy(amount: str, status: str = "succeeded") -> Payment:
    return Payment(
        amount=Decimal(amount),
        currency="USD",
        date=dt.date(2026, 11, 2),
        processor="quickbooks",
        status=status,
        id=f"hs-{amount}",
        origin=Side.QUICKBOOKS,
    )


def _deleted_plan(copies: dict[str, Payment]):  # type: ignore[no-untyped-def]
    inp = PaymentInput(KEY, None, _link(), INVOICES, frozenset(), SyncSettings(), {}, copies)
    return plan_payment(inp)


def test_a_payment_deleted_in_qbo_refunds_each_hubspot_copy_in_full() -> None:
    plan = _deleted_plan({"q-1": _copy("100.00"), "q-2": _copy("200.00")})
    assert plan.decision.status is SyncStatus.SYNCED
    ups = [op for op in plan.ops if isinstance(op, UpsertCrmPayment)]
    assert [(op.hubspot_invoice_id, op.amount, op.external_key) for op in ups] == [
        ("h-1", Decimal("100.00"), share_key("p-1", "q-1")),
        ("h-2", Decimal("200.00"), share_key("p-1", "q-2")),
    ]
    # Written as gone: the HubSpot copy becomes refunded in full (payment_to_wire).
    assert all(op.payment.status == "deleted" and not op.keep_refund for op in ups)
    assert plan.extra["qbo_hash"] == "deleted"


def test_a_deleted_qbo_payment_leaves_archived_and_refunded_copies_alone() -> None:
    # q-1's copy was archived in HubSpot (absent), q-2's is already refunded in full.
    plan = _deleted_plan({"q-2": _copy("200.00", status="refunded")})
    assert plan.decision.status is SyncStatus.SYNCED
    assert not plan.writes


def test_a_qbo_payment_never_copied_and_now_gone_is_skipped() -> None:
    inp = PaymentInput(KEY, None, None, INVOICES, frozenset(), SyncSettings())
    assert plan_payment(inp).decision.status is None
