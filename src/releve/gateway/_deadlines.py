"""Attempt timeouts for thousands of requests with one timer.

`asyncio.timeout()` costs about 5 µs per use here (a Timeout object and a
TimerHandle pushed into and removed from the loop's heap), paid on every
attempt of every request. Attempt timeouts are seconds long and need no
sub-millisecond precision, so requests share a wheel of 10 ms slots: arming
and disarming are a set insertion and removal, and one repeating timer
cancels whatever has expired. A deadline fires at most one tick late.

Cancellation follows `asyncio.timeout`'s rules: the wheel cancels the task,
and `expired()` turns that cancellation into a timeout only if nothing else
cancelled the task too (a client that left, a shutdown).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

__all__ = ["Armed", "DeadlineWheel"]

TICK = 0.01


class Armed:
    """One armed deadline. For an idle timeout, `renew()` it on activity and `pause()` it
    while waiting on something else: per chunk that is two attribute writes, not a
    re-arm (the sweep re-files a renewed deadline instead of firing it)."""

    __slots__ = ("active", "cancelling", "expires", "fired", "loop", "slot", "task", "timeout")

    def __init__(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop, timeout: float,
                 expires: float, slot: int) -> None:
        self.task = task
        self.loop = loop
        self.timeout = timeout
        self.expires = expires
        self.slot = slot
        self.active = True
        self.fired = False
        self.cancelling = task.cancelling()

    def renew(self) -> None:
        self.expires = self.loop.time() + self.timeout
        self.active = True

    def pause(self) -> None:
        self.active = False

    def expired(self) -> bool:
        """Call on CancelledError: True when this deadline, and only it, cancelled the task."""
        return self.fired and self.task.uncancel() <= self.cancelling


class DeadlineWheel:
    """Per event loop: create it inside the running loop (lifespan start-up)."""

    def __init__(self, tick: float = TICK) -> None:
        self._tick = tick
        self._loop = asyncio.get_running_loop()
        self._slots: dict[int, set[Armed]] = {}
        self._next = 0  # the first slot not yet swept
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, timeout: float) -> Armed:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        now = self._loop.time()
        if self._timer is None:  # idle until now: nothing is armed, start ticking from here
            self._next = math.floor(now / self._tick) + 1
            self._timer = self._loop.call_at(self._next * self._tick, self._sweep)
        expires = now + timeout
        armed = Armed(task, self._loop, timeout, expires, 0)
        self._file(armed, expires)
        return armed

    def _file(self, armed: Armed, expires: float) -> None:
        slot = armed.slot = max(self._next, math.ceil(expires / self._tick))
        bucket = self._slots.get(slot)
        if bucket is None:
            bucket = self._slots[slot] = set()
        bucket.add(armed)

    def disarm(self, armed: Armed) -> None:
        bucket = self._slots.get(armed.slot)
        if bucket is not None:
            bucket.discard(armed)
            if not bucket:
                del self._slots[armed.slot]

    @property
    def armed(self) -> int:
        return sum(len(bucket) for bucket in self._slots.values())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        time_now = self._loop.time()
        now = math.floor(time_now / self._tick)
        due: list[Armed] = []
        for slot in range(self._next, now + 1):
            bucket = self._slots.pop(slot, None)
            if bucket:
                due.extend(bucket)
        self._next = max(self._next, now + 1)
        for armed in due:
            if not armed.active:  # paused: look again one timeout from now
                self._file(armed, time_now + armed.timeout)
            elif armed.expires > time_now:  # renewed since it was filed
                self._file(armed, armed.expires)
            else:
                armed.fired = True
                armed.task.cancel()
        # Tick while anything is armed; an idle gateway has no timer at all.
        self._timer = self._loop.call_at(self._next * self._tick, self._sweep) if self._slots else None
