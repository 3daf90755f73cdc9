"""Gateway metrics: cheap per-request counts that scrape as standard Prometheus families."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from releve.gateway import AttemptFailed, EventBus, GatewayMetrics, ServedByFallback


def scrape(metrics: GatewayMetrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_requests_are_counted_by_route_target_and_outcome() -> None:
    """Each observed request adds one to its (route, target, outcome) counter."""
    metrics = GatewayMetrics(EventBus())
    for _ in range(3):
        metrics.observe_request("chat", "a/m", "served", 0.004)
    metrics.observe_request("chat", "b/m", "fallback", 0.2)
    counts = scrape(metrics)["releve_requests_total"]
    assert counts[(("outcome", "served"), ("route", "chat"), ("target", "a/m"))] == 3
    assert counts[(("outcome", "fallback"), ("route", "chat"), ("target", "b/m"))] == 1


def test_latency_histogram_is_cumulative_per_route() -> None:
    """Buckets count requests at or under each bound, and +Inf counts them all."""
    metrics = GatewayMetrics(EventBus())
    for seconds in (0.001, 0.004, 0.004, 0.2, 99.0):
        metrics.observe_request("chat", "a/m", "served", seconds)
    samples = scrape(metrics)
    buckets = {dict(labels)["le"]: value for labels, value in samples["releve_request_duration_seconds_bucket"].items()}
    assert buckets["0.001"] == 1 and buckets["0.005"] == 3 and buckets["0.25"] == 4 and buckets["+Inf"] == 5
    assert samples["releve_request_duration_seconds_count"][(("route", "chat"),)] == 5
    assert abs(samples["releve_request_duration_seconds_sum"][(("route", "chat"),)] - 99.209) < 1e-9


def test_events_feed_failure_and_failover_counters() -> None:
    """Failed attempts and failovers arrive as events and are counted by kind."""
    metrics = GatewayMetrics(EventBus())
    metrics.on_event(AttemptFailed("chat", "a/m", "http_503", "503", 503, 0.0))
    metrics.on_event(ServedByFallback("chat", "b/m", 2, 0.0))
    samples = scrape(metrics)
    assert samples["releve_attempt_failures_total"][(("kind", "http_503"), ("route", "chat"), ("target", "a/m"))] == 1
    assert samples["releve_failovers_total"][(("route", "chat"), ("target", "b/m"))] == 1
