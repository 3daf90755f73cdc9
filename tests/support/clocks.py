"""Clocks for tests that need to tell events apart by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


class SteppingWall:
    """A wall clock that moves a second per reading, so entries tell when they were appended."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
