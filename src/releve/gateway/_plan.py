"""Routes and targets as plain values, built once from the config at start-up.

A target's health (its breaker and its rate-limit cooldown) is shared by every
route that sends to the same provider and model, so what one route learns
about an upstream the others know at once.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from releve.clock import Clock
from releve.config import BreakerConfig, Config, Strategy

from ._breaker import Breaker, BreakerPolicy, BreakerState
from ._limits import ConcurrencyLimiter
from ._policies import RetryPolicy
from .providers import ProviderTransport

__all__ = ["LatencyWindow", "RoutePlan", "Target", "TargetHealth", "build_routes"]

# (the target's health, old state, new state, adopted from another replica?)
BreakerListener = Callable[["TargetHealth", BreakerState, BreakerState, bool], None]
_ATTEMPTS = tuple(str(n).encode() for n in range(64))


class LatencyWindow:
    """Recent times to first byte of one target, for `hedge_after: p95`.

    The percentile is recomputed every `every` samples, not per request: sorting
    on the request path would cost more than hedging saves.
    """

    __slots__ = ("_count", "_every", "_p95", "_samples")

    def __init__(self, size: int = 200, every: int = 20, initial: float = 1.0) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._every = every
        self._count = 0
        self._p95 = initial

    def observe(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._count += 1
        if self._count % self._every == 0 or len(self._samples) < self._every:
            ordered = sorted(self._samples)
            self._p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def p95(self) -> float:
        return self._p95


@dataclass(slots=True)
class TargetHealth:
    label: str
    breaker: Breaker
    key: str = ""        # the same on every replica with the same config: "provider/model" or "route:provider/model"
    cooldown_until: float = 0.0
    last_credentials_warning: float = field(default=-1e18)
    latency: LatencyWindow | None = None  # kept only when a route hedges at p95


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    label: str           # "provider/model", as shown in headers, logs and messages
    weight: float
    transport: ProviderTransport
    health: TargetHealth
    header_value: bytes  # pre-encoded x-releve-target
    limiter: ConcurrencyLimiter | None = None  # the provider's max_concurrency, shared by its targets

    def served_headers(self, attempts: int) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
        """The response headers that say who answered, and after how many attempts."""
        count = _ATTEMPTS[attempts] if attempts < len(_ATTEMPTS) else str(attempts).encode()
        return (b"x-releve-target", self.header_value), (b"x-releve-attempts", count)


@dataclass(frozen=True, slots=True)
class RoutePlan:
    name: str
    strategy: Strategy
    targets: tuple[Target, ...]
    timeout: float
    attempt_timeout: float
    retry: RetryPolicy
    hedge_after: float | str | None = None  # seconds, "p95", or None (no hedging)
    stream_idle_timeout: float = 30.0
    recover_streams: bool = True

    def hedge_delay(self, target: Target) -> float | None:
        if self.hedge_after is None or len(self.targets) < 2:
            return None
        if isinstance(self.hedge_after, str):
            return target.health.latency.p95 if target.health.latency is not None else None
        return self.hedge_after

    @property
    def can_recover(self) -> bool:
        return self.recover_streams and len(self.targets) > 1

    def is_fallback(self, target: Target, attempts: int) -> bool:
        """Served by other than the first choice: a failover happened."""
        if self.strategy is Strategy.WEIGHTED:
            return attempts > 1
        return attempts > 1 or target is not self.targets[0]

    def ordered(self, rng: random.Random) -> Sequence[Target]:
        if self.strategy is Strategy.WEIGHTED and len(self.targets) > 1:
            # Weighted random order without replacement (Efraimidis–Spirakis):
            # the first is drawn by weight, the rest stay in line for failover.
            return sorted(self.targets, key=lambda t: rng.random() ** (1.0 / t.weight), reverse=True)
        return self.targets


def breaker_policy(config: BreakerConfig) -> BreakerPolicy:
    return BreakerPolicy(
        consecutive_failures=config.consecutive_failures,
        failure_rate=config.failure_rate,
        window=config.window,
        min_requests=config.min_requests,
        open_for=config.open_for,
    )


def build_routes(config: Config, transports: Mapping[str, ProviderTransport], clock: Clock,
                 on_breaker_change: BreakerListener | None = None) -> dict[str, RoutePlan]:
    healths: dict[tuple[str, ...], TargetHealth] = {}

    def health_for(key: tuple[str, ...], label: str, policy: BreakerPolicy) -> TargetHealth:
        if key not in healths:
            def changed(old: BreakerState, new: BreakerState, shared: bool) -> None:
                if on_breaker_change is not None:
                    on_breaker_change(healths[key], old, new, shared)

            healths[key] = TargetHealth(label, Breaker(policy, clock, changed), key=":".join(key))
        return healths[key]

    limiters = {name: ConcurrencyLimiter(provider.max_concurrency, provider.queue_timeout)
                for name, provider in config.providers.items() if provider.max_concurrency is not None}
    plans = {}
    for name, route in config.routes.items():
        policy = breaker_policy(config.breaker_for(name))
        targets = []
        for target in route.targets:
            label = f"{target.provider}/{target.model}"
            # Routes with their own breaker settings get their own breakers.
            key = (name, label) if route.breaker is not None else (label,)
            health = health_for(key, label, policy)
            if route.hedge_after == "p95":
                health.latency = health.latency or LatencyWindow(initial=route.attempt_timeout / 2)
            targets.append(Target(
                provider=target.provider, model=target.model, label=label, weight=target.weight,
                transport=transports[target.provider], health=health,
                header_value=label.encode("latin-1", "replace"), limiter=limiters.get(target.provider),
            ))
        plans[name] = RoutePlan(
            name=name, strategy=route.strategy, targets=tuple(targets), timeout=route.timeout,
            attempt_timeout=route.attempt_timeout,
            retry=RetryPolicy(route.retries, route.backoff.base, route.backoff.max),
            hedge_after=route.hedge_after, stream_idle_timeout=route.stream_idle_timeout,
            recover_streams=route.recover_streams,
        )
    return plans
