"""A circuit breaker per target, with its legal moves written down as a table.

CLOSED counts outcomes (consecutive failures, and the failure rate over a
sliding time window). It opens on either limit; OPEN rejects without waiting
until `open_for` has passed; then the next caller becomes the single trial
request (HALF_OPEN), whose outcome closes or reopens the breaker.

Time comes from the injected `Clock`, so tests move it instead of sleeping.

With shared state (several replicas), what another replica's breaker learnt is adopted with
`adopt_open` / `adopt_close`; the change listener is told it was shared, so it is not echoed back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from releve.clock import Clock

__all__ = ["Breaker", "BreakerInput", "BreakerPolicy", "BreakerState", "IllegalTransition"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerInput(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    TRIPPED = "tripped"          # a failure that crossed a limit
    COOLED_DOWN = "cooled_down"  # open_for has elapsed
    TRIAL_ABANDONED = "trial_abandoned"
    SHARED_OPEN = "shared_open"    # another replica's breaker for this target opened
    SHARED_CLOSE = "shared_close"  # another replica's trial succeeded: the target answers again


# Any (state, input) pair missing from this table is a bug, not a no-op.
_TRANSITIONS: dict[tuple[BreakerState, BreakerInput], BreakerState] = {
    (BreakerState.CLOSED, BreakerInput.SUCCESS): BreakerState.CLOSED,
    (BreakerState.CLOSED, BreakerInput.FAILURE): BreakerState.CLOSED,
    (BreakerState.CLOSED, BreakerInput.TRIPPED): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerInput.COOLED_DOWN): BreakerState.HALF_OPEN,
    # Late outcomes of requests sent before the breaker opened change nothing.
    (BreakerState.OPEN, BreakerInput.SUCCESS): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerInput.FAILURE): BreakerState.OPEN,
    (BreakerState.HALF_OPEN, BreakerInput.SUCCESS): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, BreakerInput.FAILURE): BreakerState.OPEN,
    (BreakerState.HALF_OPEN, BreakerInput.TRIAL_ABANDONED): BreakerState.HALF_OPEN,
    # What other replicas learnt (shared state): adopted whatever the local state.
    (BreakerState.CLOSED, BreakerInput.SHARED_OPEN): BreakerState.OPEN,
    (BreakerState.OPEN, BreakerInput.SHARED_OPEN): BreakerState.OPEN,
    (BreakerState.HALF_OPEN, BreakerInput.SHARED_OPEN): BreakerState.OPEN,
    (BreakerState.CLOSED, BreakerInput.SHARED_CLOSE): BreakerState.CLOSED,
    (BreakerState.OPEN, BreakerInput.SHARED_CLOSE): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, BreakerInput.SHARED_CLOSE): BreakerState.CLOSED,
}


class IllegalTransition(RuntimeError):
    pass


def next_state(state: BreakerState, event: BreakerInput) -> BreakerState:
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"breaker cannot take {event} while {state}") from None


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    consecutive_failures: int = 5
    failure_rate: float = 0.5
    window: float = 30.0
    min_requests: int = 20
    open_for: float = 30.0
    buckets: int = 10


class Breaker:
    """One target's breaker. Not thread-safe: each event loop owns its breakers."""

    __slots__ = (
        "_bucket_epoch", "_bucket_width", "_clock", "_consecutive", "_failures", "_on_change",
        "_opened_at", "_policy", "_successes", "_trial_in_flight", "state",
    )

    def __init__(self, policy: BreakerPolicy, clock: Clock,
                 on_change: Callable[[BreakerState, BreakerState, bool], None] | None = None) -> None:
        """`on_change(old, new, shared)`: `shared` is True when the change was adopted from another replica."""
        self._policy = policy
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._bucket_width = policy.window / policy.buckets
        self._successes = [0] * policy.buckets
        self._failures = [0] * policy.buckets
        self._bucket_epoch = [-1] * policy.buckets

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy

    def open_remaining(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._policy.open_for - self._clock.now())

    def allow(self) -> bool:
        """May a request be sent now? In HALF_OPEN, True makes the caller the trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            if self._clock.now() < self._opened_at + self._policy.open_for:
                return False
            self._move(BreakerInput.COOLED_DOWN)
        if self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def available(self) -> bool:
        """Like `allow()` but without claiming the trial: for planning and messages."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self.open_remaining() <= 0.0
        return not self._trial_in_flight

    def record_success(self) -> None:
        self._consecutive = 0
        if self.state is BreakerState.CLOSED:
            self._count(self._successes)
        elif self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self._move(BreakerInput.SUCCESS)
            self._reset_window()

    def record_failure(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self._opened_at = self._clock.now()
            self._move(BreakerInput.FAILURE)
            return
        if self.state is BreakerState.OPEN:
            return
        self._consecutive += 1
        self._count(self._failures)
        if self._consecutive >= self._policy.consecutive_failures or self._rate_exceeded():
            self._opened_at = self._clock.now()
            self._move(BreakerInput.TRIPPED)

    def adopt_open(self, remaining: float) -> None:
        """Another replica's breaker opened: stay open until the same moment it cools down (`remaining` s)."""
        opened_at = self._clock.now() - max(0.0, self._policy.open_for - remaining)
        if self.state is BreakerState.OPEN:
            self._opened_at = max(self._opened_at, opened_at)
            return
        self._trial_in_flight = False
        self._opened_at = opened_at
        self._move(BreakerInput.SHARED_OPEN, shared=True)

    def adopt_close(self) -> None:
        """Another replica's trial request succeeded: the target answers again."""
        if self.state is BreakerState.CLOSED:
            return
        self._trial_in_flight = False
        self._move(BreakerInput.SHARED_CLOSE, shared=True)
        self._reset_window()

    def abandon_trial(self) -> None:
        """The trial request ended with no verdict (cancelled, client's own mistake)."""
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self._move(BreakerInput.TRIAL_ABANDONED)

    def _move(self, event: BreakerInput, *, shared: bool = False) -> None:
        old = self.state
        new = next_state(old, event)
        if new is not old:
            self.state = new
            if new is BreakerState.CLOSED:
                self._consecutive = 0
            if self._on_change is not None:
                self._on_change(old, new, shared)

    def _count(self, counts: list[int]) -> None:
        epoch = int(self._clock.now() / self._bucket_width)
        slot = epoch % self._policy.buckets
        if self._bucket_epoch[slot] != epoch:
            self._bucket_epoch[slot] = epoch
            self._successes[slot] = 0
            self._failures[slot] = 0
        counts[slot] += 1

    def _rate_exceeded(self) -> bool:
        oldest = int(self._clock.now() / self._bucket_width) - self._policy.buckets + 1
        failures = successes = 0
        for slot, epoch in enumerate(self._bucket_epoch):
            if epoch >= oldest:
                failures += self._failures[slot]
                successes += self._successes[slot]
        total = failures + successes
        return total >= self._policy.min_requests and failures / total >= self._policy.failure_rate

    def _reset_window(self) -> None:
        for slot in range(self._policy.buckets):
            self._bucket_epoch[slot] = -1
