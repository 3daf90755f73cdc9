"""Issue 8, acceptance 1 (202 and Location), 2 (jobs survive SIGKILL) and 4 (Idempotency-Key), end to end."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from integration.degraded._support import AUTH, KEY, chat
from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.webhooks import SECRET, webhook_receiver


def gateway_config(sims: tuple[SimulatorThread, SimulatorThread], db: Path, listen: str = "127.0.0.1:0",
                   **degraded: Any) -> dict[str, Any]:
    primary, fallback = sims
    return {
        "server": {"listen": listen, "access_log": False},
        "clients": {"app": {"key": KEY}},
        "storage": {"url": f"sqlite:///{db}"},
        "monitor": {"probes": {"request": "none"}},
        "jobs": {"callback_secret": SECRET},
        "breaker": {"consecutive_failures": 1000, "min_requests": 1000},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": primary.base_url},
                      "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url}},
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p"},
                                             {"provider": "fallback", "model": "f"}],
                                 "attempt_timeout": "2s", "retries": 0,
                                 "degraded": {"defer": True, "defer_max_age": "1h", **degraded}}},
    }


def down(sims: tuple[SimulatorThread, SimulatorThread]) -> None:
    for sim in sims:
        sim.set_faults({"kind": "status", "status": 503})


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    async with session.post(f"{url}/v1/chat/completions", json=body, headers={**AUTH, **(headers or {})}) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def get_job(session: aiohttp.ClientSession, url: str, location: str) -> dict[str, Any]:
    async with session.get(f"{url}{location}", headers=AUTH) as response:
        assert response.status == 200, await response.text()
        job: dict[str, Any] = orjson.loads(await response.read())
        return job


async def wait_done(session: aiohttp.ClientSession, url: str, location: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await get_job(session, url, location)
        if job["status"] in ("succeeded", "failed", "expired"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {location} still {job['status']} after {timeout}s")


def test_a_client_that_accepts_a_late_answer_gets_202_and_later_the_answer(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> None:
    raw = gateway_config(sims, tmp_path / "releve.db")
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        async def scenario() -> tuple[int, dict[str, str], dict[str, Any], dict[str, Any]]:
            async with aiohttp.ClientSession() as session:
                down(sims)
                status, headers, body = await post(session, gateway.url, chat("later please"),
                                                   {"Prefer": "respond-async"})
                queued = await get_job(session, gateway.url, headers["location"])
                for sim in sims:
                    sim.clear_faults()
                done = await wait_done(session, gateway.url, headers["location"])
                return status, headers, orjson.loads(body), {"queued": queued, "done": done}

        status, headers, accepted, seen = asyncio.run(scenario())
    assert status == 202 and headers["location"] == f"/v1/jobs/{accepted['id']}"
    assert headers["x-releve-degraded"] == "deferred"
    assert set(accepted) >= {"id", "status", "created_at"} and accepted["status"] == "queued"
    assert seen["queued"]["status"] in ("queued", "running")
    done = seen["done"]
    assert done["status"] == "succeeded"
    assert done["response"]["object"] == "chat.completion"
    assert done["response"]["choices"][0]["message"]["content"]


def test_the_same_idempotency_key_gets_one_upstream_call(sims: tuple[SimulatorThread, SimulatorThread],
                                                        tmp_path: Path) -> None:
    primary, _ = sims
    primary.set_faults({"kind": "latency", "ms": 300})
    raw = gateway_config(sims, tmp_path / "releve.db")
    with GatewayThread(build_app(config_from_mapping(raw))) as gateway:
        async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
            async with aiohttp.ClientSession() as session:
                first = await post(session, gateway.url, chat("once"), {"Idempotency-Key": "k-1"})
                again = await post(session, gateway.url, chat("once"), {"Idempotency-Key": "k-1"})
                other = await post(session, gateway.url, chat("different"), {"Idempotency-Key": "k-1"})
                concurrent = await asyncio.gather(*(post(session, gateway.url, chat("together"),
                                                         {"Idempotency-Key": "k-2"}) for _ in range(5)))
                return [first, again, other, *concurrent]

        results = asyncio.run(scenario())
    first, again, other, *concurrent = results
    assert first[0] == again[0] == 200 and first[2] == again[2]
    assert again[1].get("idempotent-replayed") == "true"
    assert other[0] == 422 and orjson.loads(other[2])["error"]["code"] == "idempotency_key_reused"
    assert {status for status, _, _ in concurrent} == {200} and len({body for _, _, body in concurrent}) == 1
    assert primary.stats()["by_path"]["/v1/chat/completions"] == 2  # "once" and "together", one call each


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(config_path: Path, log: Path, port: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "releve.cli", "up", "--config", str(config_path)],
                                   stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"releve up did not start: {log.read_text()}")


def test_twenty_accepted_jobs_survive_sigkill_and_each_runs_once(sims: tuple[SimulatorThread, SimulatorThread],
                                                                 tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with webhook_receiver() as callbacks:
        raw = gateway_config(sims, tmp_path / "releve.db", listen=f"127.0.0.1:{port}")
        config_path = tmp_path / "releve.yaml"
        config_path.write_text(yaml.safe_dump(raw))
        down(sims)
        process = _start(config_path, tmp_path / "releve.log", port)
        try:
            async def accept() -> list[str]:
                async with aiohttp.ClientSession() as session:
                    answers = await asyncio.gather(*(
                        post(session, url, chat(f"job number {n}"),
                             {"Prefer": "respond-async", "x-releve-callback": callbacks.url}) for n in range(20)))
                assert [status for status, _, _ in answers] == [202] * 20, answers
                return [headers["location"] for _, headers, _ in answers]

            locations = asyncio.run(accept())
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
            process = _start(config_path, tmp_path / "releve.log", port)
            for sim in sims:
                sim.clear_faults()

            async def collect() -> list[dict[str, Any]]:
                async with aiohttp.ClientSession() as session:
                    return [await wait_done(session, url, location, timeout=30) for location in locations]

            jobs = asyncio.run(collect())
            deliveries = callbacks.wait_for("job.succeeded", count=20, timeout=20)
        finally:
            process.kill()
            process.wait(timeout=10)
    assert [job["status"] for job in jobs] == ["succeeded"] * 20
    executed = sum(sim.stats()["executions"] for sim in sims)  # a replayed answer is not an execution
    assert executed == 20, "each accepted job ran exactly once at a provider"
    assert len(deliveries) == 20 and all(d.signed for d in deliveries)
    assert sorted(d.payload["id"] for d in deliveries) == sorted(job["id"] for job in jobs)
