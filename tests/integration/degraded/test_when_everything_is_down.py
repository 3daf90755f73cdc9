"""Issue 8, acceptance 1 and 5: every target down, or too little capacity, and the client still gets a clear answer.

Real simulators, a real gateway; "down" is the simulators answering 503 to everything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread

CHAT = {"model": "assistant", "messages": [{"role": "user", "content": "What are your opening hours?"}]}


def config(sims: tuple[SimulatorThread, SimulatorThread], db: Path, **route: Any) -> dict[str, Any]:
    primary, fallback = sims
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"app": {"key": "app-key"}, "vip": {"key": "vip-key", "priority": "high"},
                    "batch": {"key": "batch-key", "priority": "low"}},
        "storage": {"url": f"sqlite:///{db}"},
        "monitor": {"probes": {"request": "none"}},
        "breaker": {"consecutive_failures": 1000, "min_requests": 1000},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": primary.base_url},
                      "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url}},
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p"},
                                             {"provider": "fallback", "model": "f"}],
                                 "attempt_timeout": "2s", "retries": 0, **route}},
    }


@pytest.fixture
def down_gateway(sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> Iterator[GatewayThread]:
    raw = config(sims, tmp_path / "releve.db",
                 cache={"mode": "on_error", "ttl": "1h"},
                 degraded={"message": {"fr": "Le support automatique est indisponible ; un conseiller vous répondra.",
                                       "en": "Automated support is unavailable; an agent will answer you."}})
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        yield gateway


def post(gateway: GatewayThread, body: dict[str, Any], headers: dict[str, str] | None = None,
         key: str = "app-key") -> tuple[int, dict[str, str], bytes]:
    async def go() -> tuple[int, dict[str, str], bytes]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{gateway.url}/v1/chat/completions", json=body,
                                    headers={"Authorization": f"Bearer {key}", **(headers or {})}) as response:
                return response.status, dict(response.headers), await response.read()
    return asyncio.run(go())


def everything_down(sims: tuple[SimulatorThread, SimulatorThread]) -> None:
    for sim in sims:
        sim.set_faults({"kind": "status", "status": 503})


def test_a_request_seen_before_is_answered_from_the_cache_plainly_and_streaming(
        sims: tuple[SimulatorThread, SimulatorThread], down_gateway: GatewayThread) -> None:
    status, _, fresh = post(down_gateway, CHAT)
    assert status == 200
    everything_down(sims)
    status, headers, cached = post(down_gateway, CHAT)
    assert status == 200 and headers["x-releve-degraded"] == "cache"
    assert cached == fresh
    metrics = asyncio.run(_get(f"{down_gateway.url}/metrics"))
    assert 'releve_cache_lookups_total{result="hit",route="assistant"} 1.0' in metrics
    assert 'releve_cache_stores_total{route="assistant"} 1.0' in metrics
    status, headers, streamed = post(down_gateway, {**CHAT, "stream": True})
    assert status == 200 and headers["x-releve-degraded"] == "cache"
    assert {k.lower(): v for k, v in headers.items()}["content-type"].startswith("text/event-stream"), headers
    events = [orjson.loads(line[6:]) for line in streamed.split(b"\n\n") if line.startswith(b"data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == orjson.loads(fresh)["choices"][0]["message"]["content"]
    assert streamed.endswith(b"data: [DONE]\n\n")


def test_a_new_request_gets_the_routes_message_in_french_with_retry_after(
        sims: tuple[SimulatorThread, SimulatorThread], down_gateway: GatewayThread) -> None:
    everything_down(sims)
    new = {**CHAT, "messages": [{"role": "user", "content": "Never asked before"}]}
    status, headers, body = post(down_gateway, new, {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert status == 503 and int(headers["Retry-After"]) >= 1
    error = orjson.loads(body)["error"]
    assert error["message"].startswith("Le support automatique est indisponible ; un conseiller vous répondra.")
    assert error["code"] == "no_target_available"
    status, _, body = post(down_gateway, new, {"Accept-Language": "en-GB"})
    assert status == 503 and orjson.loads(body)["error"]["message"].startswith("Automated support is unavailable")


def test_a_static_answer_is_a_normal_completion_marked_degraded(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    raw = config(sims, tmp_path / "releve.db", degraded={"static_answer": True, "message": "Service paused."})
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        everything_down(sims)
        status, headers, body = post(gateway, CHAT)
        metrics = asyncio.run(_get(f"{gateway.url}/metrics"))
    assert status == 200 and headers["x-releve-degraded"] == "static"
    assert orjson.loads(body)["choices"][0]["message"]["content"] == "Service paused."
    assert 'outcome="degraded"' in metrics


async def _get(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


def test_a_small_fallback_sheds_load_by_priority_and_refuses_fast(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    """Acceptance 5: max_concurrency 4 under 50 concurrent requests."""
    primary, fallback = sims
    raw = config(sims, tmp_path / "releve.db")
    raw["providers"]["fallback"].update(max_concurrency=4, queue_timeout="1s")
    primary.set_faults({"kind": "status", "status": 503})
    fallback.set_faults({"kind": "latency", "ms": 150})

    async def one(session: aiohttp.ClientSession, url: str, key: str) -> tuple[str, int, float, str | None]:
        started = time.perf_counter()
        async with session.post(f"{url}/v1/chat/completions", json=CHAT,
                                headers={"Authorization": f"Bearer {key}"}) as response:
            await response.read()
            return key, response.status, time.perf_counter() - started, response.headers.get("Retry-After")

    async def burst(url: str) -> list[tuple[str, int, float, str | None]]:
        keys = ["vip-key"] * 6 + ["batch-key"] * 44
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
            return await asyncio.gather(*(one(session, url, key) for key in keys))

    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        results = asyncio.run(burst(gateway.url))
    high = [r for r in results if r[0] == "vip-key"]
    refused = [r for r in results if r[1] == 503]
    assert all(status == 200 for _, status, _, _ in high), high
    assert refused, "50 requests on 4 slots of 150 ms cannot all be served within a 1 s wait"
    assert all(seconds < 1.1 + 0.3 and retry_after for _, _, seconds, retry_after in refused)
    assert {status for _, status, _, _ in results} <= {200, 503}  # none timed out
    assert fallback.stats()["by_path"]["/v1/chat/completions"] == len(results) - len(refused)
