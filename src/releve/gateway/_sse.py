"""The little of Server-Sent Events the relay needs: is this a stream, and did it end?

The relay forwards bytes as they come; it parses only the first event (to
catch a provider that answers 200 with garbage before anything reaches the
client) and watches for OpenAI's `data: [DONE]` terminator.
"""

from __future__ import annotations

import orjson

_FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":")
DONE = b"data: [DONE]"


def first_chunk_problem(chunk: bytes) -> str | None:
    """Why this first chunk cannot start a valid SSE stream, or None if it can."""
    text = chunk.lstrip()
    if not text:
        return "empty stream"
    if not text.startswith(_FIELDS):
        return "malformed stream (not server-sent events)"
    if text.startswith(b"data:"):
        line, newline, _ = text.partition(b"\n")
        if newline:
            data = line[5:].strip()
            if data != b"[DONE]":
                try:
                    orjson.loads(data)
                except orjson.JSONDecodeError:
                    return "malformed stream (an event is not JSON)"
    return None


class DoneWatcher:
    """Sees `data: [DONE]` even when a chunk boundary splits it."""

    __slots__ = ("_tail", "done")

    def __init__(self) -> None:
        self._tail = b""
        self.done = False

    def feed(self, chunk: bytes) -> None:
        if not self.done:
            self.done = b"[DONE]" in self._tail + chunk[:8] or b"[DONE]" in chunk
            self._tail = chunk[-8:]
