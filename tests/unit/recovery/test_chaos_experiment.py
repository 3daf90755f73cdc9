"""Chaos experiments as YAML, the built-ins, the hypothesis check, and reports of drills that went wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from releve.gateway import FaultKind
from releve.recovery import (
    BUILTIN_EXPERIMENTS,
    DrillSample,
    ExperimentError,
    builtin_experiment,
    check_phase,
    load_experiment,
    new_drill_id,
    parse_experiment,
    render_drill_report,
    write_drill,
)

EXAMPLE = """
title: The support assistant survives an OpenAI outage
description: OpenAI answers 503 to drill traffic; Claude must take over.
steady_state_hypothesis:
  title: support-assistant answers 99 % of requests in under 3 s
  route: support-assistant
  min_success_ratio: 0.99
  max_p95_latency: 3s
  requests: 12
method:
  duration: 45s
  faults:
    - {target: openai/gpt-4o-mini, kind: error, status: 503, drill_only: true}
    - {provider: mistral, kind: latency, ms: 800, probability: 0.5, ttl: 2m}
probes: {rate: 4, stream: true, timeout: 20s}
rollbacks: [delete_faults]
"""


def test_an_experiment_file_reads_into_values(tmp_path: Path) -> None:
    """Every section of the YAML lands in frozen values; a fault without ttl gets duration + 10 s."""
    path = tmp_path / "outage.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    experiment = load_experiment(path)
    assert experiment.title == "The support assistant survives an OpenAI outage"
    hypothesis = experiment.hypothesis
    assert (hypothesis.route, hypothesis.min_success_ratio, hypothesis.max_p95_latency, hypothesis.requests) == (
        "support-assistant", 0.99, 3.0, 12)
    assert hypothesis.describe() == "support-assistant answers 99 % of requests in under 3 s"
    first, second = experiment.method.faults
    assert (first.kind, first.target, first.status, first.drill_only, first.ttl) == (
        FaultKind.ERROR, "openai/gpt-4o-mini", 503, True, 55.0)
    assert (second.kind, second.provider, second.ms, second.probability, second.ttl) == (
        FaultKind.LATENCY, "mistral", 800, 0.5, 120.0)
    assert (experiment.method.duration, experiment.probes.rate, experiment.probes.stream,
            experiment.probes.timeout) == (45.0, 4.0, True, 20.0)
    tagged = experiment.with_drill("drill-1")
    assert [f.drill for f in tagged.method.faults] == ["drill-1", "drill-1"]
    assert parse_experiment({**tagged.to_json(), "description": "again"}).method == tagged.method


@pytest.mark.parametrize(("change", "words"), [
    ({"title": ""}, "title: required"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"steady_state_hypothesis": {"min_success_ratio": 0.9}}, "steady_state_hypothesis.route: required"),
    ({"steady_state_hypothesis": {"route": "r", "min_success_ratio": 2}}, "min_success_ratio: must be a number"),
    ({"steady_state_hypothesis": {"route": "r", "max_p95_latency": "fast"}}, "max_p95_latency"),
    ({"steady_state_hypothesis": "r"}, "steady_state_hypothesis: must be a mapping"),
    ({"method": {"duration": "30s", "faults": []}}, "method.faults: required"),
    ({"method": {"duration": "2h", "faults": [{"provider": "p", "kind": "hang"}]}}, "method.duration"),
    ({"method": {"faults": [{"provider": "p", "kind": "boom"}]}}, "method.faults[0]: 'kind' must be one of"),
    ({"method": {"faults": ["p"]}}, "method.faults[0]: must be a mapping"),
    ({"probes": {"rate": 0}}, "probes.rate"),
    ({"probes": {"stream": "yes"}}, "probes.stream"),
    ({"rollbacks": ["reboot"]}, "rollbacks: a list of delete_faults"),
])
def test_a_wrong_experiment_names_the_key(change: dict[str, Any], words: str) -> None:
    """Errors say which key is wrong, with its path."""
    data: dict[str, Any] = {"title": "t", "steady_state_hypothesis": {"route": "r"},
                            "method": {"faults": [{"provider": "p", "kind": "hang"}]}}
    with pytest.raises(ExperimentError) as caught:
        parse_experiment({**data, **change})
    assert words in str(caught.value)


def test_unreadable_experiment_files(tmp_path: Path) -> None:
    """A missing file or broken YAML is an ExperimentError, not a traceback."""
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(ExperimentError, match="not valid YAML"):
        load_experiment(tmp_path / "bad.yaml")
    with pytest.raises(ExperimentError, match="a mapping"):
        parse_experiment(["title"])


@pytest.mark.parametrize("name", list(BUILTIN_EXPERIMENTS))
def test_each_builtin_is_a_valid_experiment(name: str) -> None:
    """The built-ins scope their fault to a target, a provider or a region, drill traffic only by default."""
    target = "eu" if name == "region-outage" else "openai/gpt-4o"
    experiment = builtin_experiment(name, target=target, route="chat", duration=20, rate=3, ttl=45)
    (fault,) = experiment.method.faults
    assert experiment.builtin == name and fault.drill_only and fault.ttl == 45
    assert (fault.region, fault.target) == (("eu", None) if name == "region-outage" else (None, "openai/gpt-4o"))
    assert experiment.probes.stream is (name == "stream-cuts")
    assert "chat" in experiment.description and experiment.method.duration == 20


def test_builtin_options() -> None:
    """A provider name scopes to the provider; --all-traffic and --ms reach the fault; unknown names are refused."""
    slow = builtin_experiment("slow-provider", target="mistral", route="chat", ms=1500, drill_only=False)
    (fault,) = slow.method.faults
    assert (fault.provider, fault.ms, fault.drill_only, fault.ttl) == ("mistral", 1500, False, 40.0)
    with pytest.raises(ExperimentError, match="no built-in experiment 'meteor'"):
        builtin_experiment("meteor", target="x", route="chat")


def sample(phase: str, at: float, latency: float, target: str | None = "a/m", status: int = 200,
           **extra: Any) -> DrillSample:
    return DrillSample(phase, at, at + latency, status, target, **extra)


def test_the_hypothesis_check_counts_successes_and_p95() -> None:
    """Degraded answers and broken streams are not successes; p95 is taken over every request."""
    samples = [sample("during", i * 0.1, 0.05) for i in range(18)]
    samples += [sample("during", 2.0, 0.05, degraded="static"), sample("during", 2.1, 4.0, status=504, target=None)]
    check = check_phase("during", samples, 0.9, 3.0)
    assert (check["requests"], check["successes"], check["success_ratio"], check["p95_latency"]) == (20, 18, 0.9, 4.0)
    assert check["held"] is False and check["reasons"] == ["p95 latency 4.00s is over 3s"]
    assert check["failures"] == {"degraded (static)": 1, "HTTP 504": 1}
    assert check_phase("after", [], 0.99, 3.0)["reasons"] == ["no request was sent"]
    broken = check_phase("during", [sample("during", 0, 0.1, error="stream broken")], 0.5, 3.0)
    assert broken["reasons"] == ["0 of 1 requests succeeded (0.0%, under 50.0%)"]


def test_a_drill_that_could_not_run_still_has_a_report(tmp_path: Path) -> None:
    """An aborted journal (gateway unreachable) renders: the verdict, the reason, no figures invented."""
    experiment = builtin_experiment("provider-outage", target="openai/gpt-4o", route="chat")
    drill = new_drill_id()
    journal = {"drill": drill, "gateway": "http://127.0.0.1:9", "started_at": "2026-03-01T10:00:00Z",
               "experiment": experiment.to_json(), "faults": [], "rollbacks": [], "notes": [], "status": "aborted",
               "reason": "cannot reach the gateway at http://127.0.0.1:9", "samples": [], "exit_code": 2}
    paths = write_drill(journal, tmp_path / "drills")
    html = paths["html"].read_text(encoding="utf-8")
    assert "The drill could not run" in html and "cannot reach the gateway" in html
    assert "No fault was injected." in html and "Not checked: the drill stopped before." in html
    assert "<script" not in html and paths["json"].name == f"{drill}.json"


def test_a_deviated_report_shows_what_broke() -> None:
    """Failures, an unrolled fault, and the cost note all appear in words."""
    experiment = builtin_experiment("provider-outage", target="openai/gpt-4o", route="chat")
    check = {"phase": "during", "requests": 2, "successes": 0, "success_ratio": 0.0, "p95_latency": 0.2,
             "held": False, "reasons": ["0 of 2 requests succeeded"], "by_target": {}, "failures": {"HTTP 503": 2}}
    journal = {
        "drill": "drill-x", "gateway": "http://gw", "started_at": "2026-03-01T10:00:00Z", "status": "deviated",
        "reason": "the hypothesis did not hold during the faults", "experiment": experiment.to_json(),
        "hypothesis": {"title": "chat answers", "during": check, "held": False}, "primary": "openai/gpt-4o",
        "faults": [{"id": "flt_1", "region": "eu", "kind": "rate_limit", "retry_after": 5, "probability": 0.5,
                    "drill_only": False, "ttl": 40, "expires_at": "2026-03-01T10:00:40Z"}],
        "rollbacks": [], "requests": {"primary": 0, "fallback": 0, "degraded": 0, "failed": 2, "total": 2},
        "fault_started": 0.1, "fault_ended": 0.4,
        "samples": [["during", 0.1, 0.3, 503, None, None, None], ["during", 0.2, 0.3, 200, "b/m", "cache", None]],
        "detection": {"incident": None, "detection_seconds": None, "note": "no incident was opened"},
        "cost": {"computed": False, "note": "not computed: the drill ran without releve.yaml (--config)"},
        "notifications": {"visible": False, "items": [], "note": "no incident, no notification"},
        "notes": ["a note for the reader"]}
    html = render_drill_report(journal)
    for words in ("The hypothesis did not hold", "HTTP 503 × 2", "region eu", "rate_limit (Retry-After 5 s)",
                  "all requests, 50%", "not rolled back: ends at its TTL, 2026-03-01 10:00:40 UTC",
                  "no incident was opened", "not computed: the drill ran without releve.yaml", "a note for the reader"):
        assert words in html, words
