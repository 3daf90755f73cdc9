"""The pure parts of the monitor: windows, hysteresis, status rules and what incidents say."""

from __future__ import annotations

import pytest

from releve.config import MonitorConfig
from releve.monitor import (
    Debounced,
    Situation,
    SlidingCounts,
    TargetSignals,
    assess_route,
    assess_target,
    feed_status,
    incident_name,
    situation_body,
)
from releve.store import ComponentStatus, Text

OK = ComponentStatus.OPERATIONAL
DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE
CONFIG = MonitorConfig(min_samples=4, partial_rate=0.1, major_rate=0.5, down_after=3, up_after=2, slow_after=2.0)


def signals(**changes: object) -> TargetSignals:
    base: dict[str, object] = {"breaker_open": False, "failure_rate": None, "p95": None, "probe_failures": 0,
                               "feed": None}
    base.update(changes)
    return TargetSignals(**base)  # type: ignore[arg-type]


def test_window_forgets_what_left_it() -> None:
    window = SlidingCounts(3)
    window.add(failed=4)
    window.close()
    for _ in range(2):
        window.add(ok=1)
        window.close()
    assert window.failure_rate(min_samples=1) == pytest.approx(4 / 6)
    window.add(ok=2)
    window.close()  # the bucket with the failures falls out
    assert window.failure_rate(min_samples=1) == 0.0
    assert window.failure_rate(min_samples=10) is None


def test_window_percentile_reads_the_bucket_bound() -> None:
    window = SlidingCounts(10, latency_bounds=(0.1, 1.0, 5.0))
    window.add_latency([90, 5, 5, 0])
    window.close()
    assert window.percentile(0.5, min_samples=1) == 0.1
    assert window.percentile(0.95, min_samples=1) == 1.0
    assert window.percentile(0.99, min_samples=1) == 5.0
    assert window.percentile(0.5, min_samples=1000) is None


def test_hysteresis_needs_consecutive_agreement_both_ways() -> None:
    status = Debounced(down_after=3, up_after=2)
    assert not status.feed(MAJOR) and not status.feed(MAJOR)
    assert not status.feed(OK)  # the streak is broken: a flap does not count
    assert [status.feed(MAJOR) for _ in range(3)] == [False, False, True]
    assert status.status is MAJOR
    assert not status.feed(OK)
    assert status.feed(OK)
    assert status.status is OK


def test_hysteresis_settles_on_the_least_bad_status_of_the_streak() -> None:
    status = Debounced(down_after=3, up_after=2)
    for raw in (MAJOR, DEGRADED, MAJOR):
        status.feed(raw)
    assert status.status is DEGRADED


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, OK),
    ({"failure_rate": 0.05}, OK),
    ({"failure_rate": 0.2}, PARTIAL),
    ({"failure_rate": 0.6}, MAJOR),
    ({"breaker_open": True}, MAJOR),
    ({"probe_failures": 3}, MAJOR),
    ({"probe_failures": 2}, OK),
    ({"p95": 3.0}, DEGRADED),
    ({"feed": PARTIAL}, PARTIAL),
    ({"feed": ComponentStatus.UNDER_MAINTENANCE}, OK),
])
def test_target_status_is_the_worst_signal(changes: dict[str, object], expected: ComponentStatus) -> None:
    assert assess_target(signals(**changes), CONFIG) is expected


def test_a_route_served_by_its_fallback_is_degraded_and_names_it() -> None:
    view = assess_route([("a/x", MAJOR), ("b/y", OK), ("c/z", OK)], None, CONFIG)
    assert view.status is DEGRADED
    assert view.serving == "b/y"
    assert view.failing == ("a/x",)


def test_a_route_with_no_usable_target_is_down() -> None:
    view = assess_route([("a/x", MAJOR), ("b/y", PARTIAL)], None, CONFIG)
    assert view.status is MAJOR
    assert view.serving is None


def test_failed_client_requests_make_a_route_worse() -> None:
    assert assess_route([("a/x", OK)], 0.7, CONFIG).status is MAJOR
    assert assess_route([("a/x", OK)], None, CONFIG).status is OK


@pytest.mark.parametrize(("indicator", "expected"), [
    ("none", OK), ("minor", DEGRADED), ("major", PARTIAL), ("critical", MAJOR),
    ("maintenance", ComponentStatus.UNDER_MAINTENANCE), ("bogus", None),
])
def test_statuspage_indicators_map_to_component_statuses(indicator: str, expected: ComponentStatus | None) -> None:
    assert feed_status({"status": {"indicator": indicator}}) is expected


def test_feed_status_rejects_what_is_not_a_summary() -> None:
    assert feed_status([]) is None
    assert feed_status({"status": "fine"}) is None


def test_incident_text_names_the_process_the_failing_provider_and_the_fallback() -> None:
    situation = Situation(
        affected=(("process:support", Text("Support client", "Customer support"), DEGRADED),),
        failing=(("openai/gpt-4o-mini", MAJOR),),
        moved=(("openai/gpt-4o-mini", "mistral/mistral-small"),),
        stopped=(),
        feeds=(("openai", PARTIAL),),
    )
    name, body = incident_name(situation), situation_body(situation)
    assert name == Text("Support client : service dégradé", "Customer support: degraded service")
    assert "openai (gpt-4o-mini)" in body.en and "major outage" in body.en
    assert "Relève moved traffic to mistral (mistral-small)" in body.en
    assert "Relève a basculé le trafic vers mistral (mistral-small)" in body.fr
    assert "openai's own status page reports: partial outage" in body.en


def test_incident_text_says_plainly_when_nothing_can_answer() -> None:
    situation = Situation(
        affected=(("process:support", Text("Support", "Support"), MAJOR),),
        failing=(("a/x", MAJOR), ("b/y", MAJOR)), moved=(), stopped=("assistant",))
    assert incident_name(situation).en == "Support: service unavailable"
    assert "No provider can answer for assistant" in situation_body(situation).en
    assert "Aucun fournisseur ne peut répondre pour assistant" in situation_body(situation).fr


@pytest.mark.parametrize(("seconds", "fr", "en"), [
    (3.2, "environ 3 s", "about 3 s"), (600, "environ 10 min", "about 10 min"),
    (3 * 3600, "environ 3,0 h", "about 3.0 h"), (None, "résolu.", "resolved."),
])
def test_resolution_says_how_long_it_lasted(seconds: float | None, fr: str, en: str) -> None:
    from releve.monitor import resolved_body

    text = resolved_body(seconds)
    assert fr in text.fr and en in text.en
