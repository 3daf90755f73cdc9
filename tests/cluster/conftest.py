"""Fixtures for the cluster tests: replicas of `releve up` as processes, their PostgreSQL, Redis and HAProxy.

The machine's PostgreSQL (127.0.0.1:5432) holds a fresh database per test; Redis is the test's own
`redis-server` (the machine's is never touched); HAProxy runs deploy/haproxy.cfg as shipped. The helpers
themselves are in tests/support/cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releve.sim import SimulatorThread
from support.cluster import RedisServer, postgres_database


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    """The route's primary and fallback providers, shared by a module's tests."""
    with SimulatorThread("cluster-primary") as primary, SimulatorThread("cluster-fallback") as fallback:
        yield primary, fallback


@pytest.fixture
def providers(sims: tuple[SimulatorThread, SimulatorThread]) -> tuple[SimulatorThread, SimulatorThread]:
    """The simulators with no faults and empty stats, so tests do not see each other."""
    for sim in sims:
        sim.clear_faults()
        sim.reset_stats()
    return sims


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, dropped after the test."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """The test's own redis-server on a free port, with a key prefix of its own; stopped after the test."""
    with RedisServer(tmp_path) as server:
        yield server
