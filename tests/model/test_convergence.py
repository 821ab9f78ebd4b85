"""Model-based convergence test (issue 7): random operations on both sides, the engine running in
between with lost webhooks and injected faults; at the end the books must agree, or the engine
must say which field does not.

Bounded in `make test` (a fixed, derandomized budget of about a minute or two); `make soak`
runs it long: SOAK_OPERATIONS operations over as many seeds as it takes, printing operations/s
and every finding with its seed and shrunk operation list.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from machine import STATS, ConvergenceMachine

pytestmark = pytest.mark.model


Machine = ConvergenceMachine


BOUNDED = settings(
    max_examples=int(os.environ.get("MODEL_EXAMPLES", "80")),
    stateful_step_count=int(os.environ.get("MODEL_STEPS", "50")),
    derandomize=True,  # the same operations on every run, so CI is stable
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


@pytest.mark.timeout(600)
def test_books_converge_under_random_operations() -> None:
    before = STATS["operations"]
    run_state_machine_as_test(Machine, settings=BOUNDED)
    print(f"model: {STATS['operations'] - before} operations")
