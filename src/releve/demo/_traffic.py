"""Steady client traffic through the gateway, and what the clients saw."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import aiohttp

ROUTE = "support-assistant"


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    recent_targets: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=4000))
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def record(self, target: str | None, seconds: float, error: str | None) -> None:
        now = time.monotonic()
        if error is None and target:
            self.ok += 1
            self.by_target[target] += 1
            self.recent_targets.append((now, target))
            self.latencies.append(seconds)
        else:
            self.failed += 1
            self.failures[error or "unknown"] += 1
            self.recent_targets.append((now, "failed"))

    def rate_last_second(self) -> Counter[str]:
        cutoff = time.monotonic() - 1.0
        return Counter(target for at, target in self.recent_targets if at >= cutoff)

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def one_request(session: aiohttp.ClientSession, url: str, index: int, tally: Tally) -> None:
    stream = index % 5 == 4  # one request in five streams, to show streaming failover too
    body = {"model": ROUTE, "stream": stream,
            "messages": [{"role": "user", "content": f"Where is my order #{1000 + index}?"}]}
    started = time.perf_counter()
    try:
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            payload = await response.read()
            error = None if response.status == 200 else f"HTTP {response.status}"
            if stream and error is None and b"[DONE]" not in payload:
                error = "stream incomplete"
            tally.record(response.headers.get("x-releve-target"), time.perf_counter() - started, error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.record(None, time.perf_counter() - started, type(exc).__name__)


async def run_traffic(url: str, rate: float, duration: float, tally: Tally) -> None:
    """Open-loop traffic at `rate` per second for `duration` seconds, in-flight bounded."""
    interval = 1.0 / rate
    in_flight: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(500)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.monotonic()
        index = 0
        while (next_at := start + index * interval) < start + duration:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await limit.acquire()
            tally.sent += 1
            task = asyncio.create_task(one_request(session, url, index, tally))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            task.add_done_callback(lambda _: limit.release())
            index += 1
        if in_flight:
            await asyncio.wait(in_flight)
