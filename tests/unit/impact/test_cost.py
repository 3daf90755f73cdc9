"""The cost model on known counts: every figure equals the formula, computed by hand here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from releve.config import ProcessConfig
from releve.impact import Counts, process_cost
from releve.store import ComponentStatus, StatusChange, TrafficMinute

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PROCESS = ProcessConfig(routes=["assistant", "search"], users=40, hourly_cost=35.0, revenue_per_hour=1200.0)


def minutes(count: int, **per_minute: int) -> list[TrafficMinute]:
    return [TrafficMinute("assistant", START + timedelta(minutes=i), **per_minute) for i in range(count)]


def test_a_thousand_requests_with_120_failed_and_300_saved() -> None:
    traffic = minutes(10, served=58, fallback=30, failed=12)
    cost = process_cost("support", PROCESS, traffic, [], START, START + timedelta(minutes=10), degraded_weight=0.5)
    assert cost.counts == Counts(served=580, fallback=300, degraded=0, failed=120)
    assert cost.loss_fraction == pytest.approx(0.12)
    assert cost.saved_fraction == pytest.approx(0.30)
    hours = 10 / 60
    assert cost.productivity_loss == pytest.approx(40 * 35 * 0.12 * hours, rel=1e-12)
    assert cost.revenue_loss == pytest.approx(1200 * 0.12 * hours, rel=1e-12)
    assert cost.avoided_productivity == pytest.approx(40 * 35 * 0.30 * hours, rel=1e-12)
    assert cost.avoided_revenue == pytest.approx(1200 * 0.30 * hours, rel=1e-12)
    assert cost.availability == pytest.approx(0.88)
    assert sum(m.cost for m in cost.timeline) == pytest.approx(cost.loss)
    assert sum(m.avoided for m in cost.timeline) == pytest.approx(cost.avoided)


def test_degraded_answers_count_at_their_weight() -> None:
    traffic = minutes(6, served=80, degraded=20)
    cost = process_cost("support", PROCESS, traffic, [], START, START + timedelta(minutes=6), degraded_weight=0.25)
    assert cost.loss_fraction == pytest.approx(0.25 * 0.2)
    assert cost.lost_hours == pytest.approx(0.05 * 6 / 60)


def test_deferred_requests_count_like_degraded_ones() -> None:
    """loss = (failed + w × (degraded + deferred)) / total: a deferred request was answered, but late."""
    traffic = minutes(10, served=50, fallback=10, degraded=5, deferred=25, failed=10)
    cost = process_cost("support", PROCESS, traffic, [], START, START + timedelta(minutes=10), degraded_weight=0.4)
    assert cost.counts == Counts(served=500, fallback=100, degraded=50, deferred=250, failed=100)
    assert cost.counts.total == 1000
    loss = (100 + 0.4 * (50 + 250)) / 1000
    assert cost.loss_fraction == pytest.approx(loss, rel=1e-12)
    assert cost.saved_fraction == pytest.approx(0.10, rel=1e-12)
    hours = 10 / 60
    assert cost.lost_hours == pytest.approx(loss * hours, rel=1e-12)
    assert cost.productivity_loss == pytest.approx(40 * 35 * loss * hours, rel=1e-12)
    assert cost.revenue_loss == pytest.approx(1200 * loss * hours, rel=1e-12)
    assert cost.availability == pytest.approx(1 - loss, rel=1e-12)
    assert all(m.loss == pytest.approx(loss, rel=1e-12) for m in cost.timeline)
    assert sum(m.cost for m in cost.timeline) == pytest.approx(cost.loss)
    # Deferred alone: at weight 1 they cost as much as failures, at weight 0 nothing.
    only = minutes(2, served=60, deferred=40)
    end = START + timedelta(minutes=2)
    assert process_cost("support", PROCESS, only, [], START, end, degraded_weight=1.0).loss_fraction == 0.4
    assert process_cost("support", PROCESS, only, [], START, end, degraded_weight=0.0).loss == 0


def test_without_traffic_the_status_stands_in() -> None:
    history = [
        StatusChange("process:support", START - timedelta(hours=1), ComponentStatus.OPERATIONAL),
        StatusChange("process:support", START + timedelta(minutes=2), ComponentStatus.MAJOR_OUTAGE),
        StatusChange("process:support", START + timedelta(minutes=5, seconds=30), ComponentStatus.PARTIAL_OUTAGE),
        StatusChange("process:support", START + timedelta(minutes=8), ComponentStatus.DEGRADED_PERFORMANCE),
    ]
    cost = process_cost("support", PROCESS, [], history, START, START + timedelta(minutes=10), degraded_weight=0.5)
    lost_seconds = 210 * 1.0 + 150 * 0.3
    assert cost.traffic_hours == 0 and cost.quiet_hours == pytest.approx(10 / 60)
    assert cost.lost_hours == pytest.approx(lost_seconds / 3600)
    assert cost.productivity_loss == pytest.approx(40 * 35 * lost_seconds / 3600)
    assert cost.avoided == 0


def test_traffic_minutes_and_quiet_minutes_add_up() -> None:
    traffic = minutes(5, served=50, failed=50)  # the first five minutes: half failed
    history = [StatusChange("process:support", START, ComponentStatus.MAJOR_OUTAGE)]
    cost = process_cost("support", PROCESS, traffic, history, START, START + timedelta(minutes=10), degraded_weight=0)
    assert cost.traffic_hours == pytest.approx(5 / 60) and cost.quiet_hours == pytest.approx(5 / 60)
    assert cost.lost_hours == pytest.approx(0.5 * 5 / 60 + 5 / 60)


def test_other_routes_and_minutes_outside_are_ignored_and_the_interval_is_whole_minutes() -> None:
    traffic = [*minutes(3, served=10), TrafficMinute("elsewhere", START, failed=99),
               TrafficMinute("assistant", START + timedelta(minutes=30), failed=99)]
    cost = process_cost("support", PROCESS, traffic, [], START + timedelta(seconds=20),
                        START + timedelta(minutes=2, seconds=1), degraded_weight=0.5)
    assert (cost.start, cost.end) == (START, START + timedelta(minutes=3))
    assert cost.counts == Counts(served=30)
    assert cost.loss == 0 and cost.availability == 1.0


def test_an_empty_interval_costs_nothing() -> None:
    cost = process_cost("support", PROCESS, [], [], START, START, degraded_weight=0.5)
    assert cost.hours == 0 and cost.loss == 0 and cost.availability == 1.0 and cost.loss_fraction == 0
