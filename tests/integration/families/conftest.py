"""Simulators speaking every family, and a gateway with one route per upstream family."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.families import FAMILIES, KEY


def provider(kind: str, sim: SimulatorThread) -> dict[str, Any]:
    if kind == "openai":
        return {"kind": "openai-compatible", "base_url": sim.base_url}
    if kind == "azure":
        return {"kind": "azure-openai", "base_url": sim.url, "api_version": "2024-10-21", "api_key": "az"}
    return {"kind": kind, "base_url": sim.url, "api_key": "k"}


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, SimulatorThread]]:
    """A primary and a fallback simulator for the module."""
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield {"primary": primary, "fallback": fallback}


@pytest.fixture(autouse=True)
def _clean(sims: dict[str, SimulatorThread]) -> Iterator[None]:
    for sim in sims.values():
        sim.clear_faults()
        sim.reset_stats()
    yield
    for sim in sims.values():
        sim.clear_faults()


@pytest.fixture(scope="module")
def gateway(sims: dict[str, SimulatorThread]) -> Iterator[GatewayThread]:
    """Routes `via-<family>` (one target each), `recovering` (openai → anthropic), `solo-stream`, `hedged`."""
    primary, fallback = sims["primary"], sims["fallback"]
    providers = {f"p-{family}": provider(family, primary) for family in FAMILIES}
    providers |= {f"f-{family}": provider(family, fallback) for family in FAMILIES}
    routes: dict[str, Any] = {f"via-{family}": {"targets": [{"provider": f"p-{family}", "model": f"{family}-model"}]}
                              for family in FAMILIES}
    routes["recovering"] = {"targets": [{"provider": "p-openai", "model": "m1"},
                                        {"provider": "f-anthropic", "model": "m2"}]}
    routes["recovering-gemini"] = {"targets": [{"provider": "p-anthropic", "model": "m1"},
                                               {"provider": "f-gemini", "model": "m2"}]}
    routes["idle"] = {"stream_idle_timeout": "300ms",
                      "targets": [{"provider": "p-openai", "model": "m1"}, {"provider": "f-openai", "model": "m2"}]}
    routes["hedged"] = {"hedge_after": "200ms", "attempt_timeout": "10s", "timeout": "20s",
                        "targets": [{"provider": "p-openai", "model": "slow"},
                                    {"provider": "f-anthropic", "model": "quick"}]}
    config = config_from_mapping({
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"tests": {"key": KEY}},
        "storage": {"url": "sqlite://"},
        "monitor": {"probes": {"request": "none"}},
        "breaker": {"consecutive_failures": 1000, "min_requests": 1000},
        "providers": providers, "routes": routes,
    })
    with GatewayThread(build_app(config)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def oai(gateway: GatewayThread) -> Iterator[openai.OpenAI]:
    """The official openai SDK pointed at the gateway."""
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def claude(gateway: GatewayThread) -> Iterator[anthropic.Anthropic]:
    """The official anthropic SDK pointed at the gateway."""
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client:
        yield client
