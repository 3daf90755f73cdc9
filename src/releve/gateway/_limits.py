"""Capacity when it is short: a provider's `max_concurrency`, shared by priority.

During an incident the fallback often has a fraction of the primary's
capacity. Requests past the limit wait for a slot at most `queue_timeout`,
high-priority clients first, and are then refused at once with a clear 503:
a fast honest refusal beats a timeout nobody can act on.

The client's priority travels in a context variable set by the inbound API,
so the router's signatures stay as they are and routes without a limit pay
nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextvars import ContextVar

__all__ = ["CLIENT_PRIORITY", "HIGH", "LOW", "MARKED_PERSONAL", "NORMAL", "ConcurrencyLimiter"]

HIGH, NORMAL, LOW = 0, 1, 2
CLIENT_PRIORITY: ContextVar[int] = ContextVar("releve_client_priority", default=NORMAL)
# Set by the inbound API when the client marked the request `x-releve-data: personal` (it may raise the
# route's data class, never lower it); the router reads it with the same zero cost when unset.
MARKED_PERSONAL: ContextVar[bool] = ContextVar("releve_marked_personal", default=False)


class ConcurrencyLimiter:
    """At most `limit` slots; waiters are served by (priority, arrival), a freed slot handed over directly."""

    __slots__ = ("_order", "_waiters", "in_flight", "limit", "refused", "timeout")

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self.in_flight = 0
        self.refused = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int, wait: float) -> bool:
        """True with a slot held (call `release` after); False when none came within `wait` seconds."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), waiter))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return True  # handed a slot in the same instant the wait ran out: keep it
            waiter.cancel()
            self.refused += 1
            return False
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was ours: pass it on
            else:
                waiter.cancel()
            raise
        return True

    def release(self) -> None:
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():
                waiter.set_result(None)  # the slot goes to the waiter; in_flight is unchanged
                return
        self.in_flight -= 1
