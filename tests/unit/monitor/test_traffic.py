"""What the monitor records for cost reports: the gateway's request counts, per route and minute, by outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from releve.clock import VirtualClock
from releve.config import config_from_mapping
from releve.gateway import EventBus, GatewayMetrics, build_routes
from releve.monitor import Monitor
from releve.store import Store, TrafficMinute
from support.scripted import ScriptedTransport

NOW = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
MINUTE = NOW.replace(second=0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    opened.open()
    yield opened
    opened.close()


def monitor(store: Store, metrics: GatewayMetrics) -> Monitor:
    config = config_from_mapping({
        "auth": "none",
        "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
        "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
        "monitor": {"enabled": False, "probes": {"request": "none"}},
    })
    clock = VirtualClock()
    transports = {"a": ScriptedTransport("a", [200])}
    return Monitor(config, build_routes(config, transports, clock), metrics, transports, store, clock=clock,
                   wall=lambda: NOW)


async def test_each_outcome_lands_in_its_own_count(store: Store) -> None:
    """Deferred requests (202 and a job) are counted apart; a hit in an `always` cache was served."""
    metrics = GatewayMetrics(EventBus())
    watcher = monitor(store, metrics)
    await watcher.start()
    for target, outcome, count in [("a/m", "served", 5), ("cache", "cached", 3), ("a/m", "fallback", 2),
                                   ("cache", "degraded", 4), ("job", "deferred", 7), ("", "failed", 1)]:
        for _ in range(count):
            metrics.observe_request("chat", target, outcome, 0.01)
    await watcher.tick()
    # Only what came since the last tick is added again.
    metrics.observe_request("chat", "job", "deferred", 0.01)
    await watcher.tick()
    await watcher.close()   # flushes the traffic minutes
    assert store.traffic(["chat"], MINUTE, MINUTE + timedelta(minutes=1)) == [
        TrafficMinute("chat", MINUTE, served=8, fallback=2, degraded=4, deferred=8, failed=1)]
