"""Probes and status feeds stop with `close()` and start again: the lead role may come back to a process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from aiohttp import web

from releve.clock import VirtualClock
from releve.config import ProbeConfig, ProbeRequest
from releve.monitor import FeedPoller, Prober, plan_probes
from releve.store import ComponentStatus
from support.scripted import ScriptedTransport


def running(prefix: str) -> int:
    return sum(task.get_name().startswith(prefix) and not task.done() for task in asyncio.all_tasks())


async def test_a_prober_probes_again_after_close_and_start() -> None:
    results: asyncio.Queue[tuple[Sequence[str], bool]] = asyncio.Queue()
    config = ProbeConfig(every=0.01, request=ProbeRequest.MODELS, timeout=1.0)
    plans = plan_probes([("a", "m", "a/m")], {"a": config})
    prober = Prober(plans, {"a": ScriptedTransport("a", [200])}, VirtualClock(),
                    lambda labels, ok, detail, at: results.put_nowait((labels, ok)))
    for _ in range(2):
        prober.start()
        prober.start()   # already running: not a second loop per plan
        assert running("releve-probe-") == 1
        assert await asyncio.wait_for(results.get(), 5.0) == (("a/m",), True)
        await prober.close()
        assert running("releve-probe-") == 0
        while not results.empty():
            results.get_nowait()


@pytest.fixture
async def feed_url() -> AsyncIterator[str]:
    async def summary(request: web.Request) -> web.Response:
        return web.json_response({"status": {"indicator": "major"}})

    app = web.Application()
    app.router.add_get("/api/v2/summary.json", summary)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/v2/summary.json"
    await runner.cleanup()


async def test_a_feed_poller_reads_again_after_close_and_start(feed_url: str) -> None:
    poller = FeedPoller({"a": feed_url}, every=3600.0)
    try:
        for _ in range(2):
            poller.start()
            poller.start()   # already running: one loop, one session
            assert running("releve-status-feeds") == 1
            assert poller.latest == {"a": None}, "nothing read yet: nothing stale from before the close"
            await poller.poll()
            assert poller.latest == {"a": ComponentStatus.PARTIAL_OUTAGE}
            await poller.close()
            assert running("releve-status-feeds") == 0
    finally:
        await poller.close()
