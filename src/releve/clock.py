"""One clock for everything that measures time, so tests can drive it.

The breaker, the router (deadlines, backoff) and the probes take a `Clock`;
`VirtualClock` lets a test open a breaker and reach half-open without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["MONOTONIC", "Clock", "MonotonicClock", "VirtualClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


MONOTONIC = MonotonicClock()


class VirtualClock:
    """A clock that moves only when told to: `advance()` or a `sleep()` call."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)
