"""Sliding windows of successes and failures, one bucket per evaluation tick.

The monitor adds counts between ticks and closes a bucket at each tick, so a
window is a fixed number of buckets and reading it is a sum over a deque: no
per-request timestamps are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

__all__ = ["SlidingCounts"]


class SlidingCounts:
    __slots__ = ("_buckets", "_latency", "_latency_bounds", "_open_latency", "failed", "ok")

    def __init__(self, size: int, latency_bounds: Sequence[float] = ()) -> None:
        self._buckets: deque[tuple[int, int]] = deque(maxlen=max(1, size))
        self._latency: deque[tuple[int, ...]] = deque(maxlen=max(1, size))
        self._latency_bounds = tuple(latency_bounds)
        self.ok = 0       # the open bucket, filled until the next `close()`
        self.failed = 0
        self._open_latency = [0] * (len(self._latency_bounds) + 1)

    def add(self, ok: int = 0, failed: int = 0) -> None:
        self.ok += ok
        self.failed += failed

    def add_latency(self, buckets: Sequence[int]) -> None:
        for index, count in enumerate(buckets):
            self._open_latency[index] += count

    def close(self) -> None:
        self._buckets.append((self.ok, self.failed))
        self._latency.append(tuple(self._open_latency))
        self.ok = self.failed = 0
        self._open_latency = [0] * (len(self._latency_bounds) + 1)

    def totals(self) -> tuple[int, int]:
        """(successes, failures) over the closed buckets."""
        ok = failed = 0
        for bucket_ok, bucket_failed in self._buckets:
            ok += bucket_ok
            failed += bucket_failed
        return ok, failed

    def failure_rate(self, min_samples: int) -> float | None:
        ok, failed = self.totals()
        total = ok + failed
        return None if total < min_samples else failed / total

    def percentile(self, fraction: float, min_samples: int) -> float | None:
        """Upper bound of the latency bucket holding the percentile; None with too few samples."""
        if not self._latency_bounds:
            return None
        counts = [sum(column) for column in zip(*self._latency, strict=True)] if self._latency else []
        total = sum(counts)
        if total < min_samples:
            return None
        rank = fraction * total
        seen = 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= rank:
                return self._latency_bounds[index] if index < len(self._latency_bounds) else float("inf")
        return float("inf")
