"""Choosing targets and running attempts: failover, retries, deadlines, breakers.

For each request the router walks the route's targets in order (priority, or
a weighted draw), skipping at once any whose breaker is open or that asked
to be left alone (429 Retry-After). Failing over to the next target is
immediate; after a full pass it waits a jittered backoff and goes round again,
`retries` times, all inside the route's whole-request deadline. Each attempt
has its own timeout (for streams: until the first chunk).

The router never imports pydantic, aiohttp or a wire format: it sees
`RoutePlan`s, transports and `UpstreamError`s.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from releve.clock import Clock
from releve.errors import NoTargetAvailable, UpstreamError

from ._deadlines import DeadlineWheel
from ._events import AttemptFailed, EventBus, ServedByFallback
from ._plan import RoutePlan, Target
from ._sse import first_chunk_problem
from .providers import UpstreamCall, UpstreamResponse, UpstreamStream

__all__ = ["Router", "Served", "ServedStream"]

logger = logging.getLogger("releve.gateway")
_T = TypeVar("_T")
_CREDENTIALS_WARNING_EVERY = 60.0


@dataclass(slots=True)
class Served:
    response: UpstreamResponse
    target: Target
    attempts: int


@dataclass(slots=True)
class ServedStream:
    """An upstream stream whose first chunk has arrived and looks valid."""

    first: bytes
    chunks: AsyncIterator[bytes]
    stream: UpstreamStream
    target: Target
    attempts: int


@dataclass(slots=True)
class _Outcome:
    label: str
    what: str
    timeout: bool = False
    skipped: bool = False  # not tried: breaker open or rate limited


class Router:
    def __init__(self, routes: Mapping[str, RoutePlan], clock: Clock, bus: EventBus,
                 rng: random.Random | None = None) -> None:
        self.routes = dict(routes)
        self._clock = clock
        self._bus = bus
        self._rng = rng or random.Random()
        self._wheel: DeadlineWheel | None = None

    def _start_wheel(self) -> DeadlineWheel:
        # Built on first use, inside the server's event loop.
        self._wheel = DeadlineWheel()
        return self._wheel

    def close(self) -> None:
        if self._wheel is not None:
            self._wheel.close()
            self._wheel = None

    async def send(self, plan: RoutePlan, body: dict[str, object], path: str) -> Served:
        async def attempt(target: Target, call: UpstreamCall) -> UpstreamResponse:
            return await target.transport.send(call)

        response, target, attempts = await self._run(plan, body, path, attempt)
        return Served(response, target, attempts)

    async def open_stream(self, plan: RoutePlan, body: dict[str, object], path: str) -> ServedStream:
        async def attempt(target: Target, call: UpstreamCall) -> tuple[UpstreamStream, AsyncIterator[bytes], bytes]:
            stream = await target.transport.open_stream(call)
            try:
                chunks = aiter(stream)
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    raise UpstreamError("empty stream") from None
                if problem := first_chunk_problem(first):
                    raise UpstreamError(problem)
            except BaseException:
                await stream.aclose()
                raise
            return stream, chunks, first

        (stream, chunks, first), target, attempts = await self._run(plan, body, path, attempt)
        return ServedStream(first, chunks, stream, target, attempts)

    async def _run(self, plan: RoutePlan, body: dict[str, object], path: str,
                   attempt: Callable[[Target, UpstreamCall], Awaitable[_T]]) -> tuple[_T, Target, int]:
        clock = self._clock
        wheel = self._wheel or self._start_wheel()
        deadline = clock.now() + plan.timeout
        outcomes: list[_Outcome] = []
        attempts = 0
        deadline_reached = False
        for retry in range(plan.retry.retries + 1):
            if retry:
                pause = plan.retry.delay(retry - 1, self._rng)
                if clock.now() + pause >= deadline:
                    deadline_reached = True
                    break
                await clock.sleep(pause)
            tried = False
            for target in plan.ordered(self._rng):
                health = target.health
                now = clock.now()
                remaining = deadline - now
                if remaining <= 0:
                    deadline_reached = True
                    break
                if health.cooldown_until > now:
                    wait = health.cooldown_until - now
                    outcomes.append(_Outcome(target.label, f"rate limited for another {_secs(wait)}",
                                             skipped=True))
                    continue
                if not health.breaker.allow():
                    wait = health.breaker.open_remaining()
                    outcomes.append(_Outcome(target.label, f"circuit open for another {_secs(wait)}",
                                             skipped=True))
                    continue
                tried = True
                attempts += 1
                limit = min(plan.attempt_timeout, remaining)
                deadline_for_attempt = wheel.arm(limit)
                try:
                    result = await attempt(target, UpstreamCall(path, target.encode(body)))
                except asyncio.CancelledError:
                    if not deadline_for_attempt.expired():
                        health.breaker.abandon_trial()
                        raise
                    self._failed(plan, target, UpstreamError(f"timed out after {_secs(limit)}", timeout=True),
                                 outcomes)
                    continue
                except UpstreamError as exc:
                    if not exc.retryable:
                        # The provider is fine; the request is not. Relay, don't fail over.
                        health.breaker.record_success()
                        raise
                    self._failed(plan, target, exc, outcomes)
                    continue
                except BaseException:
                    health.breaker.abandon_trial()
                    raise
                finally:
                    wheel.disarm(deadline_for_attempt)
                health.breaker.record_success()
                if plan.is_fallback(target, attempts):
                    self._bus.publish(ServedByFallback(plan.name, target.label, attempts, clock.now()))
                return result, target, attempts
            if deadline_reached or not tried:
                break
        raise self._exhausted(plan, outcomes, attempts, deadline_reached)

    def _failed(self, plan: RoutePlan, target: Target, exc: UpstreamError, outcomes: list[_Outcome]) -> None:
        health = target.health
        now = self._clock.now()
        health.breaker.record_failure()
        if exc.upstream_status == 429 or exc.retry_after:
            health.cooldown_until = max(health.cooldown_until, now + (exc.retry_after or 1.0))
        if exc.upstream_status in (401, 403) and now - health.last_credentials_warning > _CREDENTIALS_WARNING_EVERY:
            health.last_credentials_warning = now
            logger.warning("provider %s rejected Relève's credentials (%s): check providers.%s.api_key",
                           target.provider, exc.upstream_status, target.provider)
        outcomes.append(_Outcome(target.label, exc.reason, exc.timeout))
        self._bus.publish(AttemptFailed(plan.name, target.label, _kind(exc), exc.reason,
                                        exc.upstream_status, now))

    def _exhausted(self, plan: RoutePlan, outcomes: list[_Outcome], attempts: int,
                   deadline_reached: bool) -> NoTargetAvailable:
        if attempts == 0:
            status = 503
        elif deadline_reached or all(o.timeout for o in outcomes if not o.skipped):
            status = 504
        else:
            status = 502
        retry_after = self._retry_after(plan)
        # One line per target, its latest outcome: that is what the reader needs.
        latest = {o.label: o.what for o in outcomes}
        detail = "; ".join(f"{label}: {what}" for label, what in latest.items())
        if deadline_reached:
            detail += f"; deadline of {_secs(plan.timeout)} reached"
        message = (f"Route '{plan.name}': no target could answer ({detail}). "
                   f"Retry after {math.ceil(retry_after)} s.")
        return NoTargetAvailable(message, status=status, retry_after=retry_after)

    def _retry_after(self, plan: RoutePlan) -> float:
        now = self._clock.now()
        waits = []
        for target in plan.targets:
            health = target.health
            wait = max(health.breaker.open_remaining(), health.cooldown_until - now)
            if wait <= 0:
                return 1.0
            waits.append(wait)
        return max(1.0, min(waits))


def _kind(exc: UpstreamError) -> str:
    if exc.timeout:
        return "timeout"
    status = exc.upstream_status
    if status is not None and status >= 300:
        return f"http_{status}"
    return "malformed" if status is not None or "stream" in exc.reason else "network"


def _secs(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
