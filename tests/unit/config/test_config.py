"""Loading releve.yaml: units, interpolation, and errors that name the key path."""

from __future__ import annotations

import pytest

from releve.config import Severity, findings, parse_config, parse_duration, parse_size
from releve.errors import ConfigError

BASE = """
auth: none
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}"}
  local: {kind: openai-compatible, base_url: "${LOCAL_URL:-http://127.0.0.1:11434/v1}"}
routes:
  support:
    targets: [{provider: openai, model: gpt-4o-mini}, {provider: local, model: llama3.2}]
    timeout: 30s
    attempt_timeout: 750ms
"""


@pytest.mark.parametrize(("text", "seconds"), [("750ms", 0.75), ("10s", 10), ("2m", 120), ("1h", 3600),
                                               ("7d", 604800), (3, 3.0), ("1.5s", 1.5)])
def test_parses_durations(text: object, seconds: float) -> None:
    """Durations read as humans write them."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten seconds", "-1s", "5 parsecs", True])
def test_rejects_bad_durations(text: object) -> None:
    """A duration that cannot be read is an error that shows the expected form."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parses_sizes() -> None:
    """Sizes accept decimal and binary units."""
    assert parse_size("4MB") == 4_000_000
    assert parse_size("1KiB") == 1024


def test_interpolates_environment_variables_with_defaults() -> None:
    """${VAR} takes the environment's value and ${VAR:-x} falls back to x."""
    config = parse_config(BASE, {"OPENAI_API_KEY": "sk-test"})
    assert config.providers["openai"].api_key == "sk-test"
    assert config.providers["local"].base_url == "http://127.0.0.1:11434/v1"
    assert config.routes["support"].attempt_timeout == 0.75


def test_missing_environment_variable_names_the_key_path() -> None:
    """A variable with no value and no default is reported where it is used."""
    with pytest.raises(ConfigError, match=r"providers\.openai\.api_key: environment variable OPENAI_API_KEY"):
        parse_config(BASE, {})


def test_unknown_key_names_the_key_path() -> None:
    """A misspelt key is an error naming its path, not silently ignored."""
    with pytest.raises(ConfigError, match=r"routes\.support\.timeuot: unknown key"):
        parse_config(BASE.replace("timeout: 30s", "timeuot: 30s"), {"OPENAI_API_KEY": "k"})


def test_route_naming_an_unknown_provider_lists_the_known_ones() -> None:
    """A target pointing at no provider says which providers exist."""
    with pytest.raises(ConfigError, match=r"routes\.support\.targets\.1\.provider: no provider named 'mistral' "
                                          r"\(providers: local, openai\)"):
        parse_config(BASE.replace("{provider: local", "{provider: mistral"), {"OPENAI_API_KEY": "k"})


def test_keys_are_required_unless_auth_is_off() -> None:
    """With auth on (the default) a config must name its clients."""
    with pytest.raises(ConfigError, match="clients: no client keys configured"):
        parse_config(BASE.replace("auth: none", ""), {"OPENAI_API_KEY": "k"})


def test_attempt_timeout_longer_than_the_deadline_is_refused() -> None:
    """An attempt that could outlive the whole request is a configuration error."""
    with pytest.raises(ConfigError, match="attempt_timeout"):
        parse_config(BASE.replace("750ms", "60s"), {"OPENAI_API_KEY": "k"})


def test_findings_flag_single_points_of_failure() -> None:
    """A one-target route and disabled auth are warned about."""
    config = parse_config(BASE + """
  solo:
    targets: [{provider: local, model: llama3.2}]
""", {"OPENAI_API_KEY": "k"})
    warnings = {(f.where, f.severity) for f in findings(config)}
    assert ("routes.solo", Severity.WARNING) in warnings
    assert ("auth", Severity.WARNING) in warnings
    assert ("routes.support", Severity.WARNING) not in warnings
