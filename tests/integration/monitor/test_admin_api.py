"""The admin API: manual incidents and maintenance, admin keys only, clear errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.store import ComponentStatus, IncidentStatus, Store
from support.webhooks import SECRET, Receiver, webhook_receiver

from .test_detection import wait_for

ADMIN = "admin-key-for-tests"
CLIENT = "client-key-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as hooks:
        yield hooks


@pytest.fixture
def gateway(tmp_path: Path, receiver: Receiver) -> Iterator[GatewayThread]:
    config = config_from_mapping({
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"app": {"key": CLIENT}},
        "admins": {"ops": {"key": ADMIN}},
        "storage": {"url": f"sqlite:///{tmp_path / 'releve.db'}"},
        "providers": {"sim": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}},
        "routes": {"assistant": {"targets": [{"provider": "sim", "model": "m"}]}},
        "processes": {"support": {"routes": ["assistant"]}},
        "monitor": {"evaluate_every": "100ms", "probes": {"request": "none"}},
        "webhooks": [{"url": receiver.url, "secret": SECRET}],
    })
    with GatewayThread(build_app(config)) as running:
        yield running


def call(gateway: GatewayThread, method: str, path: str, body: Any = None, key: str | None = ADMIN) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(gateway.url + path, data=data, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_open_update_resolve_by_hand(gateway: GatewayThread, receiver: Receiver, tmp_path: Path) -> None:
    status, opened = call(gateway, "POST", "/admin/incidents", {
        "name": {"fr": "Lenteurs du support", "en": "Slow support answers"},
        "message": {"fr": "Nous enquêtons.", "en": "We are investigating."},
        "components": ["support"], "impact": "minor"})
    assert status == 201, opened
    assert opened["status"] == "investigating" and opened["components"] == ["process:support"]
    assert opened["automatic"] is False
    incident_id = opened["id"]
    status, updated = call(gateway, "POST", f"/admin/incidents/{incident_id}/updates",
                           {"status": "identified", "message": "Cause found / cause trouvée"})
    assert status == 200 and updated["status"] == "identified"
    status, resolved = call(gateway, "POST", f"/admin/incidents/{incident_id}/resolve", {})
    assert status == 200 and resolved["status"] == "resolved" and resolved["resolved_at"]
    assert [u["status"] for u in resolved["updates"]] == ["resolved", "identified", "investigating"]
    status, again = call(gateway, "POST", f"/admin/incidents/{incident_id}/updates", {"message": "late"})
    assert status == 409, again
    assert again["error"]["code"] == "conflict"
    receiver.wait_for("incident.open")
    receiver.wait_for("incident.update")
    receiver.wait_for("incident.resolve")
    status, listing = call(gateway, "GET", "/admin/incidents")
    assert status == 200 and [i["id"] for i in listing["incidents"]] == [incident_id]


@pytest.mark.parametrize(("key", "expected"), [(None, 401), ("wrong", 401), (CLIENT, 401)])
def test_only_admin_keys_may_write(gateway: GatewayThread, key: str | None, expected: int) -> None:
    status, body = call(gateway, "POST", "/admin/incidents", {"name": "x", "message": "y", "components": ["support"]},
                        key=key)
    assert status == expected
    assert body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("body", "code"), [
    ({"name": "x", "message": "y", "components": ["nope"]}, "unknown_component"),
    ({"name": "x", "message": "y", "components": []}, "invalid_field"),
    ({"name": "", "message": "y", "components": ["support"]}, "invalid_field"),
    ({"name": {"fr": "x"}, "message": "y", "components": ["support"]}, "invalid_field"),
    ({"name": "x", "message": "y", "components": ["support"], "impact": "apocalyptic"}, "invalid_field"),
    ({"name": "x", "message": "y", "components": ["support"], "status": "resolved"}, "invalid_field"),
    ({"name": "x", "message": "y", "components": ["support"], "colour": "red"}, "unknown_field"),
    ([1, 2], "invalid_json"),
])
def test_bad_input_is_refused_and_writes_nothing(gateway: GatewayThread, tmp_path: Path, body: Any, code: str) -> None:
    status, answer = call(gateway, "POST", "/admin/incidents", body)
    assert status == 400 and answer["error"]["code"] == code, answer
    assert call(gateway, "GET", "/admin/incidents")[1]["incidents"] == []


def test_unknown_incident_and_paths(gateway: GatewayThread) -> None:
    assert call(gateway, "POST", "/admin/incidents/nope/updates", {"message": "x"})[0] == 404
    assert call(gateway, "POST", "/admin/incidents/nope/frobnicate", {"message": "x"})[0] == 404
    assert call(gateway, "DELETE", "/admin/incidents")[0] == 405


def test_a_maintenance_window_shows_its_components_under_maintenance(gateway: GatewayThread, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    status, window = call(gateway, "POST", "/admin/maintenances", {
        "name": {"fr": "Migration", "en": "Migration"}, "message": "Planned / prévue",
        "components": ["support"], "starts": (now - timedelta(seconds=1)).isoformat(),
        "ends": (now + timedelta(seconds=3)).isoformat()})
    assert status == 201 and window["status"] == "scheduled" and window["scheduled_until"]
    reader = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    reader.open()
    try:
        def component() -> ComponentStatus:
            return {c.id: c.status for c in reader.components()}["process:support"]

        # The monitor reads windows every 10 s; the first read is at its first tick.
        wait_for(lambda: component() is ComponentStatus.UNDER_MAINTENANCE, 5.0, "maintenance status")
        started = reader.incident(window["id"])
        assert started is not None and started.status is IncidentStatus.IN_PROGRESS
    finally:
        reader.close()
    bad = call(gateway, "POST", "/admin/maintenances", {"name": "x", "message": "y", "components": ["support"],
                                                         "starts": "tomorrow", "ends": "later"})
    assert bad[0] == 400 and "ISO 8601" in bad[1]["error"]["message"]
