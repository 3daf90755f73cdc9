"""Shared state between replicas, in Redis, never on the request path.

Each replica keeps its own breakers (the request path reads only those: no network round trip).
What they learn travels beside it:

- a breaker that opens here is published on `<prefix>events` (pub/sub) and kept under
  `<prefix>breaker:<target>` until it would cool down, so replicas that start or reconnect later
  learn it too; the others adopt it (`Breaker.adopt_open`) within milliseconds. A trial that
  succeeds here closes the others' breakers the same way; a 429 rest period is shared likewise;
- every replica writes a heartbeat (`<prefix>replica:<id>`, expiring after three beats) and
  counts the live ones, so a provider's `max_concurrency` is split between them;
- a drill's fault injected (or removed) through any replica's admin API reaches the others' fault
  tables the same way (`<prefix>fault:<id>`, kept until the fault's TTL runs out), so a game day
  breaks every replica's calls, not a third of them.

The breaker listener only notes what changed and wakes a task: the request path that tripped the
breaker never waits on Redis. When Redis is unreachable, each replica carries on with its local
view (logged once, `releve_shared_state_up 0`, `/healthz` says "degraded"), tries again every half
second, and on its return re-announces the breakers that opened here meanwhile and reads the
others': the views converge within a second or two, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from releve.clock import MONOTONIC, Clock
from releve.config import SharedStateConfig
from releve.gateway import (
    MAX_FAULT_TTL,
    BreakerState,
    ConcurrencyLimiter,
    Fault,
    FaultTable,
    RoutePlan,
    TargetHealth,
    parse_fault,
)

__all__ = ["SharedState"]

logger = logging.getLogger("releve.cluster.shared")
_RETRY_EVERY = 0.5
_GOODBYE = 1.0
_OPEN, _CLOSED, _REST = "open", "closed", "rest"


class SharedState:
    """One replica's link to the others. `enabled` is False without `shared_state.url`: then it does nothing."""

    def __init__(self, config: SharedStateConfig, routes: Mapping[str, RoutePlan], *, replica: str,
                 clock: Clock = MONOTONIC, faults: FaultTable | None = None) -> None:
        self.enabled = bool(config.url)
        self.replica = replica
        self.replicas = 1                    # live replicas seen at the last heartbeat (this one included)
        self.up = False
        self.sent = 0
        self.received = 0
        self._config = config
        self._clock = clock
        self._prefix = config.prefix
        self._channel = f"{config.prefix}events"
        self._healths: dict[str, TargetHealth] = {}
        limits: dict[int, tuple[ConcurrencyLimiter, int]] = {}
        for plan in routes.values():
            for target in plan.targets:
                self._healths[target.health.key] = target.health
                if target.limiter is not None:
                    limits[id(target.limiter)] = (target.limiter, target.limiter.limit)
        self._limits = list(limits.values())
        self._pending: dict[str, str] = {}   # target key -> what to announce (open, closed)
        self._opened_here: set[str] = set()  # open because this replica saw the failures (re-announced)
        self._rests: dict[str, float] = {}   # target key -> rest end last announced or adopted
        self._wake = asyncio.Event()
        self._said: bool | None = None       # the reachability last logged
        self._redis: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._faults = faults
        self._fault_changes: list[tuple[str, Fault]] = []  # made here, to announce
        self._faults_here: dict[str, Fault] = {}           # injected here and not removed: re-announced
        self._removed_here: dict[str, Fault] = {}          # removed here before their TTL: re-announced too
        self._ended: dict[str, float] = {}                 # removed elsewhere (id -> when to forget): never adopted
        if faults is not None and self.enabled:
            faults.listen(self._on_fault_change)

    # --- the request path's side: note, wake, return ------------------------------------------

    def on_breaker_change(self, health: TargetHealth, old: BreakerState, new: BreakerState, shared: bool) -> None:
        """Called by a breaker as it changes (possibly on the request path): no I/O here."""
        if shared or not self.enabled:
            if new is BreakerState.CLOSED:
                self._opened_here.discard(health.key)
            return
        if new is BreakerState.OPEN:
            self._opened_here.add(health.key)
            self._pending[health.key] = _OPEN
        elif new is BreakerState.CLOSED:
            self._opened_here.discard(health.key)
            self._pending[health.key] = _CLOSED
        else:
            return
        self._wake.set()

    def _on_fault_change(self, change: str, fault: Fault) -> None:
        now = self._faults.now if self._faults is not None else 0.0
        self._faults_here = {i: f for i, f in self._faults_here.items() if f.expires > now}
        if change == "add":
            self._faults_here[fault.id] = fault
        else:
            self._faults_here.pop(fault.id, None)
            self._removed_here[fault.id] = fault
        self._fault_changes.append((change, fault))
        self._wake.set()

    def _fault_ended(self, fault_id: str) -> None:
        """Another replica removed it: drop it here, and never re-announce nor adopt it again."""
        if self._faults is None:
            return
        self._faults.drop(fault_id)
        self._faults_here.pop(fault_id, None)
        now = self._faults.now
        if len(self._ended) > 1000:
            self._ended = {i: until for i, until in self._ended.items() if until > now}
        self._ended[fault_id] = now + MAX_FAULT_TTL

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            return
        self._redis = aioredis.from_url(self._config.url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._tasks = [asyncio.create_task(self._listen(), name="releve-shared-listen"),
                       asyncio.create_task(self._announce(), name="releve-shared-announce")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: seen in CI, a replica whose listener sat in redis-py's read never finished stopping.
            _, stuck = await asyncio.wait(self._tasks, timeout=3 * _GOODBYE)
            if stuck:
                logger.warning("shared state: %d task(s) did not stop within %g s; leaving them", len(stuck),
                               3 * _GOODBYE)
        self._tasks = []
        if self._redis is not None:
            await _quietly(self._redis.delete(self._key("replica", self.replica)))
            await _quietly(self._redis.aclose())
            self._redis = None

    def describe(self) -> dict[str, Any]:
        """For /healthz: "off" (no shared state configured), "ok", or "degraded" (Redis unreachable)."""
        if not self.enabled:
            return {"shared_state": "off"}
        return {"shared_state": "ok" if self.up else "degraded", "replicas": self.replicas}

    def collector(self) -> Collector:
        return _SharedMetrics(self)

    # --- Redis side ----------------------------------------------------------------------------

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _mark(self, up: bool, error: BaseException | None = None) -> None:
        """Say each change once (not at every retry): reachable, or not and why."""
        if up is not self._said:
            if up:
                logger.info("shared state (Redis) reachable: breakers and health shared with the other replicas")
            else:
                logger.warning("shared state (Redis) unreachable (%s): this replica goes on with its own view",
                               error)
        self._said = up
        self.up = up

    async def _listen(self) -> None:
        """Subscribe, catch up, then apply what others publish and beat; start over after any Redis error."""
        assert self._redis is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                await self._catch_up()
                self._mark(True)
                next_beat = 0.0
                while True:
                    if self._clock.now() >= next_beat:
                        await self._beat()
                        next_beat = self._clock.now() + self._config.heartbeat
                    message = await pubsub.get_message(timeout=min(0.25, self._config.heartbeat))
                    if message is not None and message.get("type") == "message":
                        self._apply(message["data"])
            except (RedisError, OSError) as exc:
                self._mark(False, exc)
                self._share_limits(1)  # alone as far as this replica can tell: its full share
            except Exception as exc:
                # A bug or a value nobody foresaw must not end sharing silently (`up` would stay true).
                logger.exception("shared state: unexpected error; reconnecting")
                self._mark(False, exc)
                self._share_limits(1)
            finally:
                await _quietly(pubsub.aclose())  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(_RETRY_EVERY)

    async def _catch_up(self) -> None:
        """On (re)connecting: adopt the breakers others hold open, re-announce the ones that opened here."""
        assert self._redis is not None
        async for raw_key in self._redis.scan_iter(match=self._key("breaker", "*"), count=200):
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            health = self._healths.get(key[len(self._key("breaker", "")):])
            remaining_ms = await self._redis.pttl(key)
            if health is not None and remaining_ms > 0:
                health.breaker.adopt_open(remaining_ms / 1000)
        for key in self._opened_here:
            self._pending.setdefault(key, _OPEN)
        if self._faults is not None:
            await self._catch_up_faults()
        if self._pending or self._fault_changes:
            self._wake.set()

    async def _catch_up_faults(self) -> None:
        """Adopt the faults others injected; re-announce this replica's own changes (they may not have gone out)."""
        assert self._redis is not None
        prefix = self._key("fault", "")
        removed = self._key("fault-removed", "")
        async for raw_key in self._redis.scan_iter(match=removed + "*", count=200):
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            self._fault_ended(key[len(removed):])
        async for raw_key in self._redis.scan_iter(match=prefix + "*", count=200):
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            raw, remaining_ms = await self._redis.get(key), await self._redis.pttl(key)
            if raw is not None and remaining_ms > 0:
                try:
                    self._adopt_fault({**orjson.loads(raw), "rem": remaining_ms / 1000})
                except (orjson.JSONDecodeError, TypeError):
                    logger.warning("ignored a malformed shared fault under %s: %r", key, raw[:200])
        now = self._faults.now if self._faults is not None else 0.0
        self._ended = {i: until for i, until in self._ended.items() if until > now}
        self._removed_here = {i: f for i, f in self._removed_here.items() if f.expires > now}
        self._fault_changes = [*(("add", f) for f in self._faults_here.values() if f.expires > now),
                               *(("remove", f) for f in self._removed_here.values())]

    async def _beat(self) -> None:
        assert self._redis is not None
        beat = self._config.heartbeat
        await self._redis.set(self._key("replica", self.replica), b"1", px=int(beat * 3000))
        count = 0
        async for _ in self._redis.scan_iter(match=self._key("replica", "*"), count=200):
            count += 1
        self._share_limits(max(1, count))
        now = self._clock.now()
        for key, health in self._healths.items():  # 429 rest periods, polled: the router sets them directly
            if health.cooldown_until > now + 0.05 and health.cooldown_until > self._rests.get(key, 0.0) + 0.05:
                self._rests[key] = health.cooldown_until
                await self._publish({"t": key, "s": _REST, "rem": health.cooldown_until - now})

    def _share_limits(self, replicas: int) -> None:
        self.replicas = replicas
        for limiter, configured in self._limits:
            limiter.limit = max(1, math.ceil(configured / replicas))

    async def _announce(self) -> None:
        """Publish what changed here, soon after it changed; on failure leave it for the catch-up."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.up:
                continue  # the listener re-announces on reconnecting
            pending, self._pending = self._pending, {}
            changes, self._fault_changes = self._fault_changes, []
            try:
                for key, what in pending.items():
                    await self._send(key, what)
                for change, fault in changes:
                    await self._send_fault(change, fault)
            except (RedisError, OSError) as exc:
                self._mark(False, exc)

    async def _send_fault(self, change: str, fault: Fault) -> None:
        assert self._redis is not None and self._faults is not None
        key = self._key("fault", fault.id)
        remaining = fault.expires - self._faults.now
        if remaining <= 0:
            return
        if change == "remove":
            # A tombstone for as long as the fault would have lived: a replica reconnecting after the message
            # went out still learns that it ended.
            await self._redis.delete(key)
            await self._redis.set(self._key("fault-removed", fault.id), b"1", px=max(1, int(remaining * 1000)))
            await self._publish({"f": "remove", "id": fault.id})
            return
        payload = {"id": fault.id, "spec": fault.spec.to_json(), "created_at": fault.created_at.isoformat()}
        await self._redis.set(key, orjson.dumps(payload), px=max(1, int(remaining * 1000)))
        await self._publish({"f": "add", **payload, "rem": remaining})

    def _adopt_fault(self, message: Mapping[str, Any]) -> None:
        if self._faults is None or message.get("id") in self._ended:
            return
        try:
            spec = parse_fault(message["spec"])
            self._faults.adopt(str(message["id"]), spec, created_at=datetime.fromisoformat(message["created_at"]),
                               remaining=float(message["rem"]))
        except Exception as exc:  # anything another replica (or version) sent: logged, never fatal
            logger.warning("ignored a fault shared by another replica (%s): %r", exc, dict(message))

    async def _send(self, key: str, what: str) -> None:
        assert self._redis is not None
        breaker = self._healths[key].breaker
        if what == _OPEN and breaker.state is BreakerState.OPEN:
            remaining = breaker.open_remaining()
            if remaining <= 0:
                return
            await self._redis.set(self._key("breaker", key), b"open", px=max(1, int(remaining * 1000)))
            await self._publish({"t": key, "s": _OPEN, "rem": remaining})
        elif what == _CLOSED and breaker.state is BreakerState.CLOSED:
            await self._redis.delete(self._key("breaker", key))
            await self._publish({"t": key, "s": _CLOSED})

    async def _publish(self, message: dict[str, Any]) -> None:
        assert self._redis is not None
        message["r"] = self.replica
        await self._redis.publish(self._channel, orjson.dumps(message))
        self.sent += 1

    def _apply(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            if message["r"] == self.replica:
                return
            if "f" in message:
                self.received += 1
                if message["f"] == "add":
                    self._adopt_fault(message)
                else:
                    self._fault_ended(str(message["id"]))
                return
            health = self._healths.get(message["t"])
            if health is None:
                return  # a target this replica's config does not have (a rolling config change)
            self.received += 1
            state = message["s"]
            if state == _OPEN:
                health.breaker.adopt_open(_seconds(message["rem"]))
            elif state == _CLOSED:
                health.breaker.adopt_close()
            elif state == _REST:
                until = self._clock.now() + _seconds(message["rem"])
                health.cooldown_until = max(health.cooldown_until, until)
                self._rests[message["t"]] = health.cooldown_until
        except Exception as exc:  # anything another replica (or version) sent: logged, never fatal
            logger.warning("ignored a malformed shared-state message (%s): %r", exc, data[:200])


def _seconds(value: object) -> float:
    """A remaining time from a message: a finite, non-negative number of seconds (at most a day)."""
    seconds = float(value)  # type: ignore[arg-type]
    if not 0.0 <= seconds <= 86_400.0:
        raise ValueError(f"remaining time {value!r} out of range")
    return seconds


async def _quietly(step: Awaitable[object]) -> None:
    """A goodbye to Redis (closing, deleting our heartbeat): bounded, and never an error at shutdown.

    Measured: after Redis had gone and come back, closing a pub/sub connection could wait forever.
    """
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        async with asyncio.timeout(_GOODBYE):
            await step


class _SharedMetrics(Collector):
    def __init__(self, state: SharedState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        if not state.enabled:
            return
        up = GaugeMetricFamily("releve_shared_state_up", "1 when Redis (shared state) is reachable, 0 when this "
                               "replica runs on its own view")
        up.add_metric([], 1.0 if state.up else 0.0)
        yield up
        replicas = GaugeMetricFamily("releve_replicas", "Live replicas seen in the shared state (this one included)")
        replicas.add_metric([], float(state.replicas))
        yield replicas
        messages = CounterMetricFamily("releve_shared_state_messages", "Shared-state messages", labels=["direction"])
        messages.add_metric(["sent"], float(state.sent))
        messages.add_metric(["received"], float(state.received))
        yield messages
