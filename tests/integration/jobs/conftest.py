"""Real parts for the jobs tests: two simulators, HTTP transports, a router, a SQLite store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.jobs._support import CLIENT_KEY, OTHER_KEY, CallbackReceiver, WallClock, open_store
from releve.clock import MONOTONIC
from releve.config import Config, config_from_mapping
from releve.gateway import EventBus, Router, build_routes
from releve.gateway.providers import ProviderTransport, http_transports
from releve.sim import SimulatorThread
from releve.store import Store


@pytest.fixture(scope="session")
def primary() -> Iterator[SimulatorThread]:
    with SimulatorThread("jobs-primary") as sim:
        yield sim


@pytest.fixture(scope="session")
def fallback() -> Iterator[SimulatorThread]:
    with SimulatorThread("jobs-fallback") as sim:
        yield sim


@pytest.fixture(autouse=True)
def _clean_simulators(primary: SimulatorThread, fallback: SimulatorThread) -> Iterator[None]:
    for sim in (primary, fallback):
        sim.clear_faults()
        sim.reset_stats()
    yield
    for sim in (primary, fallback):
        sim.clear_faults()


def jobs_config(primary_url: str, fallback_url: str) -> dict[str, Any]:
    """`solo` has one target (down means down); `assistant` fails over primary → fallback.

    Breakers open only after many failures: these tests count upstream calls, and an open breaker would
    make a recovered provider wait.
    """
    return {
        "clients": {"jobs": {"key": CLIENT_KEY}, "other": {"key": OTHER_KEY}},
        "storage": {"url": "sqlite://"},
        "monitor": {"probes": {"request": "none"}},
        "breaker": {"consecutive_failures": 1000, "open_for": "1s"},
        "providers": {
            "primary": {"kind": "openai-compatible", "base_url": primary_url},
            "fallback": {"kind": "openai-compatible", "base_url": fallback_url},
        },
        "routes": {
            "assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                      {"provider": "fallback", "model": "f-model"}],
                          "attempt_timeout": "2s", "timeout": "5s", "retries": 0},
            "solo": {"targets": [{"provider": "primary", "model": "p-model"}], "attempt_timeout": "2s",
                     "timeout": "5s", "retries": 0},
        },
    }


@pytest.fixture
def config(primary: SimulatorThread, fallback: SimulatorThread) -> Config:
    return config_from_mapping(jobs_config(primary.base_url, fallback.base_url))


@pytest.fixture
async def router(config: Config) -> AsyncIterator[Router]:
    """A router built as `build_app` builds it, over real HTTP transports."""
    transports: dict[str, ProviderTransport] = http_transports(config.providers)
    for transport in transports.values():
        await transport.start()
    built = Router(build_routes(config, transports, MONOTONIC), MONOTONIC, EventBus(maxsize=1000))
    yield built
    built.close()
    for transport in transports.values():
        await transport.close()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'releve.db'}"


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    opened = open_store(database)
    yield opened
    opened.close()


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    started = CallbackReceiver()
    await started.start()
    yield started
    await started.close()
