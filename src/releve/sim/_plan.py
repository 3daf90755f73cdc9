"""The active fault set, and the decision, per request, of which faults apply.

Decisions use one `random.Random(seed)` so that a drill or a test replayed with
the same seed and the same request sequence sees the same failures. The RNG is
drawn only for faults whose probability is strictly between 0 and 1, so adding
a certain fault does not shift the draws of the others.

The chosen faults are folded into one `Injection`, the only thing the
response writers look at: they never need to know how it was composed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ._faults import Fault, FaultKind

__all__ = ["FaultPlan", "Injection"]

# Faults that decide the whole outcome of a request; the first selected one wins.
_TERMINAL = frozenset(
    {FaultKind.STATUS, FaultKind.RATE_LIMIT, FaultKind.HANG, FaultKind.BLACKHOLE, FaultKind.RESET_PEER}
)


@dataclass(slots=True)
class Injection:
    """What to do to one request, composed from every fault selected for it."""

    kinds: list[FaultKind] = field(default_factory=list)
    delay_s: float = 0.0
    terminal: Fault | None = None
    malformed: bool = False
    cut_after: int | None = None
    chunk_delay_s: float = 0.0
    bytes_per_second: int | None = None
    slice_size: int | None = None
    slice_delay_s: float = 0.0
    limit_bytes: int | None = None
    slow_close_s: float = 0.0

    @property
    def shapes_wire(self) -> bool:
        """True when the body must be written piece by piece rather than in one write."""
        return (
            self.bytes_per_second is not None
            or self.slice_size is not None
            or self.limit_bytes is not None
            or self.slow_close_s > 0
        )

    def add(self, fault: Fault, rng: random.Random) -> None:
        """Fold one selected fault in: delays add up, limits take the strictest value."""
        self.kinds.append(fault.kind)
        kind = fault.kind
        if kind in _TERMINAL:
            if self.terminal is None:
                self.terminal = fault
        elif kind is FaultKind.LATENCY:
            jitter = rng.uniform(-fault.jitter_ms, fault.jitter_ms) if fault.jitter_ms else 0.0
            self.delay_s += max(0.0, fault.ms + jitter) / 1000
        elif kind is FaultKind.MALFORMED:
            self.malformed = True
        elif kind is FaultKind.STREAM_CUT:
            self.cut_after = _least(self.cut_after, fault.after_chunks)
        elif kind is FaultKind.CHUNK_DELAY:
            self.chunk_delay_s = max(self.chunk_delay_s, fault.ms / 1000)
        elif kind is FaultKind.BANDWIDTH:
            self.bytes_per_second = _least(self.bytes_per_second, fault.bytes_per_second)
        elif kind is FaultKind.SLICER:
            self.slice_size = _least(self.slice_size, fault.size)
            self.slice_delay_s = max(self.slice_delay_s, fault.delay_ms / 1000)
        elif kind is FaultKind.LIMIT_DATA:
            self.limit_bytes = _least(self.limit_bytes, fault.limit_bytes)
        elif kind is FaultKind.SLOW_CLOSE:
            self.slow_close_s = max(self.slow_close_s, fault.ms / 1000)


class _Entry:
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.count


class FaultPlan:
    """The faults in force, replaced as a whole by the admin API.

    Single-threaded by design: it lives on the simulator's event loop, and the
    admin API reaches it through the same loop.
    """

    __slots__ = ("_entries", "_rng")

    def __init__(self, faults: Iterable[Fault] = (), seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._entries: list[_Entry] = [_Entry(f) for f in faults]

    @property
    def active(self) -> bool:
        return bool(self._entries)

    def replace(self, faults: Iterable[Fault], seed: int | None = None) -> None:
        """Swap in a new set; a seed restarts the RNG, no seed continues its sequence."""
        self._entries = [_Entry(f) for f in faults]
        if seed is not None:
            self._rng = random.Random(seed)

    def clear(self) -> None:
        self._entries = []

    def faults(self) -> list[Fault]:
        return [entry.fault for entry in self._entries]

    def describe(self) -> list[dict[str, Any]]:
        """The active faults in wire form, with how many uses a counted fault has left."""
        out = []
        for entry in self._entries:
            item = entry.fault.to_dict()
            if entry.remaining is not None:
                item["remaining"] = entry.remaining
            out.append(item)
        return out

    def select(self, path: str) -> Injection | None:
        """Roll each matching fault's probability, in order; None when nothing applies."""
        injection: Injection | None = None
        exhausted = False
        rng = self._rng
        for entry in self._entries:
            fault = entry.fault
            if fault.paths and not _matches(path, fault.paths):
                continue
            p = fault.probability
            if p <= 0.0 or (p < 1.0 and rng.random() >= p):
                continue
            if injection is None:
                injection = Injection()
            injection.add(fault, rng)
            if entry.remaining is not None:
                entry.remaining -= 1
                exhausted = exhausted or entry.remaining == 0
        if exhausted:
            self._entries = [e for e in self._entries if e.remaining != 0]
        return injection


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    """Exact paths, or globs where a pattern has a `*`: Gemini and Azure put the model in the path."""
    return any(p == path or ("*" in p and fnmatchcase(path, p)) for p in patterns)


def _least(current: int | None, new: int) -> int:
    return new if current is None else min(current, new)
