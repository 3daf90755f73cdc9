"""Prometheus metrics for the gateway, on a registry owned by the app (never global).

The per-request figures are plain integers kept by the event loop's own
thread and turned into Prometheus families only when /metrics is scraped:
prometheus_client's counters and histograms take a lock on every update,
which the request path should not pay for. The rare events (failed
attempts, failovers, breaker changes) arrive through the event bus, off the
request path, and use prometheus_client's types directly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ._breaker import BreakerState
from ._cache import ResponseCache
from ._events import (
    AttemptFailed,
    BreakerChanged,
    Event,
    EventBus,
    HedgeCancelled,
    HedgeStarted,
    ServedByFallback,
    StreamRecovered,
    TargetSkipped,
)

__all__ = ["LATENCY_BUCKETS", "GatewayMetrics"]

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
LATENCY_BUCKETS = _BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _RequestStats:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf


class _RequestCollector(Collector):
    def __init__(self, stats: dict[tuple[str, str, str], _RequestStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("releve_requests", "Client requests by route, serving target and outcome",
                                       labels=["route", "target", "outcome"])
        per_route: dict[str, _RequestStats] = defaultdict(_RequestStats)
        for (route, target, outcome), stats in list(self._stats.items()):
            requests.add_metric([route, target, outcome], stats.count)
            merged = per_route[route]
            merged.count += stats.count
            merged.total += stats.total
            merged.buckets = [a + b for a, b in zip(merged.buckets, stats.buckets, strict=True)]
        yield requests
        latency = HistogramMetricFamily("releve_request_duration_seconds", "Client request latency (to the last "
                                        "byte for plain answers, to the first for streams)", labels=["route"])
        for route, stats in per_route.items():
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, _BUCKETS), "+Inf"), stats.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([route], buckets, stats.total)
        yield latency


class _CacheCollector(Collector):
    """Each route's response cache, read when scraped."""

    def __init__(self, caches: dict[str, ResponseCache]) -> None:
        self._caches = caches

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily("releve_cache_lookups", "Response cache lookups by result",
                                      labels=["route", "result"])
        stored = CounterMetricFamily("releve_cache_stores", "Answers written to the response cache", labels=["route"])
        evicted = CounterMetricFamily("releve_cache_evictions", "Entries evicted to stay within max_entries",
                                      labels=["route"])
        entries = GaugeMetricFamily("releve_cache_entries", "Entries in the response cache", labels=["route"])
        for route, cache in self._caches.items():
            lookups.add_metric([route, "hit"], cache.hits)
            lookups.add_metric([route, "miss"], cache.misses)
            stored.add_metric([route], cache.stores)
            evicted.add_metric([route], cache.evictions)
            entries.add_metric([route], len(cache))
        yield from (lookups, stored, evicted, entries)


class GatewayMetrics:
    def __init__(self, bus: EventBus, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self._stats: dict[tuple[str, str, str], _RequestStats] = {}
        r.register(_RequestCollector(self._stats))
        self._attempt_failures = Counter("releve_attempt_failures", "Failed upstream attempts by kind",
                                         ["route", "target", "kind"], registry=r)
        self._failovers = Counter("releve_failovers", "Requests served by a target other than the first",
                                  ["route", "target"], registry=r)
        self._breaker = Gauge("releve_breaker_state", "Circuit breaker per target: 0 closed, 1 half-open, "
                              "2 open", ["target"], registry=r)
        self._breaker_changes = Counter("releve_breaker_transitions", "Breaker state changes",
                                        ["target", "to"], registry=r)
        self._hedges = Counter("releve_hedges", "Extra attempts started because the first was slow",
                               ["route", "target"], registry=r)
        self._hedges_cancelled = Counter("releve_hedge_cancelled", "Attempts cancelled because another answered "
                                         "first (their upstream connection closed)", ["route", "target"], registry=r)
        self._skipped = Counter("releve_targets_skipped", "Targets not tried because their family cannot carry the "
                                "request", ["route", "target"], registry=r)
        self._recovered = Counter("releve_streams_recovered", "Streams broken mid-way and continued on another "
                                  "target", ["route", "failed", "target"], registry=r)
        dropped = Gauge("releve_events_dropped", "Gateway events dropped because the bus was full",
                        registry=r)
        dropped.set_function(lambda: bus.dropped)

    def observe_request(self, route: str, target: str, outcome: str, seconds: float) -> None:
        key = (route, target, outcome)
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = _RequestStats()
        stats.count += 1
        stats.total += seconds
        stats.buckets[bisect_left(_BUCKETS, seconds)] += 1

    def watch_caches(self, caches: dict[str, ResponseCache]) -> None:
        if caches:
            self.registry.register(_CacheCollector(caches))

    def request_counts(self) -> dict[tuple[str, str, str], tuple[int, tuple[int, ...]]]:
        """(route, target, outcome) -> (requests, latency bucket counts): the monitor's passive signals.

        Called about once a second off the request path; the last bucket is +Inf.
        """
        return {key: (stats.count, tuple(stats.buckets)) for key, stats in list(self._stats.items())}

    def set_breaker(self, target: str, state: BreakerState) -> None:
        self._breaker.labels(target).set(_BREAKER_VALUE[state])

    def on_event(self, event: Event) -> None:
        if isinstance(event, AttemptFailed):
            self._attempt_failures.labels(event.route, event.target, event.kind).inc()
        elif isinstance(event, ServedByFallback):
            self._failovers.labels(event.route, event.target).inc()
        elif isinstance(event, HedgeStarted):
            self._hedges.labels(event.route, event.target).inc()
        elif isinstance(event, HedgeCancelled):
            self._hedges_cancelled.labels(event.route, event.target).inc()
        elif isinstance(event, TargetSkipped):
            self._skipped.labels(event.route, event.target).inc()
        elif isinstance(event, StreamRecovered):
            self._recovered.labels(event.route, event.failed, event.target).inc()
        elif isinstance(event, BreakerChanged):
            self._breaker.labels(event.target).set(_BREAKER_VALUE[BreakerState(event.new)])
            self._breaker_changes.labels(event.target, event.new).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
