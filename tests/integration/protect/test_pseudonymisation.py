"""Issue 9, acceptance 1: the primary (may receive personal data) is down, the fallback may receive it only
pseudonymised. The client gets the answer with its own values; the fallback never sees them."""

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
from releve.server import GatewayThread
from releve.sim import SimulatorThread

VALUES = ("jeanne.martin@example.org", "06 12 34 56 78", "FR76 3000 6000 0112 3456 7890 189",
          "1 85 05 78 006 084 91")
PROMPT = (f"Please update the file: e-mail {VALUES[0]}, téléphone {VALUES[1]}, IBAN {VALUES[2]}, "
          f"NIR {VALUES[3]}.")


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("eu-primary") as primary, SimulatorThread("pseudo-fallback") as fallback:
        yield primary, fallback


@pytest.fixture
def gateway(sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path) -> Iterator[GatewayThread]:
    primary, fallback = sims
    for sim in sims:
        sim.clear_faults()
        sim.reset_stats()
    primary.set_faults({"kind": "status", "status": 503})
    raw: dict[str, Any] = {
        "server": {"listen": "127.0.0.1:0", "access_log": False}, "auth": "none",
        "storage": {"url": f"sqlite:///{tmp_path / 'r.db'}"}, "monitor": {"probes": {"request": "none"}},
        "providers": {
            "eu": {"kind": "openai-compatible", "base_url": primary.base_url, "personal_data": True},
            "us": {"kind": "openai-compatible", "base_url": fallback.base_url, "personal_data": "pseudonymized"},
        },
        "routes": {"crm": {"targets": [{"provider": "eu", "model": "m"}, {"provider": "us", "model": "m"}],
                           "retries": 0}},
    }
    with GatewayThread(build_app(config_from_mapping(raw))) as running:
        yield running
    primary.clear_faults()


def ask(url: str, stream: bool) -> bytes:
    async def go() -> bytes:
        async with aiohttp.ClientSession() as session:
            body = {"model": "crm", "stream": stream, "messages": [
                {"role": "system", "content": f"The customer's e-mail is {VALUES[0]}."},
                {"role": "user", "content": PROMPT}]}
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                assert response.status == 200, await response.text()
                return await response.read()
    return asyncio.run(go())


def streamed_text(raw: bytes) -> str:
    events = [orjson.loads(part[6:]) for part in raw.split(b"\n\n") if part.startswith(b"data: {")]
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streaming"])
def test_the_fallback_never_sees_the_values_and_the_client_gets_them_back(
        sims: tuple[SimulatorThread, SimulatorThread], gateway: GatewayThread, stream: bool) -> None:
    _, fallback = sims
    raw = ask(gateway.url, stream)
    answer = streamed_text(raw) if stream else orjson.loads(raw)["choices"][0]["message"]["content"]
    for value in VALUES:
        assert value in answer, (value, answer)
    received = orjson.dumps(fallback.stats()["received"]).decode()
    assert fallback.stats()["by_path"]["/v1/chat/completions"] == 1
    for value in VALUES:
        assert value not in received, value
    assert "<EMAIL_1>" in received and "<IBAN_1>" in received and "<NIR_1>" in received
