"""One structured line per request, formatted and written off the event loop.

The request path only builds a LogRecord with %-style arguments; a
`QueueHandler` hands it to a thread that formats and writes it. Prompts and
keys are never passed here.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["AccessLog", "logging_to_file", "start_log_thread"]

access_logger = logging.getLogger("releve.access")
_FORMAT = "route=%s target=%s attempts=%d status=%d outcome=%s latency_ms=%.1f client=%s"


class AccessLog:
    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and access_logger.isEnabledFor(logging.INFO)

    def write(self, route: str, target: str, attempts: int, status: int, outcome: str,
              seconds: float, client: str | None) -> None:
        if self.enabled:
            access_logger.info(_FORMAT, route, target, attempts, status, outcome, seconds * 1000.0,
                               client or "-")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is written, as logging's last-resort
    handler does: a stream captured at start-up may since have been replaced and closed."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """Queues the record as is; the base class would format it on the caller's thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def start_log_thread(level: int = logging.INFO) -> logging.handlers.QueueListener:
    """Route Relève's logs through a background thread; returns the listener to stop."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    stream = _CurrentStderr()
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    listener = logging.handlers.QueueListener(records, stream, respect_handler_level=False)
    root = logging.getLogger("releve")
    root.handlers[:] = [_DeferredQueueHandler(records)]
    root.setLevel(level)
    root.propagate = False
    listener.start()
    return listener


@contextlib.contextmanager
def logging_to_file(path: Path) -> Iterator[None]:
    """Relève's log goes to a file while a command owns the terminal (the demo, a drill); restored after."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("releve")
    saved = (root.handlers[:], root.level, root.propagate)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield
    finally:
        root.handlers[:], level, root.propagate = saved
        root.setLevel(level)
        handler.close()
