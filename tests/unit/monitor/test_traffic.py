"""Traffic for cost reports: each process's request counts, per route and minute, kept through a store outage."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from releve.clock import VirtualClock
from releve.errors import StoreError
from releve.gateway import EventBus, GatewayMetrics
from releve.monitor import TrafficRecorder
from releve.store import Store, TrafficMinute
from unit.monitor._support import Outage

NOW = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
MINUTE = NOW.replace(second=0)
MIN = timedelta(minutes=1)


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class GatedClock(VirtualClock):
    """Each `sleep` waits until the test lets it go: the recorder's loop moves one flush at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleeping.put_nowait(gate)
        await gate
        self.advance(seconds)


def serve(metrics: GatewayMetrics, route: str, outcome: str, count: int, target: str = "a/m") -> None:
    for _ in range(count):
        metrics.observe_request(route, target, outcome, 0.01)


def rows(store: Store, routes: Sequence[str] = ("chat",), minutes: int = 10) -> list[TrafficMinute]:
    return store.traffic(list(routes), MINUTE - minutes * MIN, MINUTE + minutes * MIN)


async def test_each_outcome_lands_in_its_own_count(store: Store) -> None:
    """Deferred requests (202 and a job) are counted apart; a hit in an `always` cache was served."""
    metrics = GatewayMetrics(EventBus())
    recorder = TrafficRecorder(metrics, store, wall=lambda: NOW)
    for target, outcome, count in [("a/m", "served", 5), ("cache", "cached", 3), ("a/m", "fallback", 2),
                                   ("cache", "degraded", 4), ("job", "deferred", 7), ("", "failed", 1)]:
        serve(metrics, "chat", outcome, count, target)
    await recorder.flush()
    # Only what came since the last sample is added again.
    serve(metrics, "chat", "deferred", 1, "job")
    await recorder.flush()
    await recorder.close()   # a last flush with nothing new adds nothing
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=8, fallback=2, degraded=4, deferred=8, failed=1)]


async def test_traffic_counted_during_an_outage_is_written_once_when_the_store_returns(
        store: Store, outage: Outage, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "releve.monitor")
    outage.patch("add_traffic")
    metrics, wall = GatewayMetrics(EventBus()), Wall()
    recorder = TrafficRecorder(metrics, store, wall=wall)
    outage.down = True
    counted = 0
    for minute in range(3):
        wall.now = NOW + minute * MIN
        for _ in range(2):   # two flushes a minute: their counts merge into one spooled row
            serve(metrics, "chat", "served", 4)
            serve(metrics, "search", "failed", 1)
            counted += 5
            await recorder.flush()
    assert recorder.spooled == 6 and outage.calls["add_traffic"] == 6
    assert rows(store, ["chat", "search"]) == []
    outage.down = False
    wall.now = NOW + 3 * MIN
    await recorder.flush()
    await recorder.flush()
    await recorder.close()
    written = rows(store, ["chat", "search"])
    assert sum(row.served + row.failed for row in written) == counted == 30
    assert written == [TrafficMinute(route, MINUTE + n * MIN, **({"served": 8} if route == "chat" else {"failed": 2}))
                       for n in range(3) for route in ("chat", "search")]
    assert recorder.spooled == 0 and recorder.dropped_minutes == 0
    said = [r.getMessage() for r in caplog.records]
    assert sum("cannot be written" in message for message in said) == 1, "the outage is logged once"
    assert sum("written 6 traffic minutes kept during the outage" in message for message in said) == 1


async def test_a_full_spool_drops_the_oldest_minutes_and_counts_them(
        store: Store, outage: Outage, caplog: pytest.LogCaptureFixture) -> None:
    outage.patch("add_traffic")
    metrics, wall = GatewayMetrics(EventBus()), Wall()
    recorder = TrafficRecorder(metrics, store, wall=wall, spool_minutes=2)
    outage.down = True
    for minute in range(5):
        wall.now = NOW + minute * MIN
        serve(metrics, "chat", "served", minute + 1)
        serve(metrics, "search", "served", 10)
        await recorder.flush()
    assert recorder.dropped_minutes == 3
    assert recorder.spooled == 4   # two minutes, two routes each
    assert sum("spool full" in r.getMessage() for r in caplog.records) == 1
    outage.down = False
    await recorder.flush()
    assert rows(store) == [TrafficMinute("chat", MINUTE + 3 * MIN, served=4),
                           TrafficMinute("chat", MINUTE + 4 * MIN, served=5)]
    assert "(3 older minutes were dropped)" in caplog.records[-1].getMessage()
    with pytest.raises(ValueError, match="spool_minutes"):
        TrafficRecorder(metrics, store, wall=wall, spool_minutes=0)


async def test_a_long_outage_is_written_in_several_transactions(store: Store, outage: Outage,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk that fails stays spooled; chunks already written are not written again."""
    monkeypatch.setattr("releve.monitor._traffic._CHUNK", 2)
    outage.patch("add_traffic")
    metrics, wall = GatewayMetrics(EventBus()), Wall()
    recorder = TrafficRecorder(metrics, store, wall=wall)
    outage.down = True
    for minute in range(5):
        wall.now = NOW + minute * MIN
        serve(metrics, "chat", "served", 1)
        await recorder.flush()
    outage.down = False
    writes: list[int] = []
    add_traffic = store.add_traffic

    def second_chunk_fails(samples: list[TrafficMinute]) -> None:
        writes.append(len(samples))
        if len(writes) == 2:
            raise StoreError("connection lost")
        add_traffic(samples)

    monkeypatch.setattr(store, "add_traffic", second_chunk_fails)
    await recorder.flush()
    assert writes == [2, 2] and recorder.spooled == 3
    await recorder.flush()
    assert writes == [2, 2, 2, 1] and recorder.spooled == 0
    assert [row.served for row in rows(store)] == [1] * 5


async def test_replicas_add_their_own_counts(store: Store) -> None:
    """Each process records what it served; the store adds them up, so reports count every replica."""
    first, second = GatewayMetrics(EventBus()), GatewayMetrics(EventBus())
    serve(first, "chat", "served", 3)
    serve(second, "chat", "served", 4)
    serve(second, "chat", "fallback", 1)
    for metrics in (first, second):
        await TrafficRecorder(metrics, store, wall=lambda: NOW).close()
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=7, fallback=1)]


async def test_the_loop_flushes_every_interval_and_close_flushes_the_rest(store: Store) -> None:
    clock, metrics = GatedClock(), GatewayMetrics(EventBus())
    recorder = TrafficRecorder(metrics, store, wall=lambda: NOW, every=10.0, clock=clock)
    recorder.start()
    recorder.start()   # already running: no second loop
    gate = await clock.sleeping.get()
    serve(metrics, "chat", "served", 2)
    gate.set_result(None)
    await clock.sleeping.get()   # flushed, sleeping again
    assert clock.sleeping.empty()
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=2)]
    serve(metrics, "chat", "served", 1)
    await recorder.close()   # cancels the sleep, then a last flush
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=3)]
    # Started again: counts go on from where they were, nothing counted twice.
    recorder.start()
    await clock.sleeping.get()
    serve(metrics, "chat", "failed", 1)
    await recorder.close()
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=3, failed=1)]


async def test_close_lets_a_write_in_progress_finish_rather_than_write_it_twice(store: Store,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clock, metrics = GatedClock(), GatewayMetrics(EventBus())
    recorder = TrafficRecorder(metrics, store, wall=lambda: NOW, clock=clock)
    entered, release = threading.Event(), threading.Event()
    add_traffic = store.add_traffic

    def slow(samples: Any) -> None:
        entered.set()
        release.wait(10)
        add_traffic(samples)

    monkeypatch.setattr(store, "add_traffic", slow)
    recorder.start()
    serve(metrics, "chat", "served", 5)
    (await clock.sleeping.get()).set_result(None)
    await asyncio.to_thread(entered.wait, 10)
    closing = asyncio.create_task(recorder.close())
    await asyncio.sleep(0)
    assert not closing.done(), "close waits for the write"
    release.set()
    await closing
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=5)]


async def test_a_last_flush_that_fails_is_logged_and_kept(store: Store, outage: Outage,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    outage.patch("add_traffic")
    metrics = GatewayMetrics(EventBus())
    recorder = TrafficRecorder(metrics, store, wall=lambda: NOW)
    serve(metrics, "chat", "served", 2)
    outage.down = True
    await recorder.close()
    assert recorder.spooled == 1
    assert any(r.levelno == logging.ERROR and "could not be written before stopping" in r.getMessage()
               for r in caplog.records)
    outage.down = False
    await recorder.close()
    assert rows(store) == [TrafficMinute("chat", MINUTE, served=2)]
