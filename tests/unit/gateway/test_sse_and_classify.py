"""The relay's first-chunk check and the translation of upstream statuses and Retry-After."""

from __future__ import annotations

import email.utils
import time

import pytest

from releve.gateway._sse import DoneWatcher, first_chunk_problem
from releve.gateway.providers import parse_retry_after
from releve.gateway.providers._classify import error_for_status


@pytest.mark.parametrize(("chunk", "problem"), [
    (b'data: {"id": "x"}\n\n', None),
    (b": keep-alive\n\n", None),
    (b"event: message_start\n", None),
    (b'data: {"id": "x', None),  # incomplete first line: judged later
    (b"data: [DONE]\n\n", None),
    (b"   \n", "empty stream"),
    (b"<html>502 Bad Gateway</html>", "malformed stream (not server-sent events)"),
    (b'data: {"id": "x", "cho\n\n', "malformed stream (an event is not JSON)"),
])
def test_first_chunk_is_judged_before_anything_reaches_the_client(chunk: bytes, problem: str | None) -> None:
    """A first chunk that cannot start a valid stream is caught while failover is still invisible."""
    assert first_chunk_problem(chunk) == problem


def test_done_marker_is_seen_across_a_chunk_boundary() -> None:
    """`data: [DONE]` split over two chunks still ends the stream."""
    watcher = DoneWatcher()
    watcher.feed(b'data: {"x": 1}\n\ndata: [DO')
    assert not watcher.done
    watcher.feed(b"NE]\n\n")
    assert watcher.done


@pytest.mark.parametrize(("header", "seconds"), [("30", 30.0), ("1.5", 1.5), ("-4", 0.0), (None, None),
                                                 ("soon", None), ("", None)])
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    """Retry-After as delta-seconds; nonsense is ignored rather than trusted."""
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    """Retry-After as an HTTP date (RFC 9110) becomes seconds from now."""
    header = email.utils.formatdate(time.time() + 60, usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None and 55 <= seconds <= 61


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (413, False), (422, False), (401, True),
                                                   (403, True), (404, True), (408, True), (429, True),
                                                   (500, True), (529, True)])
def test_which_statuses_fail_over(status: int, retryable: bool) -> None:
    """Only the client's own mistakes are relayed; everything else moves to the next target."""
    assert error_for_status(status, b"{}", None).retryable is retryable
