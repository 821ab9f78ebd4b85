"""`make soak`: the model-based convergence test run long, every rule enabled.

    SOAK_OPERATIONS=10000 [SOAK_SEED=n] [SOAK_STEPS=50] python tests/model/soak.py

Runs the state machine under successive seeds (from SOAK_SEED, default random) until about
SOAK_OPERATIONS operations have run. Each failure is shrunk by Hypothesis, which prints the
shrunk operation list; the soak prints the seed that found it, goes on with the next seed, and
at the end prints operations/s and every finding. Exit status 1 if anything was found.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "integration"), str(HERE.parent)]
# The known-bug rules too (machine.KNOWN_BUG_RULES); MODEL_ALL_RULES=0 hunts only for new bugs.
os.environ.setdefault("MODEL_ALL_RULES", "1")

from hypothesis import HealthCheck, seed, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402
from machine import STATS  # noqa: E402
from test_convergence import Machine  # noqa: E402


def main() -> int:
    budget = int(os.environ.get("SOAK_OPERATIONS", "10000"))
    steps = int(os.environ.get("SOAK_STEPS", "50"))
    first = int(os.environ.get("SOAK_SEED") or random.randrange(2**32))
    config = settings(
        max_examples=max(1, min(20, budget // steps)),
        stateful_step_count=steps,
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    findings: list[tuple[int, str]] = []
    started = time.monotonic()
    current = first
    while STATS["operations"] < budget:
        elapsed = time.monotonic() - started
        print(
            f"soak: seed {current} ({STATS['operations']}/{budget} operations, {elapsed:.0f} s, "
            f"{len(findings)} finding(s) so far)",
            flush=True,
        )
        try:
            run_state_machine_as_test(seed(current)(Machine), settings=config)
        except Exception as exc:  # noqa: BLE001 - a finding: Hypothesis has printed the shrunk operations
            traceback.print_exc()
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            findings.append((current, f"{type(exc).__name__}: {' / '.join(lines[:3])}"))
            print(f"soak: FINDING with seed {current}", flush=True)
        current += 1
    elapsed = time.monotonic() - started
    print(
        f"soak: {STATS['operations']} operations in {STATS['runs']} runs, {elapsed:.0f} s, "
        f"{STATS['operations'] / elapsed:.1f} operations/s (seeds {first}..{current - 1}; "
        "operations counted while shrinking too)"
    )
    print(f"soak: {len(findings)} finding(s)")
    for found_seed, summary in findings:
        print(f"  seed {found_seed}: {summary}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
