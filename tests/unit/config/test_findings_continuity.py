"""Continuity findings: shared failures, RTOs the timeouts cannot meet, personal data sent where it may not go."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, Finding, Severity, findings, parse_config

PROVIDERS = """
auth: none
providers:
  a: {kind: openai-compatible, base_url: "https://a.example.com/v1", region: eu, personal_data: true}
  b: {kind: openai-compatible, base_url: "https://b.example.com/v1", region: us, personal_data: false}
  c: {kind: openai-compatible, base_url: "https://c.example.com/v1", region: eu, personal_data: pseudonymized}
  d: {kind: openai-compatible, base_url: "https://d.example.com/v1", region: eu, personal_data: true}
"""


def config(text: str) -> Config:
    return parse_config(PROVIDERS + text, {})


def about(config: Config, where: str) -> list[Finding]:
    return [finding for finding in findings(config) if finding.where == where]


# --- one region, one vendor behind two names ------------------------------------------------------

def test_every_target_in_one_region_is_a_warning() -> None:
    found = about(config("routes: {r: {targets: [{provider: a, model: m}, {provider: d, model: m}]}}"), "routes.r")
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "every target is in region 'eu': an outage of that region stops the route")]


def test_targets_in_two_regions_or_with_a_region_missing_are_not_flagged() -> None:
    assert about(config("routes: {r: {targets: [{provider: a, model: m}, {provider: b, model: m}]}}"), "routes.r") == []
    text = PROVIDERS.replace(", region: eu, personal_data: true}\n  b", ", personal_data: true}\n  b")
    unknown = parse_config(text + "routes: {r: {targets: [{provider: a, model: m}, {provider: d, model: m}]}}", {})
    assert about(unknown, "routes.r") == []


def test_two_providers_on_one_host_are_one_vendor() -> None:
    """openai's base_url is filled with the public default, so it is compared too."""
    text = """
auth: none
providers:
  openai: {kind: openai, api_key: k}
  openai-eu: {kind: openai-compatible, base_url: "https://API.openai.com/v1/"}
  other: {kind: anthropic}
routes: {r: {targets: [{provider: openai, model: m}, {provider: openai-eu, model: m}, {provider: other, model: m}]}}
"""
    found = about(parse_config(text, {}), "routes.r")
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "providers 'openai' and 'openai-eu' both point at host api.openai.com: one vendor behind "
                           "two names, an outage there stops both")]


def test_different_hosts_are_not_one_vendor() -> None:
    text = """
auth: none
providers:
  openai: {kind: openai, api_key: k}
  claude: {kind: anthropic}
  gemini: {kind: gemini}
routes: {r: {targets: [{provider: openai, model: m}, {provider: claude, model: m}, {provider: gemini, model: m}]}}
"""
    assert about(parse_config(text, {}), "routes.r") == []


def test_servers_on_one_machine_are_one_vendor_only_on_the_same_port() -> None:
    """Two local model servers (Ollama, vLLM) on one machine are different services; one port is one server."""
    text = """
auth: none
providers:
  ollama: {kind: openai-compatible, base_url: "http://127.0.0.1:11434/v1"}
  vllm: {kind: openai-compatible, base_url: "http://127.0.0.1:8000/v1"}
  again: {kind: openai-compatible, base_url: "http://127.0.0.1:8000/other/v1"}
routes: {r: {targets: [{provider: ollama, model: m}, {provider: vllm, model: m}, {provider: again, model: m}]}}
"""
    found = about(parse_config(text, {}), "routes.r")
    assert [f.message for f in found] == [
        "providers 'vllm' and 'again' both point at host 127.0.0.1:8000: one vendor behind two names, an outage "
        "there stops both"]


# --- RTO -------------------------------------------------------------------------------------------

def test_rto_on_a_route_with_one_provider_cannot_be_guaranteed() -> None:
    found = about(config("""
routes: {solo: {targets: [{provider: a, model: m1}, {provider: a, model: m2}]}}
processes: {p: {routes: [solo], rto: 15m}}
"""), "processes.p")
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "rto 15m cannot be guaranteed: route 'solo' has no target outside provider 'a', so "
                           "recovery depends on that provider alone")]


def test_rto_with_a_second_provider_and_fast_failover_is_not_flagged() -> None:
    found = about(config("""
routes: {r: {targets: [{provider: a, model: m}, {provider: b, model: m}], attempt_timeout: 10s}}
processes: {p: {routes: [r], rto: 15m}, q: {routes: [r]}}
"""), "processes.p")
    assert found == []


def test_rto_shorter_than_the_worst_failover_wait_is_flagged() -> None:
    """Two targets that hang for their attempt timeout each before the third is tried: 2 × 4s > 5s."""
    found = about(config("""
routes:
  r:
    targets: [{provider: a, model: m}, {provider: b, model: m}, {provider: d, model: last}]
    attempt_timeout: 4s
processes: {p: {routes: [r], rto: 5s}}
"""), "processes.p")
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "rto 5s cannot be met by route 'r': when its first targets hang, a request waits up to 8s "
                           "before reaching its last target (d/last)")]


def test_the_worst_failover_wait_is_capped_by_the_route_timeout() -> None:
    """3 × 10s would be 30s, but the whole request gives up at 12s: within an rto of 15s."""
    text = """
routes:
  r:
    targets: [{provider: a, model: m}, {provider: b, model: m}, {provider: c, model: m}, {provider: d, model: m}]
    timeout: 12s
    attempt_timeout: 10s
processes: {p: {routes: [r], rto: RTO}}
"""
    assert about(config(text.replace("RTO", "15s")), "processes.p") == []
    assert "waits up to 12s" in about(config(text.replace("RTO", "11s")), "processes.p")[0].message


# --- personal data ---------------------------------------------------------------------------------

def test_personal_data_with_a_fallback_that_may_not_receive_it_is_a_warning() -> None:
    found = about(config("""
routes: {r: {targets: [{provider: a, model: m}, {provider: b, model: m}, {provider: c, model: m}]}}
processes: {p: {routes: [r], personal_data: true}}
"""), "processes.p")
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "route 'r': during an outage of 'a', requests with personal data cannot go to 'b', which "
                           "may not receive them (personal_data: false): they are refused; add a fallback that may"),
        (Severity.INFO, "route 'r': during an outage of 'a', 'b', requests with personal data go to 'c' only "
                        "pseudonymised (identifiers replaced, answers re-identified)"),
    ]


def test_personal_data_to_a_refusing_first_target_names_no_outage() -> None:
    found = about(config("""
routes: {r: {targets: [{provider: b, model: m}, {provider: a, model: m}]}}
processes: {p: {routes: [r], personal_data: true}}
"""), "processes.p")
    assert [f.message for f in found] == [
        "route 'r': requests with personal data cannot go to 'b', which may not receive them (personal_data: false): "
        "they are refused; add a fallback that may"]


def test_weighted_routes_send_to_every_target_without_an_outage() -> None:
    found = about(config("""
routes: {r: {strategy: weighted, targets: [{provider: a, model: m}, {provider: b, model: m}]}}
processes: {p: {routes: [r], personal_data: true}}
"""), "processes.p")
    assert [f.message for f in found] == [
        "route 'r': requests with personal data cannot go to 'b', which may not receive them (personal_data: false): "
        "they are refused; add a fallback that may"]


def test_no_personal_data_finding_when_every_provider_may_receive_it_or_the_process_has_none() -> None:
    allowed = config("""
routes:
  ok: {targets: [{provider: a, model: m}, {provider: d, model: m}]}
  mixed: {targets: [{provider: a, model: m}, {provider: b, model: m}]}
processes: {p: {routes: [ok], personal_data: true}, q: {routes: [mixed]}}
""")
    assert about(allowed, "processes.p") == [] and about(allowed, "processes.q") == []


# --- acceptance: `releve check` --------------------------------------------------------------------

ACCEPTANCE = PROVIDERS + """
routes:
  solo: {targets: [{provider: a, model: m}]}
  support:
    targets: [{provider: a, model: m}, {provider: d, model: m}, {provider: b, model: m}]
    attempt_timeout: 5s
processes:
  customer-support: {routes: [support], rto: 8s, personal_data: true}
  notes: {routes: [solo]}
"""


def test_releve_check_prints_the_three_continuity_findings_and_strict_fails(tmp_path: Path) -> None:
    """A single-provider route, an RTO the timeouts cannot meet, and personal data sent to a refusing fallback."""
    path = tmp_path / "releve.yaml"
    path.write_text(ACCEPTANCE)
    runner = CliRunner()
    result = runner.invoke(app, ["check", "--config", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning routes.solo: a single target: a single point of failure" in output
    assert ("warning processes.customer-support: rto 8s cannot be met by route 'support': when its first targets "
            "hang, a request waits up to 10s before reaching its last target (b/m)") in output
    assert ("warning processes.customer-support: route 'support': during an outage of 'a', 'd', requests with "
            "personal data cannot go to 'b', which may not receive them (personal_data: false): they are refused; "
            "add a fallback that may") in output
    strict = runner.invoke(app, ["check", "--strict", "--config", str(path)])
    assert strict.exit_code == 1
