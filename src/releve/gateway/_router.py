"""Choosing targets and running attempts: failover, retries, deadlines, breakers, hedging.

For each request the router walks the route's targets in order (priority, or
a weighted draw), skipping at once any whose breaker is open, that asked to be
left alone (429 Retry-After), or whose family cannot carry the request.
Failing over to the next target is immediate; after a full pass it waits a
jittered backoff and goes round again, `retries` times, all inside the
route's whole-request deadline. Each attempt has its own timeout (for
streams: until the first chunk). With `hedge_after`, a slow first attempt is
raced against the next target and the loser is cancelled. While a drill has
set faults (`_faults.py`), they are acted out right before the transport call.

The router never imports pydantic, aiohttp or a wire format: it sees
`RoutePlan`s, transports, `UpstreamError` and `Untranslatable`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson

from releve.clock import Clock
from releve.errors import (
    DataPolicyRefusal,
    GatewayError,
    InvalidRequest,
    NoTargetAvailable,
    Untranslatable,
    UpstreamError,
)

from ._data import DataPolicies, RequestPolicy
from ._deadlines import DeadlineWheel
from ._events import (
    AttemptFailed,
    DataDecision,
    EventBus,
    HedgeCancelled,
    HedgeStarted,
    ServedByFallback,
    TargetSkipped,
)
from ._faults import FaultTable, OpenedStream
from ._limits import CLIENT_PRIORITY, MARKED_PERSONAL, ConcurrencyLimiter
from ._plan import RoutePlan, Target, TargetHealth
from ._reidentify import ReidentifiedStream
from ._sse import first_chunk_problem
from .providers import Operation, UpstreamCall, UpstreamResponse, UpstreamStream

__all__ = ["Router", "Served", "ServedStream"]

logger = logging.getLogger("releve.gateway")
_T = TypeVar("_T")
_CREDENTIALS_WARNING_EVERY = 60.0
Body = dict[str, Any]


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
    skipped: bool = False        # not tried: breaker open, rate limited or at capacity
    saturated: bool = False      # not tried: the provider's max_concurrency was reached
    refused: bool = False        # not tried: the data policy does not allow it to receive this request
    untranslatable: bool = False  # not tried: its family cannot carry the request


@dataclass(slots=True)
class _Won(Generic[_T]):
    value: _T
    target: Target


class _Run:
    """The bookkeeping of one request's attempts."""

    __slots__ = ("attempts", "deadline", "deadline_reached", "outcomes", "policy")

    def __init__(self, deadline: float) -> None:
        self.policy: RequestPolicy | None = None
        self.deadline = deadline
        self.outcomes: list[_Outcome] = []
        self.attempts = 0
        self.deadline_reached = False


class Router:
    def __init__(self, routes: Mapping[str, RoutePlan], clock: Clock, bus: EventBus,
                 rng: random.Random | None = None, data: DataPolicies | None = None,
                 faults: FaultTable | None = None) -> None:
        self.routes = dict(routes)
        self.data = data
        # Drill faults: an empty table unless a drill set some (admin API); see _faults.py.
        self.faults = faults if faults is not None else FaultTable(clock=clock, wall=_utc_now)
        self._clock = clock
        self._bus = bus
        self._rng = rng or random.Random()
        self._wheel: DeadlineWheel | None = None

    @property
    def bus(self) -> EventBus:
        return self._bus

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def wheel(self) -> DeadlineWheel:
        # Built on first use, inside the server's event loop.
        if self._wheel is None:
            self._wheel = DeadlineWheel()
        return self._wheel

    def close(self) -> None:
        if self._wheel is not None:
            self._wheel.close()
            self._wheel = None

    def _policy(self, plan: RoutePlan, body: Body) -> RequestPolicy | None:
        """The data policy for this request; None (the usual case) when nothing restricts the route."""
        return None if self.data is None else self.data.decide(plan.name, body, MARKED_PERSONAL.get())

    async def send(self, plan: RoutePlan, body: Body, operation: Operation = Operation.CHAT) -> Served:
        policy = self._policy(plan, body)
        if policy is None:
            async def attempt(target: Target) -> UpstreamResponse:
                return await target.transport.send(UpstreamCall(operation, body, target.model))
        else:
            async def attempt(target: Target) -> UpstreamResponse:
                sent, pseudonymized = policy.body_for(target.label, body)
                response = await target.transport.send(UpstreamCall(operation, sent, target.model))
                if pseudonymized is None:
                    return response
                answer = pseudonymized.reidentify_answer(orjson.loads(response.body))
                return UpstreamResponse(response.status, orjson.dumps(answer))

        won, attempts = await self._run(plan, attempt, policy=policy)
        return Served(won.value, won.target, attempts)

    async def open_stream(self, plan: RoutePlan, body: Body, *, exclude: Collection[Target] = ()) -> ServedStream:
        policy = self._policy(plan, body)

        async def attempt(target: Target) -> OpenedStream:
            sent, pseudonymized = (body, None) if policy is None else policy.body_for(target.label, body)
            stream: UpstreamStream = await target.transport.open_stream(
                UpstreamCall(Operation.CHAT, sent, target.model, True))
            if pseudonymized is not None:
                stream = ReidentifiedStream(stream, pseudonymized.stream())
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
            return OpenedStream(stream, chunks, first)

        async def discard(opened: OpenedStream) -> None:
            await opened.stream.aclose()

        won, attempts = await self._run(plan, attempt, exclude, discard, policy=policy)
        stream, chunks, first = won.value
        return ServedStream(first, chunks, stream, won.target, attempts)

    async def resume_stream(self, plan: RoutePlan, body: Body, partial: str, failed: Target) -> ServedStream:
        """Continue a broken stream elsewhere: the partial answer goes as an assistant prefix.

        Trailing whitespace is left out of the prefix (Anthropic refuses a prefill that ends
        with it; models put the space at the start of the next token anyway). With no text
        sent yet, the request is simply sent again.
        """
        prefix = partial.rstrip()
        if not prefix:
            return await self.open_stream(plan, body, exclude=(failed,))
        messages = [*body["messages"], {"role": "assistant", "content": prefix}]
        return await self.open_stream(plan, {**body, "messages": messages}, exclude=(failed,))

    async def _run(self, plan: RoutePlan, attempt: Callable[[Target], Awaitable[_T]],
                   exclude: Collection[Target] = (),
                   discard: Callable[[_T], Awaitable[None]] | None = None, *,
                   policy: RequestPolicy | None = None) -> tuple[_Won[_T], int]:
        run = _Run(self._clock.now() + plan.timeout)
        run.policy = policy
        if policy is None:
            return await self._passes(plan, attempt, exclude, discard, run)
        try:
            won = await self._passes(plan, attempt, exclude, discard, run)
        except GatewayError as exc:
            self._decided(plan, run, policy, "refused" if isinstance(exc, DataPolicyRefusal) else "failed")
            raise
        self._decided(plan, run, policy, "served", won[0].target.label)
        return won

    def _decided(self, plan: RoutePlan, run: _Run, policy: RequestPolicy, outcome: str,
                 winner: str | None = None) -> None:
        failed = [o.label for o in run.outcomes if not (o.skipped or o.untranslatable)]
        tried = tuple(dict.fromkeys([*failed, *([winner] if winner else [])]))
        refused = tuple(o.label for o in run.outcomes if o.refused)
        rules = policy.rules
        self._bus.publish(DataDecision(
            plan.name, policy.personal, tuple(sorted(policy.found.items())),
            tuple(f"{label} ({policy.form(label).value})" for label in tried), refused,
            tuple(sorted({rules[label].region or "unknown" for label in tried if label in rules})), outcome,
            self._clock.now()))

    async def _passes(self, plan: RoutePlan, attempt: Callable[[Target], Awaitable[_T]],
                      exclude: Collection[Target], discard: Callable[[_T], Awaitable[None]] | None,
                      run: _Run) -> tuple[_Won[_T], int]:
        for retry in range(plan.retry.retries + 1):
            if retry:
                pause = plan.retry.delay(retry - 1, self._rng)
                if self._clock.now() + pause >= run.deadline:
                    run.deadline_reached = True
                    break
                await self._clock.sleep(pause)
            tried_before = run.attempts
            candidates = self._available(plan, run, exclude)
            for target in candidates:
                hedge = plan.hedge_delay(target)
                if hedge is None:
                    won = await self._attempt(plan, target, attempt, run)
                else:
                    won = await self._hedged(plan, target, candidates, attempt, run, hedge, discard)
                if won is not None:
                    if plan.is_fallback(won.target, run.attempts):
                        self._bus.publish(ServedByFallback(plan.name, won.target.label, run.attempts,
                                                           self._clock.now()))
                    return won, run.attempts
            if run.deadline_reached or run.attempts == tried_before:
                break
        raise self._exhausted(plan, run)

    def _available(self, plan: RoutePlan, run: _Run, exclude: Collection[Target]) -> Iterator[Target]:
        """The targets that may be tried now, in order; records why the others are skipped."""
        policy = run.policy
        for target in plan.ordered(self._rng):
            if target in exclude:
                continue
            if policy is not None and (refusal := policy.refusal(target.label)) is not None:
                if not any(o.label == target.label and o.refused for o in run.outcomes):  # once, not per pass
                    run.outcomes.append(_Outcome(target.label, refusal, skipped=True, refused=True))
                    self._bus.publish(TargetSkipped(plan.name, target.label, refusal, self._clock.now()))
                continue
            health = target.health
            now = self._clock.now()
            if run.deadline - now <= 0:
                run.deadline_reached = True
                return
            if health.cooldown_until > now:
                run.outcomes.append(_Outcome(target.label, f"rate limited for another "
                                             f"{_secs(health.cooldown_until - now)}", skipped=True))
                continue
            if not health.breaker.available():
                run.outcomes.append(_Outcome(target.label, f"circuit open for another "
                                             f"{_secs(health.breaker.open_remaining())}", skipped=True))
                continue
            yield target

    async def _attempt(self, plan: RoutePlan, target: Target, attempt: Callable[[Target], Awaitable[_T]],
                       run: _Run) -> _Won[_T] | None:
        """One attempt at one target: its result, or None once the failure is recorded."""
        health = target.health
        limiter = target.limiter
        if limiter is not None and not await self._slot(limiter, target, run):
            return None
        try:
            return await self._attempt_with_slot(plan, target, attempt, run, health)
        finally:
            if limiter is not None:
                limiter.release()

    async def _slot(self, limiter: ConcurrencyLimiter, target: Target, run: _Run) -> bool:
        """Wait for one of the provider's slots, by priority, at most its queue_timeout (or the deadline)."""
        wait = min(limiter.timeout, max(0.0, run.deadline - self._clock.now()))
        if await limiter.acquire(CLIENT_PRIORITY.get(), wait):
            return True
        run.outcomes.append(_Outcome(target.label, f"at capacity ({limiter.limit} requests in flight, no slot "
                                     f"within {_secs(wait)})", skipped=True, saturated=True))
        return False

    async def _attempt_with_slot(self, plan: RoutePlan, target: Target, attempt: Callable[[Target], Awaitable[_T]],
                                 run: _Run, health: TargetHealth) -> _Won[_T] | None:
        if not health.breaker.allow():  # another request took the half-open trial meanwhile
            run.outcomes.append(_Outcome(target.label, "circuit half-open, trial in progress", skipped=True))
            return None
        run.attempts += 1
        limit = min(plan.attempt_timeout, max(0.0, run.deadline - self._clock.now()))
        armed = self.wheel.arm(limit)
        started = time.perf_counter() if health.latency is not None else 0.0
        try:
            if self.faults.armed:  # a drill is on; otherwise this attribute is all faults cost
                value = await self.faults.attempt(target, attempt)
            else:
                value = await attempt(target)
        except asyncio.CancelledError:
            if not armed.expired():
                health.breaker.abandon_trial()
                raise
            self._failed(plan, target, UpstreamError(f"timed out after {_secs(limit)}", timeout=True), run)
            return None
        except Untranslatable as exc:
            health.breaker.abandon_trial()
            run.attempts -= 1  # nothing was sent
            run.outcomes.append(_Outcome(target.label, f"cannot carry this request: {exc.reason}",
                                         untranslatable=True))
            self._bus.publish(TargetSkipped(plan.name, target.label, exc.reason, self._clock.now()))
            logger.info("route %s: skipped %s: %s", plan.name, target.label, exc.reason)
            return None
        except UpstreamError as exc:
            if not exc.retryable:
                # The provider is fine; the request is not. Relay, don't fail over.
                health.breaker.record_success()
                raise
            self._failed(plan, target, exc, run)
            return None
        except BaseException:
            health.breaker.abandon_trial()
            raise
        finally:
            self.wheel.disarm(armed)
        health.breaker.record_success()
        if health.latency is not None:
            health.latency.observe(time.perf_counter() - started)
        return _Won(value, target)

    async def _hedged(self, plan: RoutePlan, first: Target, rest: Iterator[Target],
                      attempt: Callable[[Target], Awaitable[_T]], run: _Run, delay: float,
                      discard: Callable[[_T], Awaitable[None]] | None) -> _Won[_T] | None:
        """Race `first` against the next available target once `first` is slower than `delay`.

        The loser is cancelled (its upstream connection closed); if it won at the same
        instant, `discard` releases what it got (an open stream).
        """
        racing: dict[asyncio.Task[_Won[_T] | None], Target] = {
            asyncio.ensure_future(self._attempt(plan, first, attempt, run)): first}
        try:
            done, _ = await asyncio.wait(set(racing), timeout=delay)
            if not done:
                second = next(rest, None)
                if second is not None:
                    self._bus.publish(HedgeStarted(plan.name, second.label, self._clock.now()))
                    racing[asyncio.ensure_future(self._attempt(plan, second, attempt, run))] = second
            while racing:
                done, _ = await asyncio.wait(set(racing), return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    racing.pop(task)
                    won = task.result()  # a client mistake propagates from here
                    if won is not None:
                        return won
            return None
        finally:
            for task, target in racing.items():
                if not task.done():
                    task.cancel()
                    self._bus.publish(HedgeCancelled(plan.name, target.label, self._clock.now()))
            for outcome in await asyncio.gather(*racing, return_exceptions=True):
                if isinstance(outcome, _Won) and discard is not None:
                    await discard(outcome.value)

    def _failed(self, plan: RoutePlan, target: Target, exc: UpstreamError, run: _Run) -> None:
        health = target.health
        now = self._clock.now()
        health.breaker.record_failure()
        if exc.upstream_status == 429 or exc.retry_after:
            health.cooldown_until = max(health.cooldown_until, now + (exc.retry_after or 1.0))
        if exc.upstream_status in (401, 403) and now - health.last_credentials_warning > _CREDENTIALS_WARNING_EVERY:
            health.last_credentials_warning = now
            logger.warning("provider %s rejected Relève's credentials (%s): check providers.%s.api_key",
                           target.provider, exc.upstream_status, target.provider)
        run.outcomes.append(_Outcome(target.label, exc.reason, exc.timeout))
        self._bus.publish(AttemptFailed(plan.name, target.label, _kind(exc), exc.reason, exc.upstream_status, now))

    def _exhausted(self, plan: RoutePlan, run: _Run) -> InvalidRequest | NoTargetAvailable:
        outcomes = run.outcomes
        refused = [o for o in outcomes if o.refused]
        if refused:
            return self._refused_by_policy(plan, run, refused)
        if outcomes and all(o.untranslatable for o in outcomes):
            reasons = "; ".join(f"{o.label}: {o.what}" for o in outcomes)
            return InvalidRequest(f"No target of route '{plan.name}' can carry this request ({reasons}).",
                                  code="unsupported_feature")
        if any(o.saturated for o in outcomes):  # a target could have answered, but had no free slot
            latest = {o.label: o.what for o in outcomes}
            detail = "; ".join(f"{label}: {what}" for label, what in latest.items())
            return NoTargetAvailable(
                f"Route '{plan.name}': capacity is reduced during an incident and every target is busy "
                f"({detail}). Retry after 1 s.", status=503, retry_after=1.0)
        if run.attempts == 0:
            status = 503
        elif run.deadline_reached or all(o.timeout for o in outcomes if not (o.skipped or o.untranslatable)):
            status = 504
        else:
            status = 502
        retry_after = self._retry_after(plan)
        # One line per target, its latest outcome: that is what the reader needs.
        latest = {o.label: o.what for o in outcomes}
        detail = "; ".join(f"{label}: {what}" for label, what in latest.items())
        if run.deadline_reached:
            detail += f"; deadline of {_secs(plan.timeout)} reached"
        message = (f"Route '{plan.name}': no target could answer ({detail}). "
                   f"Retry after {math.ceil(retry_after)} s.")
        return NoTargetAvailable(message, status=status, retry_after=retry_after)

    def _refused_by_policy(self, plan: RoutePlan, run: _Run, refused: list[_Outcome]) -> NoTargetAvailable:
        """No allowed target answered: 503 when the allowed ones are down, 403 when none may receive it."""
        reasons = "; ".join(f"{o.label}: {o.what}" for o in refused)
        allowed = [o for o in run.outcomes if not o.refused]
        what = "personal data" if run.policy is not None and run.policy.personal else "this request"
        if allowed:
            detail = "; ".join(f"{o.label}: {o.what}" for o in allowed)
            message = (f"Route '{plan.name}': the targets allowed to receive {what} cannot answer ({detail}); "
                       f"the others may not receive it ({reasons}). Nothing was sent to them.")
            return DataPolicyRefusal(message, status=503, retry_after=self._retry_after(plan))
        message = (f"Route '{plan.name}': no target may receive {what} under the data policy ({reasons}). "
                   "Nothing was sent.")
        return DataPolicyRefusal(message, status=403, retry_after=None)

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


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
