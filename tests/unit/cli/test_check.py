"""`releve check`: a summary of the plan, its weak points, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app

GOOD = """
auth: none
providers:
  a: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
  b: {kind: openai-compatible, base_url: "http://127.0.0.1:2/v1"}
routes:
  chat: {targets: [{provider: a, model: m}, {provider: b, model: m}]}
"""


@pytest.fixture
def runner() -> CliRunner:
    """Typer's runner, invoking the CLI in-process."""
    return CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "releve.yaml"
    path.write_text(text)
    return path


def test_valid_config_prints_routes_and_warnings(runner: CliRunner, tmp_path: Path) -> None:
    """A valid file lists its routes and targets, warns about auth off, and exits 0."""
    result = runner.invoke(app, ["check", "--config", str(write(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "chat" in result.output and "a/m, b/m" in result.output
    assert "authentication is off" in result.output
    assert "valid" in result.output


def test_strict_fails_on_warnings(runner: CliRunner, tmp_path: Path) -> None:
    """--strict turns warnings into a non-zero exit."""
    result = runner.invoke(app, ["check", "--strict", "--config", str(write(tmp_path, GOOD))])
    assert result.exit_code == 1


def test_single_target_route_is_a_single_point_of_failure(runner: CliRunner, tmp_path: Path) -> None:
    """A route with one target is called out."""
    text = GOOD + "  solo: {targets: [{provider: a, model: m}]}\n"
    result = runner.invoke(app, ["check", "--config", str(write(tmp_path, text))])
    assert "single point of failure" in result.output


def test_invalid_config_names_the_key_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """An invalid file exits 2 with the key path of the problem."""
    result = runner.invoke(app, ["check", "--config", str(write(tmp_path, GOOD.replace("model: m}]", "modl: m}]")))])
    assert result.exit_code == 2
    assert "routes.chat.targets.1.modl" in result.output.replace("\n", "")


def test_missing_file_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    """A missing config file says so and how to give one."""
    result = runner.invoke(app, ["check", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_example_config_is_valid(runner: CliRunner) -> None:
    """The example shipped in the repository stays valid."""
    example = Path(__file__).parents[3] / "examples" / "releve.yaml"
    result = runner.invoke(app, ["check", "--config", str(example)])
    assert result.exit_code == 0, result.output


def test_simulate_rejects_a_bad_fault(runner: CliRunner) -> None:
    """A start-up fault that does not parse is refused before anything listens."""
    result = runner.invoke(app, ["simulate", "--fault", '{"kind": "explode"}'])
    assert result.exit_code == 2
    assert "kind" in result.output
