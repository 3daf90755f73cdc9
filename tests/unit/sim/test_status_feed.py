"""The simulator's status page follows its faults, optimistic like a real provider's."""

from __future__ import annotations

import pytest

from releve.sim import Fault, SimulatorThread
from releve.sim._status_feed import feed_state


@pytest.mark.parametrize(("faults", "expected"), [
    ([], "operational"),
    ([Fault("latency", ms=200)], "degraded_performance"),
    ([Fault("status", probability=0.1)], "degraded_performance"),
    ([Fault("status", probability=0.5)], "partial_outage"),
    ([Fault("hang")], "major_outage"),
    ([Fault("rate_limit")], "degraded_performance"),
    ([Fault("latency", ms=1), Fault("reset_peer")], "major_outage"),
])
def test_feed_state(faults: list[Fault], expected: str) -> None:
    assert feed_state(faults) == expected


def test_summary_json_has_statuspage_fields() -> None:
    import json
    import urllib.request

    with SimulatorThread("acme") as sim:
        sim.set_faults({"kind": "status", "status": 503})
        with urllib.request.urlopen(f"{sim.url}/api/v2/summary.json", timeout=5) as response:
            summary = json.load(response)
        with urllib.request.urlopen(f"{sim.url}/api/v2/status.json", timeout=5) as response:
            status = json.load(response)
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert summary["components"][0]["status"] == "major_outage"
    assert set(summary) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert status["status"]["indicator"] == "critical" and status["page"]["name"] == "acme"
