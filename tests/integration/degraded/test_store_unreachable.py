"""Issue 11: with its database out of reach, Relève refuses what it would have to keep (a deferred job, an
Idempotency-Key) with a clear 503, never a 202 for something not kept and never a 500, and takes such
requests again as soon as the database is back, without a restart.

A real gateway on PostgreSQL, reached through a TCP proxy the test cuts; every target down is the
simulators answering 503.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import make_url

from integration.degraded._support import AUTH, KEY, chat
from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.postgres import postgres_database
from support.tcp_proxy import TcpProxy

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def proxied_database() -> Iterator[tuple[TcpProxy, str]]:
    """A fresh PostgreSQL database, and its URL through a proxy the test can cut."""
    with postgres_database() as url:
        target = make_url(url)
        with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
            yield proxy, proxy.url_for(url)


def config(sims: tuple[SimulatorThread, SimulatorThread], storage_url: str) -> dict[str, Any]:
    primary, fallback = sims
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"app": {"key": KEY}},
        "storage": {"url": storage_url},
        "monitor": {"probes": {"request": "none"}},
        "breaker": {"consecutive_failures": 1000, "min_requests": 1000},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": primary.base_url},
                      "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url}},
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p"},
                                             {"provider": "fallback", "model": "f"}],
                                 "attempt_timeout": "2s", "retries": 0,
                                 "degraded": {"defer": True, "defer_max_age": "1h"}}},
    }


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
               headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    async with session.post(f"{url}/v1/chat/completions", json=body, headers={**AUTH, **headers}) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, orjson.loads(await response.read())


def sent_upstream(sims: tuple[SimulatorThread, SimulatorThread], text: str) -> int:
    """How many requests with this text the providers received (failed ones included)."""
    return sum(1 for sim in sims for received in sim.stats()["received"]
               if (received["body"] or {}).get("messages", [{}])[-1].get("content") == text)


def test_a_deferral_or_an_idempotency_key_is_refused_with_a_503_while_the_store_is_cut_then_accepted_again(
        sims: tuple[SimulatorThread, SimulatorThread], proxied_database: tuple[TcpProxy, str]) -> None:
    proxy, storage_url = proxied_database
    for sim in sims:
        sim.reset_stats()
        sim.set_faults({"kind": "status", "status": 503})
    with GatewayThread(build_app(config_from_mapping(config(sims, storage_url)))) as gateway:
        async def scenario() -> dict[str, Any]:
            seen: dict[str, Any] = {}
            async with aiohttp.ClientSession() as session:
                seen["before"] = await post(session, gateway.url, chat("kept before"), ASYNC)
                proxy.cut()
                started = time.monotonic()
                seen["deferral"] = await post(session, gateway.url, chat("not kept"), ASYNC)
                seen["deferral_seconds"] = time.monotonic() - started
                seen["idempotent"] = await post(session, gateway.url, chat("keyed"), {"Idempotency-Key": "k-1"})
                seen["direct"] = await post(session, gateway.url, chat("direct"), {})
                proxy.restore()
                seen["after"] = await post(session, gateway.url, chat("kept after"), ASYNC)
                for sim in sims:
                    sim.clear_faults()
                seen["done"] = [await wait_done(session, gateway.url, seen[name][1]["location"])
                                for name in ("before", "after")]
                seen["keyed_again"] = await post(session, gateway.url, chat("keyed"), {"Idempotency-Key": "k-1"})
                return seen

        seen = asyncio.run(scenario())
        not_kept_upstream = sent_upstream(sims, "not kept")

    status, headers, body = seen["deferral"]
    assert status == 503 and headers["retry-after"] == "5"
    assert body["error"]["code"] == "store_unavailable" and body["error"]["type"] == "server_error"
    assert "cannot store this request for later" in body["error"]["message"]
    assert "nothing was kept" in body["error"]["message"]
    assert seen["deferral_seconds"] < 3.0

    status, headers, body = seen["idempotent"]
    assert status == 503 and headers["retry-after"] == "5" and body["error"]["code"] == "store_unavailable"
    assert "Idempotency-Key" in body["error"]["message"]

    # Without deferral or idempotency the store plays no part: the usual answer when every target is down.
    assert seen["direct"][0] in (502, 503) and seen["direct"][2]["error"]["code"] == "no_target_available"

    assert seen["before"][0] == seen["after"][0] == 202  # the same process took deferrals again
    assert [job["status"] for job in seen["done"]] == ["succeeded", "succeeded"]
    assert seen["keyed_again"][0] == 200 and "idempotent-replayed" not in seen["keyed_again"][1]
    # The refused deferral was tried on the targets while they were down, and never again: no job held it.
    assert not_kept_upstream == 2


async def wait_done(session: aiohttp.ClientSession, url: str, location: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(f"{url}{location}", headers=AUTH) as response:
            job = orjson.loads(await response.read())
        if response.status == 200 and job["status"] in ("succeeded", "failed", "expired"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {location} not done after {timeout} s: {job}")
        await asyncio.sleep(0.1)
