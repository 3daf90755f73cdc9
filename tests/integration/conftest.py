"""Fixtures for integration tests: real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from releve.sim import SimulatorThread


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[SimulatorThread]:
    """One provider simulator for the whole session, on a free port."""
    with SimulatorThread("sim") as sim:
        yield sim


@pytest.fixture
def simulator(simulator_session: SimulatorThread) -> SimulatorThread:
    """The session's simulator with no faults and empty stats, so tests do not see each other."""
    simulator_session.clear_faults()
    simulator_session.reset_stats()
    return simulator_session
