"""Game days end to end: `releve drill run` against a real gateway in front of simulators.

The gateway runs in this process (`GatewayThread`); the drill talks to it over HTTP only, as it would to
production: admin API for the faults, the OpenAI API for its synthetic traffic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from releve.app import build_app
from releve.cli import app as cli
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.webhooks import SECRET, Receiver, webhook_receiver

ADMIN = "admin-key-for-drills"
CLIENT = "client-key-for-drills"
PRIMARY, FALLBACK = "primary/p-model", "fallback/f-model"


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    """Two providers for the module: the primary the drills break (from inside the gateway), and the fallback."""
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield primary, fallback


def drill_config(primary: SimulatorThread, fallback: SimulatorThread, store: Path, hooks: str) -> dict[str, Any]:
    """Route `assistant` fails over primary → fallback, `solo` has no fallback; detection is fast, incidents are
    notified by webhook, and the store is a file the CLI can read the outbox from."""
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"drills": {"key": CLIENT}},
        "admins": {"ops": {"key": ADMIN}},
        "storage": {"url": f"sqlite:///{store}"},
        "webhooks": [{"url": hooks, "secret": SECRET}],
        "breaker": {"consecutive_failures": 3, "open_for": "1s"},
        "monitor": {"evaluate_every": "200ms", "window": "10s", "down_after": 2, "up_after": 3, "flush_every": "1s",
                    "probes": {"request": "none"}},
        "processes": {"support": {"routes": ["assistant"], "users": 10, "hourly_cost": 30, "revenue_per_hour": 600}},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": primary.base_url, "region": "us"},
                      "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url, "region": "eu"}},
        "routes": {
            "assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                      {"provider": "fallback", "model": "f-model"}],
                          "attempt_timeout": "500ms", "timeout": "5s", "retries": 0},
            "solo": {"targets": [{"provider": "primary", "model": "p-model"}], "attempt_timeout": "500ms",
                     "retries": 0},
        },
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as hooks:
        yield hooks


@pytest.fixture
def gateway(sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path,
            receiver: Receiver) -> Iterator[tuple[GatewayThread, Path]]:
    """A gateway with admin and client keys, and the same config on disk for the CLI (cost, processes, outbox)."""
    raw = drill_config(*sims, tmp_path / "releve.db", receiver.url)
    path = tmp_path / "releve.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with GatewayThread(build_app(config_from_mapping(raw))) as running:
        yield running, path


def drill_args(gateway: GatewayThread, config: Path, out: Path, *extra: str) -> list[str]:
    return ["drill", "run", "--url", gateway.url, "--admin-key", ADMIN, "--client-key", CLIENT, "--out", str(out),
            "--config", str(config), *extra]


def journal_in(out: Path) -> dict[str, Any]:
    (found,) = out.glob("drill-*.json")
    assert found.with_suffix(".html").exists()
    data: dict[str, Any] = json.loads(found.read_text(encoding="utf-8"))
    return data


def get(gateway: GatewayThread, path: str, *, key: str = ADMIN, body: Any = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(gateway.url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"authorization": f"Bearer {key}", "content-type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def served_by(gateway: GatewayThread, headers: dict[str, str] | None = None) -> str | None:
    status, answer_headers, _ = get(gateway, "/v1/chat/completions", key=CLIENT, headers=headers, body={
        "model": "assistant", "messages": [{"role": "user", "content": "who answers?"}]})
    return answer_headers.get("x-releve-target") if status == 200 else None


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what} within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_provider_outage_on_a_two_target_route_holds_and_fails_over_fast(
        gateway: tuple[GatewayThread, Path], tmp_path: Path) -> None:
    """The built-in drill passes its hypothesis; the journal has a failover time under 2 s, detection, cost."""
    running, config = gateway
    result = CliRunner().invoke(cli, drill_args(running, config, tmp_path / "out", "--builtin", "provider-outage",
                                                "--target", PRIMARY, "--route", "assistant", "--duration", "3s",
                                                "--rate", "10"))
    assert result.exit_code == 0, result.output
    journal = journal_in(tmp_path / "out")
    print(f"measured failover time: {journal['failover_seconds']} s; detection: "
          f"{journal['detection']['detection_seconds']} s")
    assert journal["status"] == "completed" and journal["exit_code"] == 0
    assert journal["primary"] == PRIMARY
    assert [journal["hypothesis"][phase]["held"] for phase in ("before", "during", "after")] == [True] * 3
    assert journal["failover_seconds"] is not None and 0 <= journal["failover_seconds"] < 2.0
    assert journal["fallbacks"] == {FALLBACK: journal["requests"]["fallback"]}
    assert journal["requests"]["failed"] == 0 and journal["requests"]["fallback"] >= 25
    (fault,) = journal["faults"]
    assert (fault["target"], fault["kind"], fault["status"], fault["drill_only"]) == (PRIMARY, "error", 503, True)
    assert journal["rollbacks"][0]["outcome"] == "deleted" and journal["rollbacks"][0]["hits"] >= 1
    assert get(running, "/admin/faults")[2]["faults"] == []
    incident = journal["detection"]["incident"]
    assert incident is not None and incident["automatic"] is True
    assert 0 <= journal["detection"]["detection_seconds"] < 3.0
    assert journal["cost"]["computed"] is True and journal["cost"]["avoided_per_hour"] > 0
    notifications = journal["notifications"]
    assert notifications["visible"] is True and notifications["items"], notifications
    assert {item["channel"].split(":")[0] for item in notifications["items"]} == {"webhook"}
    assert "Journal" in result.output and "Report" in result.output


def test_provider_outage_on_a_single_target_route_fails_with_a_non_zero_exit(
        gateway: tuple[GatewayThread, Path], tmp_path: Path) -> None:
    """No fallback: the hypothesis breaks during the faults, the drill says so and exits 1; faults are gone."""
    running, config = gateway
    result = CliRunner().invoke(cli, drill_args(running, config, tmp_path / "out", "--builtin", "provider-outage",
                                                "--target", "primary", "--route", "solo", "--duration", "1s",
                                                "--rate", "10"))
    assert result.exit_code == 1, result.output
    journal = journal_in(tmp_path / "out")
    assert journal["status"] == "deviated" and journal["exit_code"] == 1
    assert journal["hypothesis"]["before"]["held"] and not journal["hypothesis"]["during"]["held"]
    assert "during the faults" in journal["reason"]
    assert journal["failover_seconds"] is None and journal["requests"]["failed"] == journal["requests"]["total"]
    assert journal["rollbacks"][0]["outcome"] == "deleted"
    assert get(running, "/admin/faults")[2]["faults"] == []


def test_real_traffic_is_untouched_by_drill_only_faults(gateway: tuple[GatewayThread, Path]) -> None:
    """A drill-only fault hits requests marked with its drill id, never the others."""
    running, _ = gateway
    status, _, fault = get(running, "/admin/faults", body={"target": PRIMARY, "kind": "error", "ttl": 30,
                                                           "drill_only": True, "drill": "drill-x"})
    assert status == 201
    assert served_by(running) == PRIMARY
    assert served_by(running, {"x-releve-drill": "drill-other"}) == PRIMARY
    assert served_by(running, {"x-releve-drill": "drill-x"}) == FALLBACK
    assert get(running, f"/admin/faults/{fault['id']}")[0] == 405  # GET on a fault: DELETE only


def test_an_experiment_file_with_stream_cuts_holds_through_mid_stream_recovery(
        gateway: tuple[GatewayThread, Path], tmp_path: Path) -> None:
    """Streams cut after their first events are resumed on the fallback: clients still get whole answers."""
    running, config = gateway
    experiment = tmp_path / "cuts.yaml"
    experiment.write_text(f"""
title: Streams break mid-answer on the primary
steady_state_hypothesis: {{route: assistant, min_success_ratio: 1.0, max_p95_latency: 2s, requests: 4}}
method:
  duration: 1s
  faults: [{{target: {PRIMARY}, kind: stream_cut, drill_only: true}}]
probes: {{rate: 8, stream: true}}
""", encoding="utf-8")
    result = CliRunner().invoke(cli, [*drill_args(running, config, tmp_path / "out"), str(experiment)])
    assert result.exit_code == 0, result.output
    journal = journal_in(tmp_path / "out")
    assert journal["hypothesis"]["during"]["successes"] == journal["hypothesis"]["during"]["requests"] >= 6
    assert journal["rollbacks"][0]["hits"] >= 6
    assert journal["experiment"]["probes"]["stream"] is True


def test_a_killed_drill_leaves_no_fault_after_its_ttl(gateway: tuple[GatewayThread, Path], tmp_path: Path) -> None:
    """SIGKILL mid-drill: the fault stays until its TTL, then the gateway drops it and the primary serves again."""
    running, config = gateway
    args = drill_args(running, config, tmp_path / "out", "--builtin", "provider-outage", "--target", PRIMARY,
                      "--route", "assistant", "--duration", "60s", "--ttl", "3s", "--all-traffic", "--rate", "5")
    drill = subprocess.Popen([sys.executable, "-m", "releve.cli", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
    try:
        wait_until(lambda: bool(get(running, "/admin/faults")[2]["faults"]), 30, "the drill injects its fault")
        drill.send_signal(signal.SIGKILL)
        drill.wait(timeout=10)
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait(timeout=10)
    assert drill.returncode == -signal.SIGKILL
    (fault,) = get(running, "/admin/faults")[2]["faults"]
    assert fault["drill_only"] is False and fault["expires_in"] <= 3
    assert served_by(running) == FALLBACK  # the fault outlived the drill for now
    waited = wait_until(lambda: served_by(running) == PRIMARY, 15, "traffic returns to the primary")
    print(f"traffic back on the primary {waited:.1f}s after the kill")
    assert get(running, "/admin/faults")[2]["faults"] == []
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))


def test_sigterm_mid_drill_rolls_back_and_keeps_the_journal(gateway: tuple[GatewayThread, Path],
                                                           tmp_path: Path) -> None:
    """Stopped politely (SIGTERM, Ctrl-C), the drill deletes its faults at once and writes an interrupted journal."""
    running, config = gateway
    args = drill_args(running, config, tmp_path / "out", "--builtin", "provider-outage", "--target", PRIMARY,
                      "--duration", "60s", "--rate", "5")  # the route comes from releve.yaml: `assistant`
    drill = subprocess.Popen([sys.executable, "-m", "releve.cli", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: bool(get(running, "/admin/faults")[2]["faults"]), 30, "the drill injects its fault")
        drill.send_signal(signal.SIGTERM)
        assert drill.wait(timeout=20) == 2
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait(timeout=10)
    assert get(running, "/admin/faults")[2]["faults"] == []
    journal = journal_in(tmp_path / "out")
    assert journal["status"] == "interrupted" and journal["exit_code"] == 2
    assert journal["rollbacks"][0]["outcome"] == "deleted"
    assert journal["experiment"]["steady_state_hypothesis"]["route"] == "assistant"


def test_no_fault_is_injected_when_the_steady_state_does_not_hold_before(
        gateway: tuple[GatewayThread, Path], tmp_path: Path) -> None:
    """A route already failing: the drill says so, injects nothing, exits 1, and notes the faults it found."""
    running, config = gateway
    status, _, existing = get(running, "/admin/faults", body={"provider": "primary", "kind": "error", "ttl": 30})
    assert status == 201
    result = CliRunner().invoke(cli, drill_args(running, config, tmp_path / "out", "--builtin", "rate-limit-storm",
                                                "--target", "primary", "--route", "solo", "--duration", "1s"))
    assert result.exit_code == 1, result.output
    journal = journal_in(tmp_path / "out")
    assert journal["status"] == "deviated" and "nothing was injected" in journal["reason"]
    assert journal["faults"] == [] and "already set before this drill" in journal["notes"][0]
    assert [f["id"] for f in get(running, "/admin/faults")[2]["faults"]] == [existing["id"]]


def test_a_fault_that_ends_before_the_drill_is_noted_and_found_gone(gateway: tuple[GatewayThread, Path],
                                                                   tmp_path: Path) -> None:
    """TTL shorter than the drill: the probes see the recovery, the rollback finds the fault already expired."""
    running, config = gateway
    result = CliRunner().invoke(cli, drill_args(running, config, tmp_path / "out", "--builtin", "slow-provider",
                                                "--target", PRIMARY, "--duration", "2s", "--ttl", "1s",
                                                "--rate", "5"))
    assert result.exit_code == 0, result.output
    journal = journal_in(tmp_path / "out")
    assert journal["rollbacks"][0]["outcome"] == "already gone (expired)"
    assert any("ends at its TTL (1s), before the drill's 2s" in note for note in journal["notes"])
    assert journal["faults"][0]["ms"] == 5000  # slower than the attempt timeout: the fallback answered
    assert journal["requests"]["fallback"] >= 1
