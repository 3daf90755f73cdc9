"""`releve incident`: open, update, resolve, schedule and list, on the store the gateway uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.store import IncidentStatus, Store
from support.webhooks import SECRET, webhook_receiver


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def config(tmp_path: Path, hooks: str | None = None) -> Path:
    path = tmp_path / "releve.yaml"
    webhooks = f'webhooks: [{{url: "{hooks}", secret: "{SECRET}"}}]' if hooks else ""
    path.write_text(f"""
auth: none
storage: {{url: "sqlite:///{tmp_path / 'releve.db'}"}}
providers:
  a: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes:
  chat: {{targets: [{{provider: a, model: m}}]}}
processes:
  support: {{name: {{fr: Support client, en: Customer support}}, routes: [chat]}}
{webhooks}
""")
    return path


def invoke(runner: CliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["incident", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def test_open_update_resolve_and_notify(runner: CliRunner, tmp_path: Path) -> None:
    with webhook_receiver() as hooks:
        path = str(config(tmp_path, hooks.url))
        opened = invoke(runner, "open", "--name-fr", "Lenteurs", "--name-en", "Slowness", "--message",
                        "Investigating / en cours", "--component", "support", "--impact", "minor", "-c", path)
        incident_id = str(opened["id"])
        assert opened["components"] == ["process:support"] and opened["impact"] == "minor"
        assert len(hooks.events("incident.open")) == 1  # delivered before the command returned
        invoke(runner, "update", incident_id, "--status", "monitoring", "--message", "Fixed, watching", "-c", path)
        resolved = invoke(runner, "resolve", incident_id, "-c", path)
        assert resolved["status"] == "resolved"
        assert len(hooks.events("incident.resolve")) == 1 and len(hooks.events("incident.update")) == 1
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    store.open()
    try:
        incident = store.incident(incident_id)
        assert incident is not None and incident.status is IncidentStatus.RESOLVED
        assert incident.name.fr == "Lenteurs" and incident.updates[1].body.en == "Fixed, watching"
    finally:
        store.close()
    listing = runner.invoke(app, ["incident", "list", "--all", "-c", path], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and incident_id in listing.output and "resolved" in listing.output


def test_schedule_maintenance(runner: CliRunner, tmp_path: Path) -> None:
    path = str(config(tmp_path))
    window = invoke(runner, "schedule", "--name", "Migration", "--message", "Planned", "--component", "chat",
                    "--starts", "2030-01-01T22:00:00Z", "--ends", "2030-01-01T23:00:00Z", "-c", path)
    assert window["status"] == "scheduled" and window["scheduled_for"] == "2030-01-01T22:00:00Z"
    assert window["components"] == ["route:chat"]


@pytest.mark.parametrize(("args", "message"), [
    (["open", "--name", "x", "--message", "y", "--component", "nope"], "unknown component 'nope'"),
    (["open", "--name", "x", "--message", "y", "--component", "support", "--impact", "huge"], "--impact 'huge'"),
    (["open", "--name-fr", "x", "--message", "y", "--component", "support"], "give both --name-fr and --name-en"),
    (["update", "nope", "--message", "y"], "no incident 'nope'"),
    (["schedule", "--name", "x", "--message", "y", "--component", "support", "--starts", "2030-01-02T00:00:00Z",
      "--ends", "2030-01-01T00:00:00Z"], "--ends must be after --starts"),
])
def test_mistakes_exit_2_with_a_clear_message(runner: CliRunner, tmp_path: Path, args: list[str],
                                              message: str) -> None:
    result = runner.invoke(app, ["incident", *args, "-c", str(config(tmp_path))])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
