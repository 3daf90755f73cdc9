"""The circuit breaker: limits, timing, the half-open trial, and its transition table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from releve.clock import VirtualClock
from releve.gateway import Breaker, BreakerInput, BreakerPolicy, BreakerState, IllegalTransition
from releve.gateway._breaker import _TRANSITIONS, next_state

POLICY = BreakerPolicy(consecutive_failures=3, failure_rate=0.5, window=10.0, min_requests=10, open_for=30.0)


def test_opens_after_consecutive_failures(clock: VirtualClock) -> None:
    """Three failures in a row open the breaker, which then refuses at once."""
    breaker = Breaker(POLICY, clock)
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.open_remaining() == pytest.approx(30.0)


def test_a_success_resets_the_consecutive_count(clock: VirtualClock) -> None:
    """Failures separated by successes do not count as consecutive (below min_requests for the rate)."""
    breaker = Breaker(POLICY, clock)
    for _ in range(3):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_opens_on_failure_rate_over_the_window(clock: VirtualClock) -> None:
    """Half the requests failing over the window opens it, once enough were seen."""
    breaker = Breaker(POLICY, clock)
    for _ in range(5):
        breaker.record_success()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_old_outcomes_leave_the_window(clock: VirtualClock) -> None:
    """Failures older than the window no longer count toward the rate."""
    breaker = Breaker(POLICY, clock)
    for _ in range(4):
        breaker.record_failure()
        breaker.record_success()
    clock.advance(11.0)
    for _ in range(9):
        breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_trial_through(clock: VirtualClock) -> None:
    """After open_for, one caller becomes the trial and the others are still refused."""
    breaker = Breaker(POLICY, clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()


def test_trial_success_closes_and_failure_reopens(clock: VirtualClock) -> None:
    """The trial's outcome decides: success closes, failure opens for another open_for."""
    breaker = Breaker(POLICY, clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.open_remaining() == pytest.approx(30.0)
    clock.advance(30.0)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_abandoned_trial_frees_the_slot(clock: VirtualClock) -> None:
    """A trial cancelled with no verdict lets the next caller try."""
    breaker = Breaker(POLICY, clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    assert breaker.allow()
    breaker.abandon_trial()
    assert breaker.allow()


def test_reports_each_state_change(clock: VirtualClock) -> None:
    """The listener hears closed→open→half-open→closed, in order."""
    seen: list[tuple[BreakerState, BreakerState]] = []
    breaker = Breaker(POLICY, clock, lambda old, new, shared: seen.append((old, new)))
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    breaker.allow()
    breaker.record_success()
    assert seen == [(BreakerState.CLOSED, BreakerState.OPEN), (BreakerState.OPEN, BreakerState.HALF_OPEN),
                    (BreakerState.HALF_OPEN, BreakerState.CLOSED)]


@given(state=st.sampled_from(BreakerState), event=st.sampled_from(BreakerInput))
def test_every_pair_is_legal_or_refused(state: BreakerState, event: BreakerInput) -> None:
    """Each (state, input) pair either leads to a state or raises IllegalTransition."""
    if (state, event) in _TRANSITIONS:
        assert next_state(state, event) in BreakerState
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, event)


@given(st.lists(st.sampled_from(["ok", "fail", "wait", "allow", "abandon"]), max_size=60))
def test_any_sequence_keeps_the_breaker_consistent(steps: list[str]) -> None:
    """Whatever happens, an open breaker refuses until open_for passes, and state stays legal."""
    clock = VirtualClock()
    breaker = Breaker(POLICY, clock)
    for step in steps:
        if step == "ok":
            breaker.record_success()
        elif step == "fail":
            breaker.record_failure()
        elif step == "wait":
            clock.advance(7.5)
        elif step == "abandon":
            breaker.abandon_trial()
        else:
            allowed = breaker.allow()
            if breaker.state is BreakerState.OPEN:
                assert not allowed
        assert breaker.state in BreakerState
        if breaker.state is BreakerState.OPEN:
            assert 0 <= breaker.open_remaining() <= POLICY.open_for


def test_adopting_another_replicas_open_keeps_its_cool_down_moment(clock: VirtualClock) -> None:
    """Opened elsewhere 10 s ago (20 s left of 30): closed for the first trial at the same moment as there."""
    seen: list[tuple[BreakerState, BreakerState, bool]] = []
    breaker = Breaker(POLICY, clock, lambda old, new, shared: seen.append((old, new, shared)))
    breaker.adopt_open(20.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.open_remaining() == pytest.approx(20.0)
    clock.advance(19.9)
    assert not breaker.allow()
    clock.advance(0.2)
    assert breaker.allow()  # the local trial, as if it had opened here
    assert seen[0] == (BreakerState.CLOSED, BreakerState.OPEN, True)
    assert seen[1] == (BreakerState.OPEN, BreakerState.HALF_OPEN, False)


def test_a_later_shared_open_extends_and_an_earlier_one_does_not_shorten(clock: VirtualClock) -> None:
    breaker = Breaker(POLICY, clock)
    breaker.adopt_open(10.0)
    breaker.adopt_open(25.0)
    assert breaker.open_remaining() == pytest.approx(25.0)
    breaker.adopt_open(5.0)
    assert breaker.open_remaining() == pytest.approx(25.0)


def test_adopting_a_close_ends_open_and_half_open_and_clears_the_trial(clock: VirtualClock) -> None:
    seen: list[tuple[BreakerState, BreakerState, bool]] = []
    breaker = Breaker(POLICY, clock, lambda old, new, shared: seen.append((old, new, shared)))
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    assert breaker.allow()  # this process's trial is in flight
    breaker.adopt_close()
    assert breaker.state is BreakerState.CLOSED
    assert seen[-1] == (BreakerState.HALF_OPEN, BreakerState.CLOSED, True)
    breaker.record_success()  # the trial's late answer changes nothing
    assert breaker.state is BreakerState.CLOSED
    before = len(seen)
    breaker.adopt_close()  # already closed: no change, nothing heard
    assert len(seen) == before
