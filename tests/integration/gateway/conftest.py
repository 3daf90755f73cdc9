"""Real sockets: simulators on 127.0.0.1 for the session, a gateway per test."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.gateway import gateway_config


@pytest.fixture(scope="session")
def primary() -> Iterator[SimulatorThread]:
    """The first choice of every test route."""
    with SimulatorThread("primary") as sim:
        yield sim


@pytest.fixture(scope="session")
def fallback() -> Iterator[SimulatorThread]:
    """The provider that takes over."""
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


@pytest.fixture
def closed_port() -> int:
    """A port with nothing listening: connections to it are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


GatewayFactory = Callable[..., GatewayThread]


@pytest.fixture
def start_gateway(primary: SimulatorThread, fallback: SimulatorThread) -> Iterator[GatewayFactory]:
    """Start a gateway in front of the simulators; stopped after the test."""
    started: list[GatewayThread] = []

    def start(primary_url: str | None = None, **route: Any) -> GatewayThread:
        raw = gateway_config(primary_url or primary.base_url, fallback.base_url, **route)
        gateway = GatewayThread(build_app(config_from_mapping(raw))).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(start_gateway: GatewayFactory) -> GatewayThread:
    """A gateway with the default two-target route."""
    return start_gateway()
