"""The router: failover, retries, deadlines, breakers and rate limits, with scripted upstreams."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from releve.clock import VirtualClock
from releve.config import config_from_mapping
from releve.errors import InvalidRequest, NoTargetAvailable, Untranslatable, UpstreamError
from releve.gateway import (
    EventBus,
    HedgeCancelled,
    HedgeStarted,
    Router,
    ServedByFallback,
    TargetSkipped,
    build_routes,
)
from support.scripted import ScriptedTransport

Built = tuple[Router, dict[str, ScriptedTransport], EventBus]


def make_router(clock: VirtualClock, scripts: dict[str, list[Any]], *, route: dict[str, Any] | None = None,
                retry_after: float | None = None, seed: int = 1) -> Built:
    names = list(scripts)
    config = config_from_mapping({
        "auth": "none",
        "breaker": {"consecutive_failures": 3, "open_for": 30},
        "providers": {name: {"kind": "openai-compatible", "base_url": f"http://{name}.invalid/v1"} for name in names},
        "routes": {"chat": {"targets": [{"provider": name, "model": f"{name}-model"} for name in names],
                            "attempt_timeout": 0.05, "timeout": 5, "retries": 0, **(route or {})}},
    })
    transports = {name: ScriptedTransport(name, script, retry_after=retry_after) for name, script in scripts.items()}
    bus = EventBus()
    return Router(build_routes(config, transports, clock), clock, bus, random.Random(seed)), transports, bus


def body() -> dict[str, object]:
    return {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


async def test_serves_from_the_first_target_when_healthy(clock: VirtualClock) -> None:
    """A healthy primary answers with one attempt and the fallback is untouched."""
    router, transports, _ = make_router(clock, {"a": [200], "b": [200]})
    served = await router.send(router.routes["chat"], body())
    assert (served.target.label, served.attempts) == ("a/a-model", 1)
    assert transports["b"].calls == []


async def test_sends_the_target_model_not_the_route_name(clock: VirtualClock) -> None:
    """The route name the client used is replaced by each target's model."""
    router, transports, _ = make_router(clock, {"a": [503], "b": [200]})
    await router.send(router.routes["chat"], body())
    assert transports["a"].calls[0].model == "a-model"
    assert transports["b"].calls[0].model == "b-model"


@pytest.mark.parametrize("failure", [500, 502, 503, 504, 529, 408, 429, 401, 403, 404, "malformed", "hang",
                                     UpstreamError("connection failed (Connection refused)")])
async def test_fails_over_on_upstream_failure(clock: VirtualClock, failure: Any) -> None:
    """Each kind of provider failure moves the request to the next target."""
    router, transports, bus = make_router(clock, {"a": [failure], "b": [200]})
    served = await router.send(router.routes["chat"], body())
    assert (served.target.label, served.attempts) == ("b/b-model", 2)
    assert any(isinstance(event, ServedByFallback) for event in bus.drain())


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_relays_the_clients_own_mistake_without_failover(clock: VirtualClock, status: int) -> None:
    """A request the provider rejects as malformed is not sent elsewhere."""
    router, transports, _ = make_router(clock, {"a": [status], "b": [200]})
    with pytest.raises(UpstreamError) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.upstream_status == status and not caught.value.retryable
    assert transports["b"].calls == []


async def test_open_breaker_skips_the_target_without_calling_it(clock: VirtualClock) -> None:
    """After three failures the primary is no longer called at all."""
    router, transports, _ = make_router(clock, {"a": [503], "b": [200]})
    for _ in range(10):
        served = await router.send(router.routes["chat"], body())
        assert served.target.provider == "b"
    assert len(transports["a"].calls) == 3
    assert router.routes["chat"].targets[0].health.breaker.state == "open"


async def test_half_open_trial_brings_the_primary_back(clock: VirtualClock) -> None:
    """Once open_for has passed, one request tries the primary and, on success, it serves again."""
    router, transports, _ = make_router(clock, {"a": [503, 503, 503, 200], "b": [200]})
    for _ in range(3):
        await router.send(router.routes["chat"], body())
    clock.advance(30.0)
    served = await router.send(router.routes["chat"], body())
    assert served.target.provider == "a"
    assert router.routes["chat"].targets[0].health.breaker.state == "closed"


async def test_rate_limited_target_rests_for_its_retry_after(clock: VirtualClock) -> None:
    """A 429 with Retry-After keeps the target out of rotation until then."""
    router, transports, _ = make_router(clock, {"a": [429, 200], "b": [200]}, retry_after=5.0)
    await router.send(router.routes["chat"], body())
    await router.send(router.routes["chat"], body())
    assert len(transports["a"].calls) == 1
    clock.advance(5.0)
    served = await router.send(router.routes["chat"], body())
    assert served.target.provider == "a"


async def test_every_target_failing_names_each_in_the_error(clock: VirtualClock) -> None:
    """When all fail, the error says what each target did and when to retry."""
    router, _, _ = make_router(clock, {"a": [503], "b": ["malformed"]})
    with pytest.raises(NoTargetAvailable) as caught:
        await router.send(router.routes["chat"], body())
    error = caught.value
    assert error.status == 502
    assert "a/a-model: 503" in error.message and "b/b-model: malformed" in error.message
    assert error.retry_after is not None and error.retry_after >= 1


async def test_every_target_hanging_is_a_gateway_timeout(clock: VirtualClock) -> None:
    """Attempts that all time out give 504."""
    router, _, _ = make_router(clock, {"a": ["hang"], "b": ["hang"]})
    with pytest.raises(NoTargetAvailable) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.status == 504
    assert "timed out after 50ms" in caught.value.message


async def test_nothing_available_is_503_without_any_call(clock: VirtualClock) -> None:
    """With every breaker open the router answers at once and calls nobody."""
    router, transports, _ = make_router(clock, {"a": [503], "b": [503]})
    for _ in range(3):
        with pytest.raises(NoTargetAvailable):
            await router.send(router.routes["chat"], body())
    calls = sum(len(t.calls) for t in transports.values())
    with pytest.raises(NoTargetAvailable) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.status == 503
    assert "circuit open for another 30s" in caught.value.message
    assert caught.value.retry_after == pytest.approx(30.0)
    assert sum(len(t.calls) for t in transports.values()) == calls


async def test_retries_after_a_backoff_when_a_pass_fails(clock: VirtualClock) -> None:
    """With retries, a failed pass is followed by a jittered pause and another pass."""
    router, transports, _ = make_router(clock, {"a": [503, 200]},
                                        route={"retries": 1, "backoff": {"base": "100ms", "max": "1s"}})
    before = clock.now()
    served = await router.send(router.routes["chat"], body())
    assert served.attempts == 2
    assert 0 <= clock.now() - before <= 0.1


async def test_the_deadline_bounds_the_retries(clock: VirtualClock) -> None:
    """No pass starts once the whole-request deadline would be passed."""
    router, transports, _ = make_router(clock, {"a": [503]},
                                        route={"retries": 10, "timeout": 1, "attempt_timeout": 0.05,
                                               "backoff": {"base": "1s", "max": "1s"}})
    with pytest.raises(NoTargetAvailable):
        await router.send(router.routes["chat"], body())
    assert len(transports["a"].calls) < 11


async def test_weighted_strategy_shares_traffic_by_weight(clock: VirtualClock) -> None:
    """Weights 3:1 send about three quarters of requests to the first target."""
    router, _, _ = make_router(clock, {"a": [200], "b": [200]}, route={
        "strategy": "weighted",
        "targets": [{"provider": "a", "model": "a-model", "weight": 3}, {"provider": "b", "model": "b-model"}]})
    counts = Counter([(await router.send(router.routes["chat"], body())).target.provider for _ in range(2000)])
    assert 0.70 < counts["a"] / 2000 < 0.80


async def test_stream_fails_over_before_the_first_byte(clock: VirtualClock) -> None:
    """A stream whose primary fails to open is served by the fallback, the failed one closed."""
    router, transports, _ = make_router(clock, {"a": [503], "b": [200]})
    served = await router.open_stream(router.routes["chat"], body())
    assert served.target.provider == "b"
    assert served.first.startswith(b"data: ")
    await served.stream.aclose()


async def test_target_that_cannot_carry_the_request_is_skipped(clock: VirtualClock) -> None:
    """A target whose family lacks a feature is skipped, not counted as a failure."""
    router, transports, bus = make_router(clock, {"a": [Untranslatable("n > 1")], "b": [200]})
    served = await router.send(router.routes["chat"], body())
    assert served.target.provider == "b" and served.attempts == 1
    assert router.routes["chat"].targets[0].health.breaker.state == "closed"
    assert any(isinstance(e, TargetSkipped) and e.reason == "n > 1" for e in bus.drain())


async def test_no_target_able_to_carry_the_request_is_a_400(clock: VirtualClock) -> None:
    """When no target can carry a feature, the client gets a 400 naming each reason."""
    router, _, _ = make_router(clock, {"a": [Untranslatable("n > 1")], "b": [Untranslatable("logprobs")]})
    with pytest.raises(InvalidRequest) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.status == 400 and caught.value.code == "unsupported_feature"
    assert "a/a-model: cannot carry this request: n > 1" in caught.value.message


async def test_hedge_starts_the_next_target_and_cancels_the_loser(clock: VirtualClock) -> None:
    """A slow first attempt is raced by the next target; the first to answer wins."""
    router, transports, bus = make_router(clock, {"a": ["slow"], "b": [200]},
                                          route={"hedge_after": "20ms", "attempt_timeout": 2})
    served = await router.send(router.routes["chat"], body())
    assert served.target.provider == "b"
    events = bus.drain()
    assert any(isinstance(e, HedgeStarted) and e.target == "b/b-model" for e in events)
    assert any(isinstance(e, HedgeCancelled) and e.target == "a/a-model" for e in events)


async def test_no_hedge_when_the_first_answers_in_time(clock: VirtualClock) -> None:
    """A first attempt faster than hedge_after runs alone."""
    router, transports, bus = make_router(clock, {"a": [200], "b": [200]}, route={"hedge_after": "200ms"})
    served = await router.send(router.routes["chat"], body())
    assert served.target.provider == "a" and transports["b"].calls == []
    assert not any(isinstance(e, HedgeStarted) for e in bus.drain())


async def test_p95_hedging_learns_the_targets_latency(clock: VirtualClock) -> None:
    """With hedge_after: p95 the delay follows the target's observed time to first byte."""
    router, _, _ = make_router(clock, {"a": [200], "b": [200]}, route={"hedge_after": "p95", "attempt_timeout": 2})
    plan = router.routes["chat"]
    assert plan.hedge_delay(plan.targets[0]) == pytest.approx(1.0)  # attempt_timeout / 2 until measured
    for _ in range(30):
        await router.send(plan, body())
    delay = plan.hedge_delay(plan.targets[0])
    assert delay is not None and delay < 0.05


async def test_hedged_streams_finishing_together_close_the_loser(clock: VirtualClock) -> None:
    """When both hedged attempts open a stream in the same instant, the one not used is closed."""
    import asyncio

    gate = asyncio.Event()
    router, transports, bus = make_router(clock, {"a": [gate], "b": [gate]},
                                          route={"hedge_after": "10ms", "attempt_timeout": 2})
    asyncio.get_running_loop().call_later(0.05, gate.set)
    served = await router.open_stream(router.routes["chat"], body())
    streams = transports["a"].streams + transports["b"].streams
    assert len(streams) == 2
    assert [stream.closed for stream in streams if stream is not served.stream] == [True]
    assert not any(isinstance(e, HedgeCancelled) for e in bus.drain())  # it finished; nothing was cancelled
    await served.stream.aclose()
