"""Retry backoff: exponential, capped, fully jittered."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from releve.gateway import RetryPolicy


@given(retry=st.integers(min_value=0, max_value=30), seed=st.integers())
def test_delay_is_within_the_capped_exponential(retry: int, seed: int) -> None:
    """Each delay lies in [0, min(cap, base·2^retry)]."""
    policy = RetryPolicy(retries=3, base=0.1, cap=2.0)
    delay = policy.delay(retry, random.Random(seed))
    assert 0.0 <= delay <= min(2.0, 0.1 * 2**retry)


def test_delays_are_jittered() -> None:
    """Two clients retrying together do not wait the same time."""
    policy = RetryPolicy(retries=3, base=1.0, cap=10.0)
    rng = random.Random(7)
    assert len({round(policy.delay(3, rng), 6) for _ in range(20)}) == 20
