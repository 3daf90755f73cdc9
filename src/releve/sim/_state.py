"""The state one simulator keeps between requests, stored on its aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from ._answers import models
from ._faults import Fault
from ._idempotency import IdempotentAnswers
from ._plan import FaultPlan
from ._stats import Stats

__all__ = ["SIM", "SimState"]


class SimState:
    """Everything a handler needs, built once per app so a request only does lookups."""

    __slots__ = ("api_key", "closing", "idempotent", "models_body", "name", "plan", "seq", "stats")

    def __init__(self, name: str, api_key: str | None, faults: Sequence[Fault], seed: int | None) -> None:
        self.name = name
        # Each family reads the key from its own header; comparing is then one string comparison.
        self.api_key = api_key
        self.plan = FaultPlan(faults, seed)
        self.stats = Stats(name)
        # Answers kept per Idempotency-Key; not cleared with the stats: a provider does not forget them.
        self.idempotent = IdempotentAnswers()
        self.seq = 0
        self.models_body = models(name)
        # Set at shutdown so held requests (hang, blackhole) end at once instead of
        # making the runner wait out its grace period. Binds to a loop only when awaited.
        self.closing = asyncio.Event()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


SIM = web.AppKey("releve.sim", SimState)
