"""What the gateway tells the rest of Relève, through a bounded queue.

The request path never waits on a consumer: when the bus is full the oldest
event is dropped and counted, so monitoring falls behind before clients do.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

__all__ = [
    "AttemptFailed",
    "BreakerChanged",
    "DataDecision",
    "Event",
    "EventBus",
    "HedgeCancelled",
    "HedgeStarted",
    "RequestFailed",
    "ServedByFallback",
    "StreamRecovered",
    "TargetSkipped",
]


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    route: str
    target: str
    kind: str          # timeout | network | malformed | http_<status>
    reason: str
    status: int | None
    at: float


@dataclass(frozen=True, slots=True)
class BreakerChanged:
    target: str
    old: str
    new: str
    at: float


@dataclass(frozen=True, slots=True)
class ServedByFallback:
    route: str
    target: str
    attempts: int
    at: float


@dataclass(frozen=True, slots=True)
class RequestFailed:
    route: str
    status: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class TargetSkipped:
    """A target was not tried because it cannot carry this request (a feature its family lacks)."""

    route: str
    target: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class HedgeStarted:
    route: str
    target: str  # the extra target started because the first was slow
    at: float


@dataclass(frozen=True, slots=True)
class HedgeCancelled:
    route: str
    target: str  # the attempt that lost the race; its upstream connection was closed
    at: float


@dataclass(frozen=True, slots=True)
class StreamRecovered:
    route: str
    failed: str
    target: str
    at: float


@dataclass(frozen=True, slots=True)
class DataDecision:
    """How a data policy routed one request (restricted routes only): what the audit log records. No content."""

    route: str
    personal: bool
    pii: tuple[tuple[str, int], ...]      # kinds found and how many
    tried: tuple[str, ...]                # targets that received the request (pseudonymised ones marked)
    refused: tuple[str, ...]              # targets the policy kept it from
    regions: tuple[str, ...]
    outcome: str                          # served | refused | failed
    at: float


Event = (AttemptFailed | BreakerChanged | ServedByFallback | RequestFailed | TargetSkipped | HedgeStarted
         | HedgeCancelled | StreamRecovered | DataDecision)


class EventBus:
    def __init__(self, maxsize: int = 10_000) -> None:
        self._events: deque[Event] = deque(maxlen=maxsize)
        self._waiter: asyncio.Event | None = None
        self.dropped = 0
        self.published = 0

    def publish(self, event: Event) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append(event)
        self.published += 1
        if self._waiter is not None:
            self._waiter.set()

    def drain(self) -> list[Event]:
        events = list(self._events)
        self._events.clear()
        return events

    async def wait(self) -> list[Event]:
        """Wait until at least one event is queued, then take them all."""
        while not self._events:
            if self._waiter is None:
                self._waiter = asyncio.Event()
            self._waiter.clear()
            await self._waiter.wait()
        return self.drain()
