"""The access log: one line per request, formatted on a background thread, off when asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from releve.gateway import AccessLog, start_log_thread


@pytest.fixture
def log_thread() -> Iterator[None]:
    """Relève's logging thread, with the `releve` logger restored afterwards."""
    logger = logging.getLogger("releve")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    listener = start_log_thread()
    yield
    listener.stop()
    logger.handlers[:], level, logger.propagate = saved
    logger.setLevel(level)


def test_one_structured_line_per_request(capsys: pytest.CaptureFixture[str], log_thread: None) -> None:
    """A finished request is one line with its route, target, attempts, status, outcome, latency and client."""
    AccessLog(True).write("chat", "mistral/small", 2, 200, "fallback", 0.0123, "support-app")
    err = ""
    for _ in range(200):  # the listener writes from its own thread
        err += capsys.readouterr().err
        if "releve.access" in err:
            break
        time.sleep(0.01)
    assert ("releve.access route=chat target=mistral/small attempts=2 status=200 outcome=fallback "
            "latency_ms=12.3 client=support-app") in err


def test_access_log_off_writes_nothing(capsys: pytest.CaptureFixture[str], log_thread: None) -> None:
    """With access_log: false no line is written."""
    AccessLog(False).write("chat", "a/m", 1, 200, "served", 0.001, None)
    assert "releve.access" not in capsys.readouterr().err
