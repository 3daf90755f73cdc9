"""What the simulator saw: counters and the last requests, for tests and drills to assert on.

Tests check what a gateway actually sent upstream (which API family and path,
which model, whether it streamed, whether it forwarded the client's key), so
the parsed body is kept as is: the handler already parsed it, and keeping a
reference costs nothing.
The window is bounded so a long benchmark cannot grow the process.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

__all__ = ["RECEIVED_WINDOW", "Stats"]

RECEIVED_WINDOW = 1000


class Stats:
    __slots__ = ("_by_path", "_by_status", "_faults", "_received", "_requests", "in_flight", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._requests = 0
        self.in_flight = 0  # requests being handled now: shows whether a client really went away
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._received: deque[dict[str, Any]] = deque(maxlen=RECEIVED_WINDOW)

    def request(
        self,
        path: str,
        body: Any,
        authorization_present: bool,
        *,
        family: str = "openai",
        model: str | None = None,
        stream: bool | None = None,
    ) -> None:
        """Count an API request and remember it; `body` is the parsed JSON, or None.

        `model` and `stream` default to the body's fields; Gemini and Azure pass
        them because their URL says which model and whether to stream.
        `authorization_present` means the family's key header was sent.
        """
        self._requests += 1
        self._by_path[path] += 1
        is_object = isinstance(body, dict)
        if model is None and is_object:
            model = body.get("model")
        if stream is None:
            stream = bool(body.get("stream")) if is_object else False
        self._received.append(
            {
                "path": path,
                "family": family,
                "model": model,
                "stream": stream,
                "body": body,
                "authorization_present": authorization_present,
                "t": time.time(),
            }
        )

    def status(self, status: int) -> None:
        """Count a response status; connections dropped without a response count none."""
        self._by_status[status] += 1

    def faults(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self._faults[str(kind)] += 1

    def reset(self) -> None:
        self._requests = 0
        self._by_path.clear()
        self._by_status.clear()
        self._faults.clear()
        self._received.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self._requests,
            "in_flight": self.in_flight,
            "by_path": dict(self._by_path),
            "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
            "faults_applied": dict(self._faults),
            "received": list(self._received),
        }
