"""What the simulator saw: counters and the last requests, for tests and drills to assert on.

Tests check what a gateway actually sent upstream (which API family and path,
which model, whether it streamed, whether it forwarded the client's key), so
the parsed body is kept as is: the handler already parsed it, and keeping a
reference costs nothing.
The window is bounded so a long benchmark cannot grow the process.

`executions` counts answers actually generated (completion and embedding requests, not model lists) and
`idempotent_replays` answers sent again for a known `Idempotency-Key` without executing anything, in
total and per model: "executed once" is then a number a test can read.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

__all__ = ["RECEIVED_WINDOW", "Stats"]

RECEIVED_WINDOW = 1000


class Stats:
    __slots__ = (
        "_by_model",
        "_by_path",
        "_by_status",
        "_executions",
        "_faults",
        "_received",
        "_replays",
        "_requests",
        "in_flight",
        "name",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self._requests = 0
        self.in_flight = 0  # requests being handled now: shows whether a client really went away
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._received: deque[dict[str, Any]] = deque(maxlen=RECEIVED_WINDOW)
        self._executions = 0
        self._replays = 0
        self._by_model: dict[str | None, list[int]] = {}  # model -> [executions, idempotent replays]

    def request(
        self,
        path: str,
        body: Any,
        authorization_present: bool,
        *,
        family: str = "openai",
        model: str | None = None,
        stream: bool | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Count an API request and remember it; `body` is the parsed JSON, or None.

        `model` and `stream` default to the body's fields; Gemini and Azure pass
        them because their URL says which model and whether to stream.
        `authorization_present` means the family's key header was sent; `idempotency_key` is the
        `Idempotency-Key` header, if any.
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
                "idempotency_key": idempotency_key,
                "t": time.time(),
            }
        )

    def status(self, status: int) -> None:
        """Count a response status; connections dropped without a response count none."""
        self._by_status[status] += 1

    def executed(self, model: str | None) -> None:
        """An answer was generated (not replayed)."""
        self._executions += 1
        self._per_model(model)[0] += 1

    def replayed(self, model: str | None) -> None:
        """An answer kept for an `Idempotency-Key` was sent again, nothing executed."""
        self._replays += 1
        self._per_model(model)[1] += 1

    def _per_model(self, model: str | None) -> list[int]:
        counts = self._by_model.get(model)
        if counts is None:
            counts = self._by_model[model] = [0, 0]
        return counts

    def faults(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self._faults[str(kind)] += 1

    def reset(self) -> None:
        self._requests = 0
        self._by_path.clear()
        self._by_status.clear()
        self._faults.clear()
        self._received.clear()
        self._executions = self._replays = 0
        self._by_model.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self._requests,
            "in_flight": self.in_flight,
            "by_path": dict(self._by_path),
            "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
            "faults_applied": dict(self._faults),
            "executions": self._executions,
            "idempotent_replays": self._replays,
            "by_model": {
                str(model): {"executions": executions, "idempotent_replays": replays}
                for model, (executions, replays) in self._by_model.items()
            },
            "received": list(self._received),
        }
