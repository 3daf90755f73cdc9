"""Batch tests: simulators for the session, a small gateway (router + Batch API + runner) per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from integration.batches._support import BatchGateway, sdk
from releve.server import GatewayThread
from releve.sim import SimulatorThread


@pytest.fixture(scope="session")
def primary() -> Iterator[SimulatorThread]:
    with SimulatorThread("primary") as sim:
        yield sim


@pytest.fixture(scope="session")
def fallback() -> Iterator[SimulatorThread]:
    with SimulatorThread("fallback") as sim:
        yield sim


@pytest.fixture(autouse=True)
def _clean_simulators(primary: SimulatorThread, fallback: SimulatorThread) -> Iterator[None]:
    for sim in (primary, fallback):
        sim.clear_faults()
        sim.reset_stats()
    yield
    for sim in (primary, fallback):
        sim.clear_faults()


Start = Callable[..., tuple[BatchGateway, str]]


@pytest.fixture
def start(primary: SimulatorThread, fallback: SimulatorThread, tmp_path: Path) -> Iterator[Start]:
    """Start a batch gateway (options go to BatchGateway); (the app, its URL). Stopped after the test."""
    threads: list[GatewayThread] = []

    def started(**options: Any) -> tuple[BatchGateway, str]:
        app = BatchGateway(primary.base_url, fallback.base_url, f"sqlite:///{tmp_path}/releve-{len(threads)}.db",
                           **options)
        thread = GatewayThread(app).start()  # duck-typed: GatewayThread reads only `app.config`
        threads.append(thread)
        return app, thread.url

    yield started
    for thread in threads:
        thread.stop()


@pytest.fixture
def gateway(start: Start) -> tuple[BatchGateway, str]:
    return start()


@pytest.fixture
def client(gateway: tuple[BatchGateway, str]) -> Iterator[openai.OpenAI]:
    yield from sdk(gateway[1])
