"""Server-Sent Events, parsed incrementally and encoded, as the WHATWG HTML standard defines them.

The parser never assumes chunk boundaries fall anywhere in particular: a line,
a `\\r\\n` pair or a UTF-8 character may be split across reads. Lines end with
CRLF, LF or CR; `:` starts a comment; `id` and `retry` are ignored (Relève
never reconnects to an upstream stream). An unterminated last event is dropped,
as the standard says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser", "encode_sse"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its `event:` name (None when absent) and its data lines joined by newlines."""

    event: str | None
    data: str


class SSEParser:
    __slots__ = ("_buffer", "_data", "_event", "_has_data", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buffer = b""
        self._skip_lf = False  # the last chunk ended with CR: a leading LF is the rest of that CRLF
        self._started = False  # the byte-order mark is stripped once, at the start of the stream
        self._event: str | None = None
        self._data: list[str] = []
        self._has_data = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._started and buffer:
            if len(buffer) < 3 and b"\xef\xbb\xbf".startswith(buffer):
                self._buffer = buffer
                return []
            self._started = True
            buffer = buffer.removeprefix(b"\xef\xbb\xbf")
        events: list[SSEEvent] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            if match.end() == len(buffer) and match.group() == b"\r":
                self._skip_lf = True
            self._line(buffer[start : match.start()], events)
            start = match.end()
        self._buffer = buffer[start:]
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._has_data:
                events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event = None
            self._data = []
            self._has_data = False
            return
        line = raw.decode("utf-8", errors="replace")
        field, colon, value = line.partition(":")
        if colon and not field:
            return  # a comment, e.g. a keep-alive
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value or None  # an empty name means the default, as for no `event:` line


def encode_sse(data: bytes, event: str | None = None) -> bytes:
    """One event, with a `data:` line per line of `data` so that any parser reads `data` back exactly."""
    head = b""
    if event is not None:
        if _LINE_END.search(event.encode()):
            raise ValueError("an SSE event name cannot contain a line break")
        head = b"event: " + event.encode() + b"\n"
    return head + b"".join(b"data: " + line + b"\n" for line in _LINE_END.split(data)) + b"\n"
