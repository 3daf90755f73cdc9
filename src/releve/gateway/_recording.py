"""What every inbound API does when a request ends: one metric update and one log line."""

from __future__ import annotations

import time

from ._access_log import AccessLog
from ._metrics import GatewayMetrics

__all__ = ["RequestRecorder"]


class RequestRecorder:
    __slots__ = ("_log", "metrics")

    def __init__(self, metrics: GatewayMetrics, access_log: AccessLog) -> None:
        self.metrics = metrics
        self._log = access_log

    def finish(self, route: str, target: str, attempts: int, status: int, outcome: str, started: float,
               client: str | None) -> None:
        """`started` is a `time.perf_counter()` reading taken when the request arrived."""
        seconds = time.perf_counter() - started
        self.metrics.observe_request(route, target, outcome, seconds)
        self._log.write(route, target, attempts, status, outcome, seconds, client)

    def interrupted(self, route: str, target: str) -> None:
        """A stream that broke after its start (its request was already counted as served)."""
        self.metrics.observe_request(route, target, "interrupted", 0.0)
