"""The outcome policy of a sync step: what happens to a record after its step ran or raised.

Done: the dirty key is dropped. Transient / RateLimited: rescheduled with capped exponential
backoff (attempts counted; a rate limit never gives up). Conflict: the step is re-run at once
(re-read and re-merge) a few times, then treated as transient. AuthExpired: failed, looked at
again after a while. Invalid / ConfigError / NotFound / Duplicate: failed with category and hint,
waiting for a fix. Blocked: looked at again after a safety interval even if never woken.

The live worker (`SyncEngine.run_once`) and the backfill both run records through `StepOutcomes`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ledgerbridge.domain import SyncStatus
from ledgerbridge.engine.fieldmap import SyncSettings
from ledgerbridge.engine.ports import RecordKey, StorePort
from ledgerbridge.engine.state_book import ON_COMMIT, StepResult
from ledgerbridge.engine.steps import RunReport, Stepper
from ledgerbridge.errors import AuthExpired, Conflict, RateLimited, SyncError, Transient

log = logging.getLogger(__name__)

CONFLICT_RETRIES = 3
BLOCKED_SAFETY_RETRY = dt.timedelta(minutes=10)  # a blocked record looks again even unwoken
AUTH_RETRY = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a record whose step failed transiently is tried again."""

    max_attempts: int = 10
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    conflict_retries: int = CONFLICT_RETRIES

    @classmethod
    def from_settings(cls, settings: SyncSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_cap_seconds=settings.backoff_cap_seconds,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: base * 2^(attempts-1), capped."""
        base = self.backoff_base_seconds
        return float(min(self.backoff_cap_seconds, base * (2 ** max(0, attempts - 1))))


class StepOutcomes:
    """Runs one record's step and records its outcome (state, retry time, report counts)."""

    def __init__(
        self, store: StorePort, clock: Callable[[], dt.datetime], policy: RetryPolicy
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy

    async def run_key(
        self, stepper: Stepper, key: RecordKey, report: RunReport, *, release: bool = True
    ) -> None:
        """Run `key`'s step and record what came of it. `release`: the key was claimed from the
        dirty queue (release it, with its retry time); otherwise a retry is queued anew."""
        released = False

        def release_with(result: StepResult) -> None:
            # Inside the step's closing transaction: the key is released with its outcome.
            nonlocal released
            self.store.release_dirty(key, self._retry_at(result))
            released = True

        token = ON_COMMIT.set(release_with if release else None)
        try:
            retry_at, returned = await self._run(stepper, key, report)
        finally:
            ON_COMMIT.reset(token)
        if release and not released:
            self.store.release_dirty(key, retry_at)
        elif retry_at is not None and (not release or not returned):
            # Not claimed; or released with the step's outcome, and then something raised.
            self.store.mark_dirty(key, "retry", retry_at)

    async def _run(
        self, stepper: Stepper, key: RecordKey, report: RunReport
    ) -> tuple[dt.datetime | None, bool]:
        """Run the step and record an error it raised: (when the key is due again, whether the
        step returned)."""
        retry_at: dt.datetime | None = None
        returned = False
        try:
            result = await self.step_with_conflict_retry(stepper, key)
            if result is not None:
                report.results.append(result)
                report.count(result.plan.decision.status)
                retry_at = self._retry_at(result)
            else:
                report.count(None)
            returned = True
        except RateLimited as exc:
            retry_at = await self._transient(stepper, key, exc, report, exc.retry_after)
        except AuthExpired as exc:
            await stepper.fail(
                key,
                SyncStatus.FAILED,
                exc.category,
                exc.message,
                exc.hint or None,
                self.clock() + AUTH_RETRY,
            )
            retry_at = self.clock() + AUTH_RETRY
            report.failed += 1
        except (Transient, Conflict) as exc:
            retry_at = await self._transient(stepper, key, exc, report, None)
        except SyncError as exc:
            # Invalid / Duplicate / NotFound / ConfigError: the record fails alone, and waits
            # for a fix and a retry (console, CLI, or a change to the record).
            await stepper.fail(
                key, SyncStatus.FAILED, exc.category, exc.message, exc.hint or None, None
            )
            report.failed += 1
        except Exception as exc:  # a bug must not stop the other records
            log.exception("sync step for %s crashed", key.as_text())
            retry_at = await self._transient(
                stepper,
                key,
                Transient(
                    f"internal error: {exc!r}",
                    hint="This is a bug; it is retried automatically, and reported in the logs",
                ),
                report,
                None,
            )
        return retry_at, returned

    def _retry_at(self, result: StepResult) -> dt.datetime | None:
        """When a finished step's key is due again (None: done)."""
        if result.plan.decision.status is SyncStatus.BLOCKED and result.plan.wake:
            # Waiting on a record in progress: look again even if never woken. A record blocked
            # on a failed one (no wake) waits for that one's next state change.
            return self.clock() + BLOCKED_SAFETY_RETRY
        if result.plan.decision.retry_at is not None:
            return result.plan.decision.retry_at  # waits on purpose (settling)
        return None

    async def step_with_conflict_retry(self, stepper: Stepper, key: RecordKey) -> StepResult | None:
        """Someone wrote the record between our read and our write: read and merge again."""
        retries = max(1, self.policy.conflict_retries)
        for attempt in range(retries):
            try:
                return await stepper.run(key)
            except Conflict:
                if attempt == retries - 1:
                    raise
        return None

    async def _transient(
        self,
        stepper: Stepper,
        key: RecordKey,
        exc: SyncError,
        report: RunReport,
        retry_after: float | None,
    ) -> dt.datetime | None:
        previous = self.store.get_state(stepper.primary_key(key))
        attempts = (previous.attempts if previous else 0) + 1
        # A rate limit is never a reason to give up: the record waits its turn in the budget.
        if attempts >= self.policy.max_attempts and not isinstance(exc, RateLimited):
            await stepper.fail(
                key,
                SyncStatus.FAILED,
                exc.category,
                f"{exc.message} (gave up after {attempts} attempts)",
                exc.hint or "Retry once the other system is reachable again",
                None,
            )
            report.failed += 1
            return None
        delay = self.policy.backoff(attempts)
        if retry_after is not None:
            delay = max(delay, retry_after)
        retry_at = self.clock() + dt.timedelta(seconds=delay)
        await stepper.fail(
            key, SyncStatus.PENDING, exc.category, exc.message, exc.hint or None, retry_at
        )
        report.retrying += 1
        return retry_at
