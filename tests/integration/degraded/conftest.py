"""The degraded-mode tests' providers: two simulators per module, healthy and with empty stats before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releve.sim import SimulatorThread


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield primary, fallback


@pytest.fixture(autouse=True)
def _healthy(sims: tuple[SimulatorThread, SimulatorThread]) -> Iterator[None]:
    for sim in sims:
        sim.clear_faults()
        sim.reset_stats()
    yield
    for sim in sims:
        sim.clear_faults()
