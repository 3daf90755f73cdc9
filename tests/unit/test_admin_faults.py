"""The admin API's fault endpoints: admin keys only, checked input, every change in the audit log."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from releve.admin import AdminApi
from releve.clock import VirtualClock
from releve.config import config_from_mapping
from releve.gateway import FaultTable
from releve.store import Store

ADMIN = "admin-key-for-fault-tests"
CLIENT = "client-key-for-fault-tests"
WALL = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
Audited = list[tuple[str, str, dict[str, Any]]]


def build(clock: VirtualClock, **overrides: Any) -> tuple[AdminApi, FaultTable, Audited]:
    config = config_from_mapping({
        "clients": {"app": {"key": CLIENT}},
        "admins": {"ops": {"key": ADMIN}},
        "providers": {"openai": {"kind": "openai-compatible", "base_url": "http://openai.invalid/v1", "region": "us"},
                      "mistral": {"kind": "openai-compatible", "base_url": "http://mistral.invalid/v1",
                                  "region": "eu"}},
        "routes": {"chat": {"targets": [{"provider": "openai", "model": "gpt"}, {"provider": "mistral",
                                                                                 "model": "small"}]}},
        **overrides,
    })
    audited: Audited = []
    faults = FaultTable(clock=clock, wall=lambda: WALL, rng=random.Random(1))
    api = AdminApi(config, Store("sqlite://"), (), wake=lambda: None, now=lambda: WALL,
                   audit=lambda kind, actor, data: audited.append((kind, actor, data)), faults=faults)
    return api, faults, audited


async def call(api: AdminApi, method: str, path: str, body: Any = None, key: str | None = ADMIN) -> tuple[int, Any]:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    raw = b"" if body is None else orjson.dumps(body)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert api.handles(path)
    await api({"type": "http", "method": method, "path": path, "headers": headers}, receive, send)
    return sent[0]["status"], orjson.loads(sent[1]["body"])


async def test_inject_list_and_remove_a_fault(clock: VirtualClock) -> None:
    """POST answers 201 with an id, GET lists it with its expiry, DELETE removes it and says how often it hit."""
    api, faults, audited = build(clock)
    status, fault = await call(api, "POST", "/admin/faults",
                               {"target": "openai/gpt", "kind": "error", "status": 503, "ttl": "2m",
                                "drill_only": True, "drill": "drill-1"})
    assert status == 201, fault
    assert fault["id"].startswith("flt_") and fault["expires_at"] == "2026-03-01T10:02:00Z"
    assert (fault["kind"], fault["status"], fault["drill_only"], fault["hits"]) == ("error", 503, True, 0)
    assert faults.armed
    status, listing = await call(api, "GET", "/admin/faults")
    assert status == 200 and [f["id"] for f in listing["faults"]] == [fault["id"]]
    assert listing["faults"][0]["expires_in"] == 120 and isinstance(listing["process"], int)
    status, removed = await call(api, "DELETE", f"/admin/faults/{fault['id']}")
    assert status == 200 and removed["removed"] is True and removed["hits"] == 0
    assert not faults.armed
    assert await call(api, "DELETE", f"/admin/faults/{fault['id']}") == (404, {"error": {
        "message": f"no fault '{fault['id']}' in this process (expired, removed, or set on another worker or "
                   "replica without shared_state)",
        "type": "invalid_request_error", "code": "not_found"}})
    assert [(kind, actor, data["action"], data["fault"]) for kind, actor, data in audited] == [
        ("fault", "admin:ops", "inject", fault["id"]), ("fault", "admin:ops", "remove", fault["id"])]
    assert audited[0][2]["target"] == "openai/gpt" and audited[0][2]["ttl"] == 120


async def test_a_fault_gone_past_its_ttl_is_not_listed(clock: VirtualClock) -> None:
    """The listing shows only faults still in force."""
    api, _, _ = build(clock)
    await call(api, "POST", "/admin/faults", {"region": "eu", "kind": "hang", "ttl": 5})
    clock.advance(5)
    assert (await call(api, "GET", "/admin/faults"))[1]["faults"] == []


@pytest.mark.parametrize("key", [None, "wrong", CLIENT])
async def test_only_admin_keys_may_touch_faults(clock: VirtualClock, key: str | None) -> None:
    """No key, a wrong key, or a client key: 401 and nothing injected or audited."""
    api, faults, audited = build(clock)
    for method, path, body in (("POST", "/admin/faults", {"provider": "openai", "kind": "hang", "ttl": 60}),
                               ("GET", "/admin/faults", None), ("DELETE", "/admin/faults/flt_x", None)):
        status, answer = await call(api, method, path, body, key=key)
        assert status == 401 and answer["error"]["code"] == "unauthorized"
    assert not faults.armed and audited == []


@pytest.mark.parametrize(("body", "code"), [
    ({"target": "openai/gpt", "kind": "error"}, "invalid_field"),                       # no ttl
    ({"target": "openai/gpt", "kind": "error", "ttl": 7200}, "invalid_field"),          # over an hour
    ({"target": "openai/nope", "kind": "error", "ttl": 60}, "unknown_target"),
    ({"provider": "anthropic", "kind": "error", "ttl": 60}, "unknown_provider"),
    ({"region": "ap", "kind": "error", "ttl": 60}, "unknown_region"),
    ({"target": "openai/gpt", "kind": "meteor", "ttl": 60}, "invalid_field"),
    ({"target": "openai/gpt", "kind": "error", "ttl": 60, "why": "fun"}, "unknown_field"),
    ([1], "invalid_json"),
])
async def test_bad_faults_are_refused_and_nothing_is_injected(clock: VirtualClock, body: Any, code: str) -> None:
    """Each refusal is a 400 naming the problem; the table stays empty and nothing is audited."""
    api, faults, audited = build(clock)
    status, answer = await call(api, "POST", "/admin/faults", body)
    assert status == 400 and answer["error"]["code"] == code, answer
    assert not faults.armed and audited == []


async def test_wrong_methods_and_paths(clock: VirtualClock) -> None:
    """The collection takes GET and POST, a fault DELETE; anything else is 405 or 404."""
    api, _, _ = build(clock)
    assert (await call(api, "DELETE", "/admin/faults"))[0] == 405
    assert (await call(api, "GET", "/admin/faults/flt_1"))[0] == 405
    assert (await call(api, "POST", "/admin/faults/flt_1/again"))[0] == 404


async def test_without_a_fault_table_the_endpoints_are_absent(clock: VirtualClock) -> None:
    """An AdminApi built without faults (older wiring) answers 404, not a crash."""
    api, _, _ = build(clock)
    bare = AdminApi(api._config, Store("sqlite://"), (), wake=lambda: None, now=lambda: WALL)
    assert (await call(bare, "GET", "/admin/faults"))[0] == 404


async def test_under_auth_none_without_admins_the_api_is_open(clock: VirtualClock) -> None:
    """The same rule as for incidents: no admins and auth: none leaves the admin API open (actor 'open')."""
    api, _, audited = build(clock, auth="none", admins={}, clients={})
    status, _ = await call(api, "POST", "/admin/faults", {"provider": "mistral", "kind": "hang", "ttl": 60}, key=None)
    assert status == 201 and audited[0][1] == "admin:open"
