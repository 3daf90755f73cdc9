"""`releve drill run`: what it needs, what it reads from releve.yaml, and a clear stop when the gateway is away."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connections are refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def config(tmp_path: Path, port: int, workers: int = 1, shared: str = "") -> Path:
    path = tmp_path / "releve.yaml"
    path.write_text(f"""
server: {{listen: "0.0.0.0:{port}", workers: {workers}}}
shared_state: {{url: "{shared}"}}
clients: {{app: {{key: client-key-0123456789}}}}
admins: {{hashed: {{key_sha256: "{'a' * 64}"}}, ops: {{key: admin-key-0123456789}}}}
providers:
  openai: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", region: us}}
  mistral: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", region: eu}}
routes:
  chat: {{targets: [{{provider: openai, model: gpt}}, {{provider: mistral, model: small}}]}}
  search: {{targets: [{{provider: mistral, model: small}}]}}
""", encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["drill", "run", *args])
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines


@pytest.mark.parametrize(("args", "words"), [
    ((), "give an experiment file or --builtin NAME"),
    (("x.yaml", "--builtin", "provider-outage"), "give an experiment file or --builtin NAME"),
    (("--builtin", "provider-outage"), "--builtin needs --target"),
    (("--builtin", "provider-outage", "--target", "anthropic"), "no route found for 'anthropic'"),
    (("--builtin", "meteor", "--target", "openai"), "no built-in experiment 'meteor'"),
    (("--builtin", "provider-outage", "--target", "openai", "--duration", "soon"), "is not a duration"),
    (("missing.yaml",), "cannot read missing.yaml"),
])
def test_refuses_what_it_cannot_run(tmp_path: Path, closed_port: int, args: tuple[str, ...], words: str) -> None:
    """Each mistake is one line that says what to give, and exit status 2."""
    code, output = run(*args, "--config", str(config(tmp_path, closed_port)))
    assert code == 2 and words in output, output


def test_refuses_a_multi_worker_gateway(tmp_path: Path, closed_port: int) -> None:
    """Faults live in each worker: a drill through one of several would reach a share of the traffic only."""
    code, output = run("--builtin", "provider-outage", "--target", "openai", "--config",
                       str(config(tmp_path, closed_port, workers=4)))
    assert code == 2 and "server.workers: 1" in output


def test_a_multi_worker_gateway_with_shared_state_may_drill(tmp_path: Path, closed_port: int) -> None:
    """With Redis, every worker adopts a fault set through one: the run goes on (here, to a gateway not there)."""
    code, output = run("--builtin", "provider-outage", "--target", "openai", "--out", str(tmp_path / "drills"),
                       "--config", str(config(tmp_path, closed_port, workers=4, shared="redis://127.0.0.1:6379/0")))
    assert "server.workers: 1" not in output
    assert code != 0 and str(closed_port) in output, output


def test_without_releve_yaml_it_needs_the_gateways_address(tmp_path: Path) -> None:
    """No config file and no --url: it says to give one."""
    code, output = run("--builtin", "provider-outage", "--target", "openai/gpt", "--route", "chat",
                       "--config", str(tmp_path / "absent.yaml"))
    assert code == 2 and "give --url" in output


@pytest.mark.parametrize(("target", "route"), [("openai/gpt", "chat"), ("mistral", "chat"), ("eu", "chat")])
def test_reads_the_gateway_keys_and_route_from_releve_yaml(tmp_path: Path, closed_port: int, target: str,
                                                          route: str) -> None:
    """server.listen, the first usable admin key and the first route using the target; an absent gateway aborts."""
    builtin = "region-outage" if target == "eu" else "provider-outage"
    out = tmp_path / "out"
    code, output = run("--builtin", builtin, "--target", target, "--out", str(out), "--config",
                       str(config(tmp_path, closed_port)))
    assert code == 2, output
    (journal_path,) = out.glob("drill-*.json")
    journal = json.loads(journal_path.read_text(encoding="utf-8"))
    assert journal["status"] == "aborted" and journal["gateway"] == f"http://127.0.0.1:{closed_port}"
    assert f"cannot reach the gateway at http://127.0.0.1:{closed_port}" in journal["reason"]
    assert journal["experiment"]["steady_state_hypothesis"]["route"] == route
    assert journal["faults"] == [] and journal["samples"] == []
    assert "aborted" in output and "Journal" in output
