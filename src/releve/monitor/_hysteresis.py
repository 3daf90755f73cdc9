"""Hysteresis: a status changes only after several evaluations agree, so a flapping provider does not flap the page."""

from __future__ import annotations

from releve.store import ComponentStatus

__all__ = ["Debounced"]


class Debounced:
    """A status that drops after `down_after` worse evaluations in a row and recovers after `up_after` better ones.

    A run of worse evaluations settles on the least bad status seen in the run,
    so one very bad sample among mildly bad ones does not overstate the outage.
    """

    __slots__ = ("_better", "_down_after", "_pending", "_up_after", "_worse", "status")

    def __init__(self, down_after: int, up_after: int,
                 status: ComponentStatus = ComponentStatus.OPERATIONAL) -> None:
        self.status = status
        self._down_after = down_after
        self._up_after = up_after
        self._worse = 0
        self._better = 0
        self._pending = status

    def feed(self, raw: ComponentStatus) -> bool:
        """Take one evaluation; True when the settled status changed."""
        if raw.rank > self.status.rank:
            self._better = 0
            self._pending = raw if self._worse == 0 or raw.rank < self._pending.rank else self._pending
            self._worse += 1
            if self._worse >= self._down_after:
                return self._settle(self._pending)
        elif raw.rank < self.status.rank:
            self._worse = 0
            self._pending = raw if self._better == 0 or raw.rank > self._pending.rank else self._pending
            self._better += 1
            if self._better >= self._up_after:
                return self._settle(self._pending)
        else:
            self._worse = self._better = 0
        return False

    def _settle(self, status: ComponentStatus) -> bool:
        self._worse = self._better = 0
        changed = status is not self.status
        self.status = status
        self._pending = status
        return changed
