"""Drill faults: the fault table (TTL, drill-only, probability), its checks, and the router acting them out."""

from __future__ import annotations

import contextvars
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from releve.clock import VirtualClock
from releve.config import config_from_mapping
from releve.errors import InvalidRequest, NoTargetAvailable, UpstreamError
from releve.gateway import (
    DRILL,
    EventBus,
    Fault,
    FaultKind,
    FaultSpec,
    FaultTable,
    Router,
    Target,
    build_routes,
    mark_drill,
    parse_fault,
)
from support.scripted import ScriptedTransport

WALL = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def table(clock: VirtualClock, *, seed: int = 7, expired: list[tuple[Fault, int]] | None = None) -> FaultTable:
    return FaultTable(clock=clock, wall=lambda: WALL, regions={"a": "us", "b": "eu"}, rng=random.Random(seed),
                      on_expired=lambda fault, hits: (expired if expired is not None else []).append((fault, hits)))


def make_router(clock: VirtualClock, scripts: dict[str, list[Any]], faults: FaultTable) -> tuple[Router, dict[
        str, ScriptedTransport]]:
    names = list(scripts)
    config = config_from_mapping({
        "auth": "none",
        "breaker": {"consecutive_failures": 3, "open_for": 30},
        "providers": {name: {"kind": "openai-compatible", "base_url": f"http://{name}.invalid/v1"} for name in names},
        "routes": {"chat": {"targets": [{"provider": name, "model": f"{name}-model"} for name in names],
                            "attempt_timeout": 0.05, "timeout": 5, "retries": 0}},
    })
    transports = {name: ScriptedTransport(name, script) for name, script in scripts.items()}
    return Router(build_routes(config, transports, clock), clock, EventBus(), random.Random(1),
                  faults=faults), transports


def body() -> dict[str, object]:
    return {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def spec(**fields: Any) -> FaultSpec:
    return parse_fault({"ttl": 60, "kind": "error", **fields})


def target_of(router: Router, index: int) -> Target:
    return router.routes["chat"].targets[index]


# --- checks ---------------------------------------------------------------------------------------------


def test_parse_fault_fills_the_defaults_of_each_kind() -> None:
    """error defaults to 503, rate_limit to Retry-After 1 s; a TTL may be written as a duration."""
    error = parse_fault({"target": "a/a-model", "kind": "error", "ttl": "5m"})
    assert (error.kind, error.status, error.ttl, error.probability, error.drill_only) == (
        FaultKind.ERROR, 503, 300.0, 1.0, False)
    limited = parse_fault({"provider": "a", "kind": "rate_limit", "ttl": 30})
    assert (limited.status, limited.retry_after, limited.scope) == (None, 1.0, "provider a")
    slow = parse_fault({"region": "eu", "kind": "latency", "ms": 250, "ttl": 30, "probability": 0.5,
                        "drill_only": True, "drill": "d1"})
    assert (slow.ms, slow.scope, slow.probability, slow.drill) == (250, "region eu", 0.5, "d1")
    assert parse_fault(slow.to_json()) == slow  # what a drill sends is what the gateway reads back


@pytest.mark.parametrize(("data", "words"), [
    ({"kind": "error", "target": "a/a-model"}, "'ttl' is required"),
    ({"kind": "error", "target": "a/a-model", "ttl": "2h"}, "at most 3600s"),
    ({"kind": "error", "target": "a/a-model", "ttl": 0}, "more than 0"),
    ({"kind": "error", "target": "a/a-model", "ttl": "soon"}, "'ttl'"),
    ({"kind": "error", "ttl": 60}, "exactly one of"),
    ({"kind": "error", "target": "a/a-model", "provider": "a", "ttl": 60}, "exactly one of"),
    ({"kind": "explode", "target": "a/a-model", "ttl": 60}, "'kind' must be one of"),
    ({"kind": "latency", "target": "a/a-model", "ttl": 60}, "needs 'ms'"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "ms": 10}, "'ms' applies to kind latency only"),
    ({"kind": "hang", "target": "a/a-model", "ttl": 60, "status": 500}, "'status' applies to kind error only"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "status": 200}, "'status' must be a number from 400"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "status": 503.5}, "whole number"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "probability": 0}, "more than 0"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "probability": True}, "'probability'"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "drill_only": "yes"}, "true or false"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "drill": ""}, "drill id"),
    ({"kind": "error", "target": "", "ttl": 60}, "non-empty"),
    ({"kind": "error", "target": "a/a-model", "ttl": 60, "colour": "red"}, "unknown field 'colour'"),
])
def test_parse_fault_names_what_is_wrong(data: dict[str, Any], words: str) -> None:
    """Each refusal names the field and what it accepts."""
    with pytest.raises(InvalidRequest) as caught:
        parse_fault(data)
    assert words in str(caught.value)


def test_parse_fault_checks_names_against_the_gateway() -> None:
    """A target, provider or region the gateway does not know is refused with the known ones listed."""
    with pytest.raises(InvalidRequest) as caught:
        parse_fault({"kind": "hang", "target": "a/other", "ttl": 60}, targets={"a/a-model"})
    assert caught.value.code == "unknown_target" and "a/a-model" in str(caught.value)
    with pytest.raises(InvalidRequest) as caught:
        parse_fault({"kind": "hang", "region": "mars", "ttl": 60}, regions=set())
    assert "none configured" in str(caught.value)


# --- the table ------------------------------------------------------------------------------------------


def test_an_empty_table_is_not_armed_and_a_fault_arms_it(clock: VirtualClock) -> None:
    """`armed` is the one thing the router reads: False until a fault is set, False again once removed."""
    faults = table(clock)
    assert faults.armed is False
    fault = faults.add(spec(target="a/a-model"))
    assert faults.armed is True
    assert fault.expires_at == datetime(2026, 3, 1, 10, 1, tzinfo=UTC)
    assert [f.id for f, _ in faults.faults()] == [fault.id]
    removed = faults.remove(fault.id)
    assert removed is not None and removed[0] == fault
    assert faults.armed is False
    assert faults.remove(fault.id) is None


def test_a_fault_past_its_ttl_is_ignored_and_dropped(clock: VirtualClock) -> None:
    """A drill that died cannot leave a provider broken: past the TTL the fault stops and is reported expired."""
    expired: list[tuple[Fault, int]] = []
    faults = table(clock, expired=expired)
    router, _ = make_router(clock, {"a": [200], "b": [200]}, faults)
    fault = faults.add(spec(target="a/a-model", ttl=10))
    assert faults.pick(target_of(router, 0)) == fault
    clock.advance(9.9)
    assert faults.pick(target_of(router, 0)) == fault
    clock.advance(0.1)
    assert faults.pick(target_of(router, 0)) is None
    assert faults.armed is False and faults.faults() == []
    assert [(f.id, hits) for f, hits in expired] == [(fault.id, 2)]


def test_faults_match_a_target_a_provider_or_a_region(clock: VirtualClock) -> None:
    """The scope decides which targets a fault touches; the others are untouched."""
    faults = table(clock)
    router, _ = make_router(clock, {"a": [200], "b": [200]}, faults)
    a, b = target_of(router, 0), target_of(router, 1)
    for scoped, hit in (({"target": "b/b-model"}, b), ({"provider": "a"}, a), ({"region": "eu"}, b)):
        fault = faults.add(spec(**scoped))
        assert faults.pick(hit) == fault
        assert faults.pick(a if hit is b else b) is None
        faults.remove(fault.id)


def test_drill_only_faults_touch_marked_requests_only(clock: VirtualClock) -> None:
    """Without x-releve-drill a request is untouched; with a drill id, only that drill's requests are hit."""
    faults = table(clock)
    router, _ = make_router(clock, {"a": [200]}, faults)
    a = target_of(router, 0)
    any_drill = faults.add(spec(target="a/a-model", drill_only=True))

    def pick_as(drill: str | None) -> Fault | None:
        def run() -> Fault | None:
            if drill is not None:
                mark_drill([(b"authorization", b"Bearer x"), (b"x-releve-drill", drill.encode())])
            return faults.pick(a)
        return contextvars.copy_context().run(run)

    assert pick_as(None) is None
    assert pick_as("drill-1") == any_drill
    faults.remove(any_drill.id)
    only_mine = faults.add(spec(target="a/a-model", drill_only=True, drill="drill-1"))
    assert pick_as("drill-2") is None
    assert pick_as("drill-1") == only_mine
    assert DRILL.get() is None  # each request's context is its own


def test_probability_draws_from_the_tables_rng(clock: VirtualClock) -> None:
    """With a seeded RNG the hits are reproducible: exactly the draws under the probability."""
    faults = table(clock, seed=42)
    router, _ = make_router(clock, {"a": [200]}, faults)
    fault = faults.add(spec(target="a/a-model", probability=0.3))
    hits = [faults.pick(target_of(router, 0)) is not None for _ in range(1000)]
    replay = random.Random(42)
    assert hits == [replay.random() < 0.3 for _ in range(1000)]
    assert 250 < sum(hits) < 350
    assert dict((f.id, n) for f, n in faults.faults()) == {fault.id: sum(hits)}


# --- the router acting them out -------------------------------------------------------------------------


async def test_an_error_fault_fails_over_without_calling_the_provider(clock: VirtualClock) -> None:
    """The faulted target is never called; the fallback answers, as in a real outage."""
    faults = table(clock)
    router, transports = make_router(clock, {"a": [200], "b": [200]}, faults)
    faults.add(spec(target="a/a-model", status=502))
    served = await router.send(router.routes["chat"], body())
    assert (served.target.label, served.attempts) == ("b/b-model", 2)
    assert transports["a"].calls == []


async def test_a_client_mistake_fault_is_relayed_not_failed_over(clock: VirtualClock) -> None:
    """A 400 acts like the provider refusing the request: relayed with a body, no failover."""
    faults = table(clock)
    router, transports = make_router(clock, {"a": [200], "b": [200]}, faults)
    faults.add(spec(target="a/a-model", status=400))
    with pytest.raises(UpstreamError) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.upstream_status == 400 and not caught.value.retryable and caught.value.body
    assert transports["b"].calls == []


async def test_a_rate_limit_fault_rests_the_target(clock: VirtualClock) -> None:
    """429 with Retry-After: the target is left alone for that long, as the router does for real ones."""
    faults = table(clock)
    router, _ = make_router(clock, {"a": [200], "b": [200]}, faults)
    faults.add(parse_fault({"target": "a/a-model", "kind": "rate_limit", "retry_after": 20, "ttl": 60}))
    served = await router.send(router.routes["chat"], body())
    assert served.target.label == "b/b-model"
    assert target_of(router, 0).health.cooldown_until == pytest.approx(clock.now() + 20)


async def test_a_hang_fault_times_the_attempt_out(clock: VirtualClock) -> None:
    """A hang lasts until the attempt's deadline, then the next target answers."""
    faults = table(clock)
    router, transports = make_router(clock, {"a": [200], "b": [200]}, faults)
    faults.add(parse_fault({"provider": "a", "kind": "hang", "ttl": 60}))
    served = await router.send(router.routes["chat"], body())
    assert served.target.label == "b/b-model" and transports["a"].calls == []


async def test_a_hang_on_every_target_ends_in_a_timeout(clock: VirtualClock) -> None:
    """Every target hanging: the client gets the router's 504, nothing waits forever."""
    faults = table(clock)
    router, _ = make_router(clock, {"a": [200]}, faults)
    faults.add(parse_fault({"provider": "a", "kind": "hang", "ttl": 60}))
    with pytest.raises(NoTargetAvailable) as caught:
        await router.send(router.routes["chat"], body())
    assert caught.value.status == 504


async def test_a_latency_fault_waits_then_calls(clock: VirtualClock) -> None:
    """Latency adds its milliseconds on the router's clock, then the real call is made."""
    faults = table(clock)
    router, transports = make_router(clock, {"a": [200]}, faults)
    faults.add(parse_fault({"target": "a/a-model", "kind": "latency", "ms": 30, "ttl": 60}))
    before = clock.now()
    served = await router.send(router.routes["chat"], body())
    assert served.target.label == "a/a-model" and len(transports["a"].calls) == 1
    assert clock.now() - before == pytest.approx(0.03)


async def test_a_stream_cut_breaks_the_stream_after_its_first_event(clock: VirtualClock) -> None:
    """The first event arrives; the next read fails as a broken connection would; plain requests pass."""
    faults = table(clock)
    router, _ = make_router(clock, {"a": [200]}, faults)
    fault = faults.add(parse_fault({"target": "a/a-model", "kind": "stream_cut", "ttl": 60}))
    served = await router.open_stream(router.routes["chat"], {**body(), "stream": True})
    assert served.first == b'data: {"from": "a"}\n\n'
    with pytest.raises(UpstreamError, match="mid-stream"):
        await anext(served.chunks)
    await served.stream.aclose()
    assert (await router.send(router.routes["chat"], body())).target.label == "a/a-model"
    assert dict((f.id, n) for f, n in faults.faults()) == {fault.id: 1}


async def test_a_router_without_faults_never_consults_the_table(clock: VirtualClock,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The default table is empty: the request path reads `armed` and nothing else."""
    router, _ = make_router(clock, {"a": [200]}, table(clock))

    async def never(*args: object) -> None:
        raise AssertionError("consulted while empty")

    monkeypatch.setattr(router.faults, "attempt", never)
    assert (await router.send(router.routes["chat"], body())).target.label == "a/a-model"
    assert Router(router.routes, clock, EventBus()).faults.armed is False


def test_mark_drill_ignores_requests_without_the_header() -> None:
    """No header, no drill id."""
    def run() -> str | None:
        mark_drill([(b"authorization", b"Bearer x")])
        return DRILL.get()
    assert contextvars.copy_context().run(run) is None
