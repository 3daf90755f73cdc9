"""Failover through real sockets: each way a primary can fail, and breakers that stop waiting on it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest

from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.gateway import CLIENT_KEY

HEADERS = {"Authorization": f"Bearer {CLIENT_KEY}"}
CHAT = {"model": "assistant", "messages": [{"role": "user", "content": "hello"}]}

FAULTS: dict[str, dict[str, Any]] = {
    "500": {"kind": "status", "status": 500},
    "503": {"kind": "status", "status": 503},
    "429": {"kind": "rate_limit", "retry_after": 60},
    "garbage": {"kind": "malformed"},
    "hang": {"kind": "hang"},
    "reset": {"kind": "reset_peer"},
}


async def send_sequentially(url: str, count: int, body: dict[str, Any] = CHAT) -> list[tuple[int, str, float]]:
    results = []
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                await response.read()
                results.append((response.status, response.headers.get("x-releve-target", ""),
                                time.perf_counter() - started))
    return results


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_fifty_requests_all_succeed_from_the_fallback(
        fault: dict[str, Any], start_gateway: Any, primary: SimulatorThread,
        fallback: SimulatorThread) -> None:
    """With the primary failing, all 50 sequential requests are answered by the fallback."""
    # Only a hang needs a short attempt timeout to keep the test quick; for the others a loaded CI machine must
    # not turn one slow answer from the fallback into a 504 (CI saw it once at 500 ms).
    attempt_timeout = "1s" if fault["kind"] == "hang" else "3s"
    gateway = start_gateway(attempt_timeout=attempt_timeout, timeout="10s")
    primary.set_faults(fault)
    results = await send_sequentially(gateway.url, 50)
    assert [status for status, _, _ in results] == [200] * 50
    assert {target for _, target, _ in results} == {"fallback/f-model"}
    assert fallback.stats()["requests"] == 50
    # The breaker opened after 3 failures (a 429 rests the target instead): nobody waited on it after that.
    assert primary.stats()["requests"] <= 3
    after_open = [seconds for _, _, seconds in results[3:]]
    assert max(after_open) < 0.25, f"a request waited on the failed primary: {max(after_open):.3f}s"


async def test_refused_connections_fail_over(start_gateway: Any, closed_port: int,
                                             fallback: SimulatorThread) -> None:
    """A primary that refuses connections is skipped, then left alone once its breaker opens."""
    gateway = start_gateway(primary_url=f"http://127.0.0.1:{closed_port}/v1")
    results = await send_sequentially(gateway.url, 50)
    assert [status for status, _, _ in results] == [200] * 50
    assert fallback.stats()["requests"] == 50


async def test_hanging_primary_costs_only_the_first_attempts(gateway: GatewayThread,
                                                             primary: SimulatorThread) -> None:
    """Before the breaker opens, a hang costs one attempt timeout; after it, nothing."""
    primary.set_faults({"kind": "hang"})
    results = await send_sequentially(gateway.url, 10)
    first = [seconds for _, _, seconds in results[:3]]
    rest = [seconds for _, _, seconds in results[3:]]
    assert all(0.45 < s < 1.0 for s in first), first
    assert max(rest) < 0.25, rest


async def test_rate_limited_primary_is_rested_for_its_retry_after(gateway: GatewayThread,
                                                                  primary: SimulatorThread) -> None:
    """A 429 with Retry-After keeps the primary out of rotation: it sees one request."""
    primary.set_faults({"kind": "rate_limit", "retry_after": 60})
    await send_sequentially(gateway.url, 20)
    assert primary.stats()["requests"] == 1


async def test_every_target_failing_is_a_clear_502(gateway: GatewayThread, primary: SimulatorThread,
                                                   fallback: SimulatorThread) -> None:
    """When no target can answer, the client gets OpenAI's error shape, what each did, and Retry-After."""
    primary.set_faults({"kind": "status", "status": 503})
    fallback.set_faults({"kind": "status", "status": 500})
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        async with session.post(f"{gateway.url}/v1/chat/completions", json=CHAT) as response:
            body = orjson.loads(await response.read())
            assert response.status == 502
            assert int(response.headers["Retry-After"]) >= 1
    error = body["error"]
    assert error["code"] == "no_target_available" and error["type"] == "server_error"
    assert "primary/p-model: 503" in error["message"] and "fallback/f-model: 500" in error["message"]


async def test_open_breakers_answer_503_at_once(gateway: GatewayThread, primary: SimulatorThread,
                                                fallback: SimulatorThread) -> None:
    """With both breakers open the gateway answers 503 immediately, with the time until a retry."""
    primary.set_faults({"kind": "status", "status": 503})
    fallback.set_faults({"kind": "status", "status": 503})
    await send_sequentially(gateway.url, 3)
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        async with session.post(f"{gateway.url}/v1/chat/completions", json=CHAT) as response:
            body = orjson.loads(await response.read())
            assert response.status == 503
            assert 55 <= int(response.headers["Retry-After"]) <= 60
    assert time.perf_counter() - started < 0.1
    assert "circuit open" in body["error"]["message"]


async def test_hanging_single_target_times_out_with_504(gateway: GatewayThread, primary: SimulatorThread) -> None:
    """A route with no fallback whose target hangs answers 504 after its attempt timeout."""
    primary.set_faults({"kind": "hang"})
    results = await send_sequentially(gateway.url, 1, {**CHAT, "model": "solo"})
    assert results[0][0] == 504


async def test_metrics_count_requests_failovers_and_breakers(gateway: GatewayThread,
                                                             primary: SimulatorThread) -> None:
    """/metrics shows requests by outcome, failed attempts, failovers and the open breaker."""
    primary.set_faults({"kind": "status", "status": 503})
    await send_sequentially(gateway.url, 5)
    async with aiohttp.ClientSession() as session:
        for _ in range(50):  # events reach the metrics off the request path
            async with session.get(f"{gateway.url}/metrics") as response:
                text = await response.text()
            if 'releve_breaker_state{target="primary/p-model"} 2.0' in text:
                break
            await asyncio.sleep(0.01)
    assert 'releve_requests_total{outcome="fallback",route="assistant",target="fallback/f-model"} 5.0' in text
    assert 'releve_attempt_failures_total{kind="http_503",route="assistant",target="primary/p-model"} 3.0' in text
    assert 'releve_failovers_total{route="assistant",target="fallback/f-model"} 5.0' in text
    assert 'releve_breaker_state{target="primary/p-model"} 2.0' in text
    assert "releve_request_duration_seconds_bucket" in text


async def test_healthz_reports_breakers(gateway: GatewayThread) -> None:
    """/healthz answers without a key and lists each target's breaker."""
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/healthz") as response:
        body = orjson.loads(await response.read())
    assert body["status"] == "ok"
    assert body["targets"]["primary/p-model"]["breaker"] == "closed"
