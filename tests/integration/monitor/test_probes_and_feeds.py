"""Outages seen without client traffic: synthetic probes, and the provider's own status page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import ComponentStatus, Store

from .test_detection import incidents, wait_for


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield primary, fallback


@pytest.fixture(autouse=True)
def _clear(sims: tuple[SimulatorThread, SimulatorThread]) -> Iterator[None]:
    yield
    for sim in sims:
        sim.clear_faults()


def quiet_config(primary: SimulatorThread, fallback: SimulatorThread, db: Path, **primary_extra: Any) -> dict[str, Any]:
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "auth": "none",
        "storage": {"url": f"sqlite:///{db}"},
        "providers": {
            "primary": {"kind": "openai-compatible", "base_url": primary.base_url, **primary_extra},
            "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url},
        },
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                             {"provider": "fallback", "model": "f-model"}]}},
        "processes": {"support": {"routes": ["assistant"]}},
        "monitor": {"evaluate_every": "100ms", "down_after": 2, "up_after": 3, "resolve_after": "1s",
                    "probes": {"every": "100ms", "request": "models", "timeout": "1s"},
                    "status_feed_every": "200ms"},
    }


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    yield store
    store.close()


def test_probes_find_an_outage_with_no_traffic(sims: tuple[SimulatorThread, SimulatorThread], reader: Store,
                                               tmp_path: Path) -> None:
    primary, fallback = sims
    primary.set_faults({"kind": "status", "status": 500, "paths": ["/v1/models"]})
    config = config_from_mapping(quiet_config(primary, fallback, tmp_path / "releve.db"))
    with GatewayThread(build_app(config)):
        reader.open()
        opened = wait_for(lambda: incidents(reader, unresolved=True), 10.0, "an incident from probes")[0]
        statuses = {c.id: c.status for c in reader.components()}
        primary.clear_faults()
        wait_for(lambda: not incidents(reader, unresolved=True), 10.0, "resolution")
    assert statuses["target:primary/p-model"] is ComponentStatus.MAJOR_OUTAGE
    assert statuses["target:fallback/f-model"] is ComponentStatus.OPERATIONAL
    assert "Relève moved traffic to fallback (f-model)" in opened.updates[-1].body.en
    assert primary.stats()["by_path"]["/v1/models"] >= 2


def test_the_providers_own_status_page_is_a_signal(sims: tuple[SimulatorThread, SimulatorThread], reader: Store,
                                                   tmp_path: Path) -> None:
    primary, fallback = sims
    # The provider declares an outage of an API we do not use: our own probes stay green.
    primary.set_faults({"kind": "status", "status": 503, "paths": ["/v1/embeddings"]})
    config = config_from_mapping(quiet_config(primary, fallback, tmp_path / "releve.db",
                                              status_feed=f"{primary.url}/api/v2/summary.json"))
    with GatewayThread(build_app(config)):
        reader.open()
        opened = wait_for(lambda: incidents(reader, unresolved=True), 10.0, "an incident from the status feed")[0]
    assert "primary's own status page reports: major outage" in opened.updates[-1].body.en
    assert "La page d'état de primary signale : panne majeure" in opened.updates[-1].body.fr
