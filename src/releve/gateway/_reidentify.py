"""A pseudonymised target's stream, re-identified on its way to the client.

The stream's events are OpenAI chunks (every transport speaks them); each is
handed to the request's `ChunkReidentifier`, which holds back text that may
be the beginning of a placeholder split across chunks and releases it once
it knows. What is held back at `[DONE]` is flushed before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from releve.errors import UpstreamError

from ._data import ChunkReidentifier
from .providers import UpstreamStream
from .translate import SSEParser

__all__ = ["ReidentifiedStream"]

_DONE = b"data: [DONE]\n\n"


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class ReidentifiedStream:
    def __init__(self, stream: UpstreamStream, reidentifier: ChunkReidentifier) -> None:
        self._stream = stream
        self._reidentifier = reidentifier

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parser = SSEParser()
        async for piece in self._stream:
            out: list[bytes] = []
            for event in parser.feed(piece):
                if event.data.strip() == "[DONE]":
                    out.extend(_event(chunk) for chunk in self._reidentifier.finish())
                    out.append(_DONE)
                    continue
                try:
                    chunk = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    raise UpstreamError("malformed stream (an event is not JSON)") from None
                released = self._reidentifier.feed(chunk) if isinstance(chunk, dict) else chunk
                if released is not None:
                    out.append(_event(released))
            if out:
                yield b"".join(out)

    async def aclose(self) -> None:
        await self._stream.aclose()
