"""Retry and backoff as small immutable values: a policy decides, the router sleeps."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`retries` more passes over a route's targets after the first, with backoff between.

    Failing over to another target is immediate; the backoff only applies
    before going round the targets again. Full jitter (AWS's "Exponential
    Backoff and Jitter") keeps clients that failed together from retrying
    together.
    """

    retries: int = 1
    base: float = 0.1
    cap: float = 2.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        return rng.uniform(0.0, min(self.cap, self.base * (2**retry)))
