"""Issue 9, acceptance 2: a route whose data is personal never fails over to a provider that may not receive it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.protect import verify_store
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import Store

CHAT = {"model": "records", "messages": [{"role": "user", "content": "Summarise the file of Jeanne Martin."}]}


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("eu-primary") as primary, SimulatorThread("us-fallback") as fallback:
        yield primary, fallback


@pytest.fixture(autouse=True)
def _fresh(sims: tuple[SimulatorThread, SimulatorThread]) -> Iterator[None]:
    for sim in sims:
        sim.clear_faults()
        sim.reset_stats()
    yield
    for sim in sims:
        sim.clear_faults()


def config(sims: tuple[SimulatorThread, SimulatorThread], db: Path, **route: Any) -> dict[str, Any]:
    primary, fallback = sims
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False}, "auth": "none",
        "storage": {"url": f"sqlite:///{db}"}, "monitor": {"probes": {"request": "none"}},
        "providers": {
            "eu": {"kind": "openai-compatible", "base_url": primary.base_url, "region": "eu", "personal_data": True},
            "us": {"kind": "openai-compatible", "base_url": fallback.base_url, "region": "us", "personal_data": False},
        },
        "routes": {"records": {"targets": [{"provider": "eu", "model": "m"}, {"provider": "us", "model": "m"}],
                               "retries": 0, **route}},
    }


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async def go() -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers or {}) as response:
                return response.status, orjson.loads(await response.read())
    return asyncio.run(go())


def test_personal_data_is_refused_rather_than_sent_to_a_provider_that_may_not_receive_it(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    primary, fallback = sims
    primary.set_faults({"kind": "status", "status": 503})
    with GatewayThread(build_app(config_from_mapping(config(sims, tmp_path / "r.db", data="personal")))) as gateway:
        status, body = post(gateway.url, CHAT)
        metrics_skipped = asyncio.run(_metrics(gateway.url))
    assert status == 503
    assert body["error"]["code"] == "data_policy"
    assert "provider us may not receive personal data" in body["error"]["message"]
    assert "Nothing was sent to them" in body["error"]["message"]
    assert fallback.stats()["requests"] == 0
    assert 'releve_targets_skipped_total{route="records",target="us/m"}' in metrics_skipped
    assert 'releve_audit_pending{where="spool"} 0.0' in metrics_skipped  # the store takes them: none on disk
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    store.open()
    try:
        entries = list(store.audit_entries())
        assert verify_store(store, key=None).ok
    finally:
        store.close()
    kinds = [(e.kind, e.actor) for e in entries]
    assert ("config", "releve") in kinds and ("policy_skip", "gateway") in kinds
    decision = next(e for e in entries if e.kind == "request")
    assert decision.data["outcome"] == "refused" and decision.data["data_class"] == "personal"
    assert decision.data["targets"] == ["eu/m (as is)"] and decision.data["regions"] == ["eu"]
    assert "Jeanne" not in str([e.data for e in entries])  # never the content


async def _metrics(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        return await response.text()


def test_a_client_may_raise_the_class_never_lower_it(sims: tuple[SimulatorThread, SimulatorThread],
                                                      tmp_path: Path) -> None:
    primary, fallback = sims
    primary.set_faults({"kind": "status", "status": 503})
    with GatewayThread(build_app(config_from_mapping(config(sims, tmp_path / "r.db", data="none")))) as gateway:
        ordinary = post(gateway.url, CHAT)
        marked = post(gateway.url, CHAT, {"x-releve-data": "personal"})
    assert ordinary[0] == 200  # the route says its data is not personal: failover as usual
    assert marked[0] == 503 and marked[1]["error"]["code"] == "data_policy"
    assert fallback.stats()["requests"] == 1


def test_allowed_regions_keep_requests_in_the_region(sims: tuple[SimulatorThread, SimulatorThread],
                                                     tmp_path: Path) -> None:
    primary, fallback = sims
    raw = config(sims, tmp_path / "r.db", data="none", allowed_regions=["us"])
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        status, _ = post(gateway.url, CHAT)
    assert status == 200 and primary.stats()["requests"] == 0 and fallback.stats()["requests"] == 1


def test_without_an_encryption_key_personal_content_is_not_stored(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    """No RELEVE_DATA_KEYS: a personal-data route neither defers nor keeps answers for Idempotency-Key replays."""
    raw = config(sims, tmp_path / "r.db", data="personal", degraded={"defer": True})
    raw["providers"]["us"]["personal_data"] = True
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        status, body = post(gateway.url, CHAT, {"Idempotency-Key": "k1"})
    assert status == 400 and body["error"]["code"] == "idempotency_unavailable"
    assert "RELEVE_DATA_KEYS" in body["error"]["message"]


def test_with_a_key_a_deferred_personal_request_is_stored_encrypted(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    from releve.store import ContentKeys

    primary, fallback = sims
    for sim in sims:
        sim.set_faults({"kind": "status", "status": 503})
    raw = config(sims, tmp_path / "r.db", data="personal", degraded={"defer": True})
    raw["providers"]["us"]["personal_data"] = True
    keys = ContentKeys.from_environ({"RELEVE_DATA_KEYS": ContentKeys.generate()})
    with GatewayThread(build_app(config_from_mapping(raw), data_keys=keys)) as gateway:
        status, body = post(gateway.url, CHAT, {"Prefer": "respond-async"})
    assert status == 202
    for path in tmp_path.glob("r.db*"):
        assert b"Jeanne Martin" not in path.read_bytes(), path
