"""Issue 4's acceptance: real traffic through a real gateway, a provider that fails, an incident that says so.

Simulators and a webhook receiver run on 127.0.0.1; the gateway keeps its state
in a SQLite file read back here through a second `Store`, as another process would.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import ComponentStatus, Incident, IncidentStatus, Store
from support.webhooks import SECRET, Receiver, webhook_receiver

BODY = orjson.dumps({"model": "assistant", "messages": [{"role": "user", "content": "hello"}]})


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield primary, fallback


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as hooks:
        yield hooks


def monitored_config(primary: str, fallback: str, db: Path, hooks: str, **monitor: Any) -> dict[str, Any]:
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "auth": "none",
        "storage": {"url": f"sqlite:///{db}"},
        "breaker": {"consecutive_failures": 3, "open_for": "500ms"},
        "providers": {
            "primary": {"kind": "openai-compatible", "base_url": primary},
            "fallback": {"kind": "openai-compatible", "base_url": fallback},
        },
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                             {"provider": "fallback", "model": "f-model"}],
                                 "attempt_timeout": "1s", "retries": 0}},
        "processes": {"customer-support": {"name": {"fr": "Support client", "en": "Customer support"},
                                           "routes": ["assistant"]}},
        "monitor": {"evaluate_every": "200ms", "window": "3s", "min_samples": 3, "down_after": 3, "up_after": 5,
                    "resolve_after": "2s", "probes": {"request": "none"}, **monitor},
        "webhooks": [{"url": hooks, "secret": SECRET}],
    }


class Traffic:
    """Steady client requests from a thread, about `rate` per second, until stopped."""

    def __init__(self, url: str, rate: float = 25.0) -> None:
        self._host, _, port = url.removeprefix("http://").partition(":")
        self._port = int(port)
        self._pause = 1.0 / rate
        self._stop = threading.Event()
        self.statuses: list[int] = []
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
        for _ in range(100_000):  # bounded: at 25/s that is over an hour
            if self._stop.is_set():
                break
            connection.request("POST", "/v1/chat/completions", BODY, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            self.statuses.append(response.status)
            self._stop.wait(self._pause)
        connection.close()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def incidents(store: Store, **filters: Any) -> list[Incident]:
    return [i for i in store.incidents(maintenance=False, **filters) if i.automatic]


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    yield store
    store.close()


def test_errors_under_traffic_open_an_incident_that_names_the_fallback_then_resolve(
        sims: tuple[SimulatorThread, SimulatorThread], receiver: Receiver, reader: Store, tmp_path: Path) -> None:
    primary, fallback = sims
    config = config_from_mapping(monitored_config(primary.base_url, fallback.base_url, tmp_path / "releve.db",
                                                  receiver.url))
    with GatewayThread(build_app(config)) as gateway, Traffic(gateway.url) as traffic:
        reader.open()
        time.sleep(1.0)  # steady state first: nothing is wrong
        assert incidents(reader) == []
        primary.set_faults({"kind": "status", "status": 503})
        broke_at = time.monotonic()
        try:
            opened = wait_for(lambda: incidents(reader, unresolved=True), 10.0, "an incident")[0]
            seen_after = time.monotonic() - broke_at
        finally:
            primary.clear_faults()
        wait_for(lambda: not incidents(reader, unresolved=True), 15.0, "automatic resolution")

    print(f"\nincident seen {seen_after:.2f} s after the fault; detection_seconds={opened.detection_seconds:.2f}")
    assert seen_after < 10.0
    assert opened.components == ("process:customer-support",)
    assert opened.name.en == "Customer support: degraded service"
    assert opened.name.fr == "Support client : service dégradé"
    first = opened.updates[-1]
    assert "Relève moved traffic to fallback (f-model)" in first.body.en
    assert "Relève a basculé le trafic vers fallback (f-model)" in first.body.fr
    assert "primary (p-model)" in first.body.en
    # Detection time is measured from the first failed attempt, and recorded with the incident.
    assert opened.detection_seconds is not None and 0.0 <= opened.detection_seconds < 10.0
    resolved = reader.incident(opened.id)
    assert resolved is not None and resolved.status is IncidentStatus.RESOLVED
    timeline = [u.status for u in reversed(resolved.updates)]
    print("\n".join(f"{u.created_at:%H:%M:%S.%f} {u.status.value}: {u.body.en}" for u in reversed(resolved.updates)))
    assert timeline[0] is IncidentStatus.INVESTIGATING
    assert timeline[-2:] == [IncidentStatus.MONITORING, IncidentStatus.RESOLVED]
    assert resolved.recovery_seconds is not None and resolved.recovery_seconds > 0
    print(f"recovery_seconds={resolved.recovery_seconds:.2f}")
    assert all(status == 200 for status in traffic.statuses), "the fallback carried every request"
    statuses = {c.id: c.status for c in reader.components()}
    assert statuses["process:customer-support"] is ComponentStatus.OPERATIONAL
    opens, resolves = receiver.wait_for("incident.open"), receiver.wait_for("incident.resolve")
    assert len(opens) == 1 and len(resolves) == 1
    assert opens[0].signed and opens[0].payload["incident"]["id"] == opened.id


def test_a_flapping_provider_gives_one_open_and_one_resolve(
        sims: tuple[SimulatorThread, SimulatorThread], receiver: Receiver, reader: Store, tmp_path: Path) -> None:
    primary, fallback = sims
    config = config_from_mapping(monitored_config(primary.base_url, fallback.base_url, tmp_path / "releve.db",
                                                  receiver.url, resolve_after="3s"))
    with GatewayThread(build_app(config)) as gateway, Traffic(gateway.url):
        reader.open()
        time.sleep(0.5)
        try:
            for _ in range(10):
                primary.set_faults({"kind": "status", "status": 502})
                time.sleep(0.8)
                primary.clear_faults()
                time.sleep(0.8)
        finally:
            primary.clear_faults()
        wait_for(lambda: incidents(reader) and not incidents(reader, unresolved=True), 20.0, "resolution")

    found = incidents(reader)
    assert len(found) == 1, [i.updates for i in found]
    assert len(found[0].updates) >= 3  # it did flap: updates came and went within the one incident
    opens, resolves = receiver.wait_for("incident.open"), receiver.wait_for("incident.resolve")
    time.sleep(0.3)  # nothing more arrives late
    assert len(receiver.events("incident.open")) == 1 and len(receiver.events("incident.resolve")) == 1
    assert opens[0].payload["incident"]["id"] == resolves[0].payload["incident"]["id"] == found[0].id
    assert all(d.signed for d in receiver.deliveries)
