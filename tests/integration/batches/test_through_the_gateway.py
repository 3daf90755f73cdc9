"""Acceptance 3 on the real gateway (`build_app`): the official SDK's batch survives the primary failing and the
whole gateway stopping and starting again on the same port and store."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import openai

from integration.batches._support import chat_line, finished, read_lines, submit, wait_for
from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.gateway import CLIENT_KEY, gateway_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_batch_completes_across_an_outage_and_a_gateway_restart(primary: SimulatorThread, fallback: SimulatorThread,
                                                                  tmp_path: Path) -> None:
    raw = gateway_config(primary.base_url, fallback.base_url)
    raw["storage"] = {"url": f"sqlite:///{tmp_path / 'releve.db'}"}
    raw["batches"] = {"concurrency": 8}
    port = _free_port()
    for sim in (primary, fallback):
        sim.set_faults({"kind": "latency", "ms": 20})
    lines = [chat_line(f"line-{n:03}", f"question {n}") for n in range(200)]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=CLIENT_KEY, max_retries=5)
    gateway = GatewayThread(build_app(config_from_mapping(raw)), port=port).start()
    try:
        batch_id = submit(client, lines)
        wait_for(client, batch_id, lambda b: b.request_counts.completed >= 40)
        primary.set_faults({"kind": "status", "status": 503})
        wait_for(client, batch_id, lambda b: b.request_counts.completed >= 80)
        gateway.stop()  # in the middle: lines in flight finish or stay pending, nothing is lost
        stopped_at = time.monotonic()
        gateway = GatewayThread(build_app(config_from_mapping(raw)), port=port).start()
        primary.set_faults({"kind": "latency", "ms": 20})
        batch = wait_for(client, batch_id, finished, timeout=60)
        output = read_lines(client, batch.output_file_id)
    finally:
        gateway.stop()
    assert time.monotonic() - stopped_at < 60
    assert batch.status == "completed"
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (200, 200, 0)
    assert len(output) == 200 and {line["custom_id"] for line in output} == {line["custom_id"] for line in lines}
    assert all(line["response"]["status_code"] == 200 for line in output)
    executed = sum(sim.stats()["executions"] for sim in (primary, fallback))  # replays are not executions
    assert executed == 200, "each line executed once by a provider"
