"""The outage half of releve.yaml: storage, monitor, processes, status page, notifications, admins."""

from __future__ import annotations

import pytest

from releve.config import BilingualText, Severity, findings, parse_config
from releve.errors import ConfigError

BASE = """
auth: none
providers:
  openai: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:2/v1"}
routes:
  support: {targets: [{provider: openai, model: m}, {provider: local, model: m}]}
"""


def test_defaults_are_production_ready() -> None:
    config = parse_config(BASE, {})
    assert config.storage.url == "sqlite:///releve.db"
    assert config.monitor.down_after == 3 and config.monitor.resolve_after == 300.0
    assert config.monitor.probes.request.value == "models"
    assert config.status_page.languages == ["fr", "en"]
    assert config.notify == [] and config.webhooks == []


def test_a_process_with_one_string_name_is_said_the_same_in_both_languages() -> None:
    config = parse_config(BASE + """
processes:
  customer-support: {name: "Support", description: {fr: "Réponses", en: "Answers"}, routes: [support],
                     rto: 15m, criticality: high}
status_page: {title: "Acme status"}
""", {})
    process = config.processes["customer-support"]
    assert process.name == BilingualText(fr="Support", en="Support")
    assert process.description == BilingualText(fr="Réponses", en="Answers")
    assert process.rto == 900.0
    assert config.status_page.title.en == "Acme status"


@pytest.mark.parametrize(("extra", "message"), [
    ("processes: {p: {routes: [nope]}}", r"processes\.p\.routes\.0: no route named 'nope' \(routes: support\)"),
    ("storage: {url: 'mysql://x'}", "must start with sqlite:// or postgresql://"),
    ("monitor: {partial_rate: 0.8, major_rate: 0.5}", "must not exceed major_rate"),
    ("status_page: {languages: [de]}", r"languages \['de'\] are not available"),
    ("webhooks: [{url: 'ftp://x', secret: '0123456789abcdef'}]", "must start with http"),
    ("webhooks: [{url: 'http://x', secret: 'short'}]", "at least 16 characters"),
    ("monitor: {probes: {request: ping}}", "models"),
])
def test_mistakes_name_the_key(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE + extra + "\n", {})


def test_a_provider_status_feed_must_be_a_url() -> None:
    with pytest.raises(ConfigError, match="status_feed"):
        parse_config(BASE.replace('v1"}\n  local', 'v1", status_feed: "status.example.com"}\n  local', 1), {})


def test_findings_say_when_nobody_would_be_told() -> None:
    where = {(f.where, f.severity) for f in findings(parse_config(BASE + "storage: {url: 'sqlite://'}\n", {}))}
    assert ("notify", Severity.WARNING) in where
    assert ("processes", Severity.INFO) in where
    assert ("storage.url", Severity.WARNING) in where
    told = parse_config(BASE + "notify: ['json://127.0.0.1/x']\nprocesses: {p: {routes: [support]}}\n", {})
    where = {f.where for f in findings(told)}
    assert "notify" not in where and "processes" not in where and "storage.url" not in where
