"""The backfill's ETA: the realm's rate budget sets the floor, the measured pace takes over
when the run is slower than the budget allows, and customers and items created early in a run
are not charged to every invoice still to come."""

from __future__ import annotations

import pytest

from ledgerbridge.connectors.budget import qbo_limits
from ledgerbridge.engine.checkpoint import CostModel

LIMITS = qbo_limits()  # 500 requests per minute; the bulk lane leaves a share to live changes
BULK_PER_MINUTE = LIMITS.bulk_cap(LIMITS.windows[0])  # 470


def _started(at: float = 0.0) -> CostModel:
    cost = CostModel()
    cost.observe(None, 0, 0, at)
    return cost


def test_customers_created_early_are_not_charged_to_the_rest() -> None:
    cost = _started()
    # First page: 100 invoices in 4 /batch calls, and 60 new customers in 2 more; a lookup.
    cost.observe((100 + 60, 4 + 2 + 1, 4 + 2), 100, 60, 10.0)
    assert cost.metered == pytest.approx(1.0)
    eta = cost.eta(LIMITS, 900)
    # 900 invoices at one metered request each, at the bulk lane's 470 per minute: 115 s.
    # Charging the 60 customers to every invoice (1.6 each) would have said 184 s.
    assert eta == pytest.approx(900 / BULK_PER_MINUTE * 60)
    assert 110 < eta < 120


def test_the_budget_is_the_floor_while_the_first_window_runs_ahead() -> None:
    cost = _started()
    # 500 invoices in 2 s: the first minute's window started full, no run keeps that pace.
    cost.observe((500, 17, 17), 500, 0, 2.0)
    assert cost.rate == pytest.approx(250.0)
    eta = cost.eta(LIMITS, 4500)
    # 4,500 at 470 per minute (574 s), not 4,500 / 250 = 18 s
    assert eta == pytest.approx(4500 / BULK_PER_MINUTE * 60)


def test_a_run_slower_than_the_budget_takes_the_measured_pace() -> None:
    cost = _started()
    cost.observe((100, 5, 4), 100, 0, 50.0)  # 2 invoices per second, the budget allows 7.8
    assert cost.eta(LIMITS, 1000) == pytest.approx(500.0)


def test_the_pace_is_a_moving_average_of_recent_pages() -> None:
    cost = _started()
    cost.observe(None, 100, 0, 10.0)  # 10 per second
    cost.observe(None, 200, 0, 15.0)  # then 20 per second
    assert cost.rate == pytest.approx(15.0)
    assert cost.eta(None, 300) == pytest.approx(20.0)


def test_without_limits_or_a_measured_pace_there_is_no_eta() -> None:
    cost = _started()
    assert cost.eta(None, 100) is None
    assert cost.eta(None, 0) == 0.0
    # A fresh run: the defaults (1.05 metered requests per invoice) under the limits.
    assert cost.eta(LIMITS, 470) == pytest.approx(63.0, rel=0.01)
