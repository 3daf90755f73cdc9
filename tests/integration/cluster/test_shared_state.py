"""Shared state through a real Redis: breakers opened on one replica are respected by the others.

Each replica here is a `SharedState` with its own routes and breakers, as in separate processes;
they meet only through Redis (the machine's, under a key prefix of the test's own, removed after;
or a `redis-server` the test starts and stops itself).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from releve.clock import MONOTONIC
from releve.cluster import SharedState
from releve.config import config_from_mapping
from releve.gateway import BreakerState, FaultTable, RoutePlan, TargetHealth, build_routes, parse_fault
from releve.gateway.providers import http_transports
from support.cluster import RedisServer

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
PRIMARY = "primary/p-model"


def _config(url: str, prefix: str, open_for: str = "30s", **primary: Any) -> Any:
    return config_from_mapping({
        "auth": "none",
        "shared_state": {"url": url, "prefix": prefix, "heartbeat": "200ms"},
        "breaker": {"consecutive_failures": 3, "open_for": open_for},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9", **primary},
                      "fallback": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9"}},
        "routes": {"chat": {"targets": [{"provider": "primary", "model": "p-model"},
                                        {"provider": "fallback", "model": "f-model"}]}},
    })


class Replica:
    """Routes and breakers as one `releve up` builds them, linked to the others through `SharedState`."""

    def __init__(self, url: str, prefix: str, name: str, open_for: str = "30s", **primary: Any) -> None:
        config = _config(url, prefix, open_for, **primary)
        self.heard: list[tuple[str, BreakerState, bool]] = []
        self.state: SharedState | None = None

        def changed(health: TargetHealth, old: BreakerState, new: BreakerState, shared: bool) -> None:
            self.heard.append((health.key, new, shared))
            if self.state is not None:
                self.state.on_breaker_change(health, old, new, shared)

        self.routes: dict[str, RoutePlan] = build_routes(config, http_transports(config.providers),
                                                         _monotonic(), changed)
        self.faults = FaultTable(clock=MONOTONIC, wall=lambda: datetime.now(UTC))
        self.state = SharedState(config.shared_state, self.routes, replica=name, faults=self.faults)

    def fault_ids(self) -> list[str]:
        return [fault.id for fault, _ in self.faults.faults()]

    def health(self, label: str = PRIMARY) -> TargetHealth:
        return next(t.health for t in self.routes["chat"].targets if t.label == label)

    def trip(self) -> None:
        for _ in range(3):
            self.health().breaker.record_failure()


def _monotonic() -> Any:
    from releve.clock import MONOTONIC

    return MONOTONIC


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the machine's Redis; its keys are deleted after."""
    name = f"releve-test-{secrets.token_hex(4)}:"
    yield name
    client = aioredis.from_url(MACHINE_REDIS)
    keys = [key async for key in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _started(*replicas: Replica) -> None:
    for replica in replicas:
        assert replica.state is not None
        await replica.state.start()
    await _until(lambda: all(r.state is not None and r.state.up for r in replicas), 5, "connecting to Redis")


async def _closed(*replicas: Replica) -> None:
    for replica in replicas:
        assert replica.state is not None
        await replica.state.close()


async def test_a_breaker_opened_on_one_replica_is_open_on_the_others_within_a_second(prefix: str) -> None:
    a, b, c = (Replica(MACHINE_REDIS, prefix, name) for name in ("a", "b", "c"))
    await _started(a, b, c)
    try:
        a.trip()
        assert a.health().breaker.state is BreakerState.OPEN
        took = await _until(lambda: all(r.health().breaker.state is BreakerState.OPEN for r in (b, c)), 1.0,
                            "the other replicas opening their breaker")
        assert took < 1.0
        # They cool down with a, not 30 s after they heard: the remaining time travelled with the news.
        assert abs(b.health().breaker.open_remaining() - a.health().breaker.open_remaining()) < 0.5
        assert (PRIMARY, BreakerState.OPEN, True) in b.heard  # adopted, so not announced again
        assert b.state is not None and b.state.sent == 0
        assert b.health("fallback/f-model").breaker.state is BreakerState.CLOSED

    finally:
        await _closed(a, b, c)


async def test_a_trial_that_succeeds_on_one_replica_closes_the_others(prefix: str) -> None:
    a, b = (Replica(MACHINE_REDIS, prefix, name, open_for="500ms") for name in ("a", "b"))
    await _started(a, b)
    try:
        a.trip()
        await _until(lambda: b.health().breaker.state is BreakerState.OPEN, 1.0, "b opening its breaker")
        await asyncio.sleep(0.55)
        assert a.health().breaker.allow()  # a's trial request
        a.health().breaker.record_success()
        await _until(lambda: b.health().breaker.state is BreakerState.CLOSED, 1.0, "b closing its breaker")
        assert (PRIMARY, BreakerState.CLOSED, True) in b.heard
    finally:
        await _closed(a, b)


async def test_a_replica_that_starts_later_learns_the_open_breakers(prefix: str) -> None:
    a = Replica(MACHINE_REDIS, prefix, "a")
    await _started(a)
    try:
        a.trip()
        await _until(lambda: a.state is not None and a.state.sent == 1, 1.0, "announcing the breaker")
        late = Replica(MACHINE_REDIS, prefix, "late")
        await _started(late)
        try:
            assert late.health().breaker.state is BreakerState.OPEN
            assert late.health().breaker.open_remaining() > 25
        finally:
            await _closed(late)
    finally:
        await _closed(a)


async def test_max_concurrency_is_split_between_live_replicas(prefix: str) -> None:
    a = Replica(MACHINE_REDIS, prefix, "a", max_concurrency=10)
    b = Replica(MACHINE_REDIS, prefix, "b", max_concurrency=10)
    limiter = a.routes["chat"].targets[0].limiter
    assert limiter is not None and limiter.limit == 10
    await _started(a, b)
    try:
        await _until(lambda: limiter.limit == 5, 2.0, "splitting max_concurrency in two")
        assert a.state is not None and a.state.describe() == {"shared_state": "ok", "replicas": 2}
    finally:
        await _closed(b)
    await _until(lambda: limiter.limit == 10, 3.0, "taking the whole limit back once b is gone")
    await _closed(a)


async def test_redis_going_away_leaves_local_state_and_its_return_converges(tmp_path: Path) -> None:
    """The test's own Redis is stopped: each replica goes on alone (degraded); restarted, they converge."""
    with RedisServer(tmp_path) as redis:
        a, b = (Replica(redis.url, redis.prefix, name) for name in ("a", "b"))
        await _started(a, b)
        try:
            redis.stop()
            await _until(lambda: not any(r.state is not None and r.state.up for r in (a, b)), 5,
                         "noticing Redis is gone")
            assert b.state is not None and b.state.describe()["shared_state"] == "degraded"
            a.trip()  # while Redis is away: only a knows
            await asyncio.sleep(0.3)
            assert b.health().breaker.state is BreakerState.CLOSED
            redis.start()
            took = await _until(lambda: b.health().breaker.state is BreakerState.OPEN, 5,
                                "b learning a's breaker after Redis came back")
            assert b.state.describe()["shared_state"] == "ok"
            print(f"converged {took:.2f} s after Redis answered again")
        finally:
            await _closed(a, b)


DRILL_FAULT = {"target": PRIMARY, "kind": "error", "status": 503, "ttl": "60s", "drill_only": True, "drill": "gd-1"}


async def test_a_fault_injected_through_one_replica_reaches_the_others_and_so_does_its_removal(prefix: str) -> None:
    a, b, c = (Replica(MACHINE_REDIS, prefix, name) for name in ("a", "b", "c"))
    await _started(a, b, c)
    try:
        fault = a.faults.add(parse_fault(DRILL_FAULT))
        took = await _until(lambda: b.fault_ids() == c.fault_ids() == [fault.id], 1.0, "b and c adopting the fault")
        adopted = b.faults.faults()[0][0]
        assert adopted.spec == fault.spec and b.faults.armed
        assert abs((adopted.expires_at - fault.expires_at).total_seconds()) < 0.5  # ends with a's, not 60 s later
        late = Replica(MACHINE_REDIS, prefix, "late")
        await _started(late)
        assert late.fault_ids() == [fault.id], "a replica started later learns the live faults"

        assert b.faults.remove(fault.id) is not None  # any replica may end it, even one that adopted it
        await _until(lambda: not (a.faults.armed or c.faults.armed or late.faults.armed), 1.0,
                     "the others dropping the fault")
        await _closed(late)
        print(f"fault adopted by the others {took:.3f} s after it was injected")
    finally:
        await _closed(a, b, c)


async def test_faults_changed_while_redis_is_away_are_shared_when_it_returns(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as redis:
        a, b = (Replica(redis.url, redis.prefix, name) for name in ("a", "b"))
        await _started(a, b)
        try:
            ended = a.faults.add(parse_fault({**DRILL_FAULT, "drill": "gd-ended"}))
            await _until(lambda: b.fault_ids() == [ended.id], 1.0, "b adopting the first fault")
            redis.stop()
            await _until(lambda: not any(r.state is not None and r.state.up for r in (a, b)), 5, "Redis gone")
            a.faults.remove(ended.id)
            injected = a.faults.add(parse_fault({**DRILL_FAULT, "drill": "gd-new"}))
            await asyncio.sleep(0.3)
            assert b.fault_ids() == [ended.id]  # b cannot know yet
            redis.start()
            await _until(lambda: b.fault_ids() == [injected.id], 5, "b learning both changes after Redis returned")
        finally:
            await _closed(a, b)


async def test_a_fault_removed_by_another_replica_stays_removed_when_redis_comes_back(tmp_path: Path) -> None:
    """Redis restarted empty (no tombstone left): the replica that injected it must not bring it back."""
    with RedisServer(tmp_path) as redis:
        a, b = (Replica(redis.url, redis.prefix, name) for name in ("a", "b"))
        await _started(a, b)
        try:
            fault = a.faults.add(parse_fault(DRILL_FAULT))
            await _until(lambda: b.fault_ids() == [fault.id], 1.0, "b adopting the fault")
            b.faults.remove(fault.id)
            await _until(lambda: not a.faults.armed, 1.0, "a dropping the fault b removed")
        finally:
            await _closed(b)
        try:
            redis.stop()
            await _until(lambda: a.state is not None and not a.state.up, 5, "a noticing Redis is gone")
            redis.start()
            await _until(lambda: a.state is not None and a.state.up, 5, "a back on Redis")
            late = Replica(redis.url, redis.prefix, "late")
            await _started(late)
            await asyncio.sleep(0.3)  # time for a wrong re-announcement to travel
            assert a.fault_ids() == late.fault_ids() == []
            await _closed(late)
        finally:
            await _closed(a)


async def test_malformed_messages_are_ignored_and_sharing_goes_on(prefix: str) -> None:
    a, b = (Replica(MACHINE_REDIS, prefix, name) for name in ("a", "b"))
    await _started(a, b)
    client = aioredis.from_url(MACHINE_REDIS)
    try:
        for junk in (b"not json", b'{"r": "x", "f": "add", "id": "flt_1", "spec": [], "created_at": "", "rem": 1}',
                     b'{"r": "x", "t": "primary/p-model", "s": "open", "rem": 1e300}',
                     b'{"r": "x", "f": "add", "id": "flt_2", "created_at": "2026-11-27T10:00:00+00:00", "rem": 1e9, '
                     b'"spec": {"target": "primary/p-model", "kind": "error", "ttl": 30}}'):
            await client.publish(f"{prefix}events", junk)
        await _until(lambda: b.fault_ids() == ["flt_2"], 1.0, "b taking the one well-formed fault")
        expires_in = b.faults.faults()[0][0].expires - b.faults.now
        assert expires_in <= 30, "a message cannot stretch a fault past its own TTL"
        assert b.health().breaker.state is BreakerState.CLOSED
        a.trip()
        await _until(lambda: b.health().breaker.state is BreakerState.OPEN, 1.0, "b still adopting a's breaker")
        assert b.state is not None and b.state.up
    finally:
        await client.aclose()
        await _closed(a, b)
