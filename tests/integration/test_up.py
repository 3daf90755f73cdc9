"""`releve up` as a real process: serving, graceful shutdown on SIGTERM, several workers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from releve.sim import SimulatorThread

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[SimulatorThread]:
    """A provider that takes 800 ms to answer and streams one chunk every 100 ms."""
    with SimulatorThread("slow") as sim:
        sim.set_faults({"kind": "latency", "ms": 800}, {"kind": "chunk_delay", "ms": 100})
        yield sim


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_up(tmp_path: Path, sim: SimulatorThread, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = {
        "server": {"listen": f"127.0.0.1:{port}", "workers": workers, "shutdown_grace": "10s"},
        "auth": "none",
        "storage": {"url": f"sqlite:///{tmp_path}/releve.db"},
        "providers": {"sim": {"kind": "openai-compatible", "base_url": sim.base_url}},
        "routes": {"chat": {"targets": [{"provider": "sim", "model": "m"}]}},
    }
    path = tmp_path / "releve.yaml"
    path.write_text(yaml.safe_dump(config))
    with (tmp_path / "releve.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "releve.cli", "up", "--config", str(path)],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"releve up did not start: {(tmp_path / 'releve.log').read_text()}")


async def chat(session: aiohttp.ClientSession, url: str, stream: bool = False) -> tuple[int, bytes]:
    async with session.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": stream}) as response:
        return response.status, await response.read()


async def test_sigterm_lets_in_flight_requests_and_streams_finish(tmp_path: Path, slow_sim: SimulatorThread) -> None:
    """Requests and streams accepted before SIGTERM are all answered in full; then the process exits 0."""
    process, url = start_up(tmp_path, slow_sim)
    try:
        async with aiohttp.ClientSession() as session:
            requests = [asyncio.create_task(chat(session, url)) for _ in range(10)]
            streams = [asyncio.create_task(chat(session, url, stream=True)) for _ in range(5)]
            await asyncio.sleep(0.4)
            process.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*requests, *streams)
        assert [status for status, _ in results] == [200] * 15
        assert all(body.rstrip().endswith(b"data: [DONE]") for _, body in results[10:])
        assert process.wait(timeout=15) == 0, (tmp_path / "releve.log").read_text()
    finally:
        process.kill()
        process.wait()


def worker_pids(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and b"spawn_main" in cmdline \
                    and b"resource_tracker" not in cmdline:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


async def test_several_workers_serve_one_port_and_stop_together(tmp_path: Path, slow_sim: SimulatorThread) -> None:
    """With workers: 2, two processes share the port; SIGTERM stops them all."""
    process, url = start_up(tmp_path, slow_sim, workers=2)
    try:
        deadline = time.monotonic() + 20
        while len(worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        workers = worker_pids(process.pid)
        assert len(workers) == 2
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(*(chat(session, url) for _ in range(20)))
        assert [status for status, _ in results] == [200] * 20
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, (tmp_path / "releve.log").read_text()
        assert not [pid for pid in workers if alive(pid)]
    finally:
        process.kill()
        process.wait()
