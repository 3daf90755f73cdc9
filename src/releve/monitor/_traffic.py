"""Traffic per route and minute for cost reports, recorded by every process from its own request counters.

Each process (replica or worker) counts only the requests it served, so each
records its own: the store's `add_traffic` adds them up. While the store is
unreachable the counts wait in a local spool, merged by (route, minute), so
the spool grows with routes × minutes of the outage, not with requests; past
`spool_minutes` distinct minutes the oldest are dropped (and counted). A row
leaves the spool only once its write returned, so each count is written once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from releve.clock import MONOTONIC, Clock
from releve.errors import StoreError
from releve.gateway import GatewayMetrics
from releve.store import Store, TrafficMinute

__all__ = ["TrafficRecorder"]

logger = logging.getLogger("releve.monitor")

# Request outcomes kept per route and minute (the `TrafficMinute` count each adds to). A hit in an `always`
# response cache was answered, so it is served; a deferred request (202 and a job) is kept apart.
_OUTCOMES = {"served": "served", "cached": "served", "fallback": "fallback", "degraded": "degraded",
                    "deferred": "deferred", "failed": "failed"}
_FIELDS = ("served", "fallback", "degraded", "deferred", "failed")
_INDEX = {outcome: _FIELDS.index(name) for outcome, name in _OUTCOMES.items()}
_CHUNK = 1000   # rows per write: after a long outage, many short transactions rather than one huge one


class TrafficRecorder:
    """Samples the process's request counters every `every` seconds and adds the new requests to the store.

    `start()` runs the loop; `flush()` is one sample and write (tests call it);
    `close()` stops the loop after a last flush. May be started again after
    `close()`: the counters' last values are kept, so nothing is counted twice.
    """

    def __init__(self, metrics: GatewayMetrics, store: Store, *, wall: Callable[[], datetime], every: float = 10.0,
                 spool_minutes: int = 7 * 24 * 60, clock: Clock = MONOTONIC) -> None:
        if spool_minutes < 1:
            raise ValueError(f"spool_minutes must be at least 1, not {spool_minutes}")
        self._metrics = metrics
        self._store = store
        self._wall = wall
        self._every = every
        self._clock = clock
        self._spool_minutes = spool_minutes
        self._last_counts: dict[tuple[str, str, str], int] = {}
        # minute -> route -> counts in `_FIELDS` order; written, then removed.
        self._spool: dict[datetime, dict[str, list[int]]] = {}
        self._lock = asyncio.Lock()     # one flush at a time: a row leaves the spool only once written
        self._task: asyncio.Task[None] | None = None
        self._down = False          # the last write failed: the outage is logged once
        self._kept = 0              # rows written since the store came back, for the recovery log line
        self._dropped_logged = False
        self._dropped_before = 0    # `dropped_minutes` when the outage began
        self.dropped_minutes = 0    # minutes dropped from a full spool since start-up

    @property
    def spooled(self) -> int:
        """(route, minute) rows waiting to be written."""
        return sum(len(routes) for routes in self._spool.values())

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._loop(), name="releve-traffic")

    async def close(self) -> None:
        """Stop, then make a last flush (best effort).

        A write in progress is let finish: cancelling it would not stop its
        thread, and the rows it may have committed would be written again.
        """
        task, self._task = self._task, None
        if task is not None:
            async with self._lock:   # the loop is now sleeping or waiting for the lock: both safe to cancel
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._last_flush()

    async def _loop(self) -> None:
        while True:
            await self._clock.sleep(self._every)
            try:
                await self.flush()
            except Exception:
                logger.exception("recording traffic failed; trying again at the next flush")

    async def _last_flush(self) -> None:
        try:
            await self.flush()
        except Exception:
            logger.exception("last traffic flush failed")
        if self._spool:
            logger.error("%d traffic minutes could not be written before stopping: the cost reports will miss "
                         "them unless this recorder is started again", self.spooled)

    # --- one flush ----------------------------------------------------------------------------

    async def flush(self) -> None:
        """Add the requests counted since the last sample to the spool, then write the spool."""
        async with self._lock:
            self._sample()
            await self._write()

    def _sample(self) -> None:
        counts = self._metrics.request_counts()
        minute = self._wall().replace(second=0, microsecond=0)
        for key, (count, _) in counts.items():
            delta = count - self._last_counts.get(key, 0)
            self._last_counts[key] = count
            index = _INDEX.get(key[2])
            if delta <= 0 or index is None:
                continue
            row = self._spool.setdefault(minute, {}).setdefault(key[0], [0] * len(_FIELDS))
            row[index] += delta
        self._cap()

    def _cap(self) -> None:
        excess = len(self._spool) - self._spool_minutes
        if excess <= 0:
            return
        for minute in sorted(self._spool)[:excess]:
            del self._spool[minute]
        self.dropped_minutes += excess
        if not self._dropped_logged:
            self._dropped_logged = True
            logger.warning("traffic spool full (%d minutes): dropping the oldest minutes; cost reports will "
                           "undercount them", self._spool_minutes)

    async def _write(self) -> None:
        while self._spool:
            chunk: list[TrafficMinute] = []
            for minute in sorted(self._spool):
                for route, counts in self._spool[minute].items():
                    chunk.append(TrafficMinute(route, minute, **dict(zip(_FIELDS, counts, strict=True))))
                if len(chunk) >= _CHUNK:
                    break
            try:
                await asyncio.to_thread(self._store.add_traffic, chunk)
            except StoreError as exc:
                if not self._down:
                    self._down = True
                    self._dropped_before = self.dropped_minutes
                    logger.warning("traffic minutes cannot be written (%s): keeping them (at most %d minutes) "
                                   "until the store answers", exc, self._spool_minutes)
                return
            for row in chunk:       # whole minutes were taken; nothing else touches the spool meanwhile
                self._spool.pop(row.minute, None)
            if self._down:
                self._kept += len(chunk)
        if self._down:
            dropped = self.dropped_minutes - self._dropped_before
            logger.warning("store answers again: written %d traffic minutes kept during the outage%s", self._kept,
                           f" ({dropped} older minutes were dropped)" if dropped else "")
            self._down = False
            self._kept = 0
            self._dropped_logged = False
