"""Fault selection: seeded probabilities, counts, path filters and composition."""

from __future__ import annotations

import random

import pytest

from releve.sim import Fault, FaultKind
from releve.sim._admin import parse_fault_set
from releve.sim._plan import FaultPlan

CHAT = "/v1/chat/completions"


def test_empty_plan_is_inactive_and_selects_nothing() -> None:
    """With no faults the plan reports inactive, which is the handlers' fast path."""
    plan = FaultPlan()
    assert not plan.active
    assert plan.select(CHAT) is None


def test_probability_draws_follow_the_seeded_rng() -> None:
    """A fault with probability p applies exactly when random.Random(seed) draws below p."""
    plan = FaultPlan([Fault(FaultKind.STATUS, probability=0.3)], seed=42)
    rng = random.Random(42)
    expected = [rng.random() < 0.3 for _ in range(200)]
    assert [plan.select(CHAT) is not None for _ in range(200)] == expected


def test_replacing_with_a_seed_restarts_the_sequence() -> None:
    """Two replacements with the same seed give the same decisions."""
    plan = FaultPlan()
    runs = []
    for _ in range(2):
        plan.replace([Fault(FaultKind.STATUS, probability=0.5)], seed=7)
        runs.append([plan.select(CHAT) is not None for _ in range(50)])
    assert runs[0] == runs[1]


def test_certain_and_impossible_faults_do_not_consume_draws() -> None:
    """Faults with probability 0 or 1 leave the RNG sequence of the others untouched."""
    alone = FaultPlan([Fault(FaultKind.STATUS, probability=0.5)], seed=1)
    mixed = FaultPlan(
        [
            Fault(FaultKind.LATENCY, ms=1),
            Fault(FaultKind.MALFORMED, probability=0.0),
            Fault(FaultKind.STATUS, probability=0.5),
        ],
        seed=1,
    )
    a = [alone.select(CHAT) is not None for _ in range(50)]
    b = []
    for _ in range(50):
        injection = mixed.select(CHAT)
        assert injection is not None
        assert FaultKind.MALFORMED not in injection.kinds
        b.append(injection.terminal is not None)
    assert a == b


def test_count_limits_applications_then_the_fault_disappears() -> None:
    """A fault with count N applies to the next N matching requests and is then removed."""
    plan = FaultPlan([Fault(FaultKind.STATUS, count=2)])
    assert plan.describe() == [{"kind": "status", "count": 2, "status": 500, "remaining": 2}]
    assert plan.select(CHAT) is not None
    assert plan.describe()[0]["remaining"] == 1
    assert plan.select(CHAT) is not None
    assert plan.select(CHAT) is None
    assert not plan.active


def test_paths_filter_limits_where_a_fault_applies() -> None:
    """A fault with paths applies only to those paths, and its count is spent only there."""
    plan = FaultPlan([Fault(FaultKind.STATUS, paths=("/v1/embeddings",), count=1)])
    assert plan.select(CHAT) is None
    assert plan.select("/v1/embeddings") is not None
    assert plan.select("/v1/embeddings") is None


def test_paths_with_a_star_are_globs() -> None:
    """A path pattern with `*` matches every model or deployment; one without stays exact."""
    plan = FaultPlan([Fault(FaultKind.STATUS, paths=("/v1beta/models/*:streamGenerateContent", "/v1/messages"))])
    assert plan.select("/v1beta/models/gemini-2.0-flash:streamGenerateContent") is not None
    assert plan.select("/v1beta/models/gemini-2.0-flash:generateContent") is None
    assert plan.select("/v1/messages") is not None
    assert plan.select("/v1/messages/count_tokens") is None


def test_faults_compose_into_one_injection() -> None:
    """Latencies add up, the first terminal fault wins, and limits take the strictest value."""
    plan = FaultPlan(
        [
            Fault(FaultKind.LATENCY, ms=100),
            Fault(FaultKind.LATENCY, ms=50),
            Fault(FaultKind.RATE_LIMIT),
            Fault(FaultKind.STATUS, status=503),
            Fault(FaultKind.STREAM_CUT, after_chunks=5),
            Fault(FaultKind.STREAM_CUT, after_chunks=2),
            Fault(FaultKind.CHUNK_DELAY, ms=10),
            Fault(FaultKind.BANDWIDTH, bytes_per_second=500),
            Fault(FaultKind.BANDWIDTH, bytes_per_second=100),
            Fault(FaultKind.SLICER, size=4, delay_ms=1),
            Fault(FaultKind.LIMIT_DATA, limit_bytes=10),
            Fault(FaultKind.SLOW_CLOSE, ms=30),
            Fault(FaultKind.MALFORMED),
        ]
    )
    injection = plan.select(CHAT)
    assert injection is not None
    assert injection.delay_s == pytest.approx(0.15)
    assert injection.terminal is not None and injection.terminal.kind is FaultKind.RATE_LIMIT
    assert injection.cut_after == 2
    assert injection.chunk_delay_s == pytest.approx(0.01)
    assert injection.bytes_per_second == 100
    assert injection.slice_size == 4
    assert injection.slice_delay_s == pytest.approx(0.001)
    assert injection.limit_bytes == 10
    assert injection.slow_close_s == pytest.approx(0.03)
    assert injection.malformed and injection.shapes_wire
    assert len(injection.kinds) == 13


def test_latency_jitter_stays_within_bounds_and_never_goes_negative() -> None:
    """Jitter moves the delay by at most jitter_ms either way, clamped at zero."""
    plan = FaultPlan([Fault(FaultKind.LATENCY, ms=10, jitter_ms=20)], seed=3)
    delays = []
    for _ in range(100):
        injection = plan.select(CHAT)
        assert injection is not None
        delays.append(injection.delay_s)
    assert all(0.0 <= d <= 0.03 for d in delays)
    assert len(set(delays)) > 10


@pytest.mark.parametrize(
    ("body", "kinds", "seed"),
    [
        ({"kind": "status"}, ["status"], None),
        ([{"kind": "status"}, {"kind": "malformed"}], ["status", "malformed"], None),
        ({"faults": [{"kind": "hang"}], "seed": 42}, ["hang"], 42),
        ({"faults": []}, [], None),
    ],
)
def test_admin_body_forms_are_all_accepted(body: object, kinds: list[str], seed: int | None) -> None:
    """POST /_faults takes one fault, a list, or an object with faults and a seed."""
    faults, got_seed = parse_fault_set(body)
    assert [f.kind.value for f in faults] == kinds
    assert got_seed == seed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"kind": "status"}, {"kind": "latency"}], r"faults\[1\]: .*'ms'"),
        ({"faults": [], "seed": "x"}, "'seed'"),
        ({"faults": {"kind": "status"}}, "'faults'"),
        ({"fault": []}, "'fault'"),
    ],
)
def test_admin_body_errors_point_at_the_bad_item(body: object, message: str) -> None:
    """A bad admin body names the list index or the field that is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_fault_set(body)
