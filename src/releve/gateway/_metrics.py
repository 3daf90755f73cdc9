"""Prometheus metrics for the gateway, on a registry owned by the app (never global).

Labelled children are bound once and cached: `labels()` parses its arguments
on every call, which the hot path should not pay for.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ._breaker import BreakerState
from ._events import AttemptFailed, BreakerChanged, Event, EventBus, ServedByFallback

__all__ = ["GatewayMetrics"]

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GatewayMetrics:
    def __init__(self, bus: EventBus, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter("releve_requests", "Client requests by route, serving target and outcome",
                                 ["route", "target", "outcome"], registry=r)
        self._latency = Histogram("releve_request_duration_seconds", "Client request latency (to the "
                                  "last byte for plain answers, to the first for streams)",
                                  ["route"], buckets=_BUCKETS, registry=r)
        self._attempt_failures = Counter("releve_attempt_failures", "Failed upstream attempts by kind",
                                         ["route", "target", "kind"], registry=r)
        self._failovers = Counter("releve_failovers", "Requests served by a target other than the first",
                                  ["route", "target"], registry=r)
        self._breaker = Gauge("releve_breaker_state", "Circuit breaker per target: 0 closed, 1 half-open, "
                              "2 open", ["target"], registry=r)
        self._breaker_changes = Counter("releve_breaker_transitions", "Breaker state changes",
                                        ["target", "to"], registry=r)
        dropped = Gauge("releve_events_dropped", "Gateway events dropped because the bus was full",
                        registry=r)
        dropped.set_function(lambda: bus.dropped)
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def observe_request(self, route: str, target: str, outcome: str, seconds: float) -> None:
        key = (route, target, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self._requests.labels(route, target, outcome),
                                              self._latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def set_breaker(self, target: str, state: BreakerState) -> None:
        self._breaker.labels(target).set(_BREAKER_VALUE[state])

    def on_event(self, event: Event) -> None:
        if isinstance(event, AttemptFailed):
            self._attempt_failures.labels(event.route, event.target, event.kind).inc()
        elif isinstance(event, ServedByFallback):
            self._failovers.labels(event.route, event.target).inc()
        elif isinstance(event, BreakerChanged):
            self._breaker.labels(event.target).set(_BREAKER_VALUE[BreakerState(event.new)])
            self._breaker_changes.labels(event.target, event.new).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
