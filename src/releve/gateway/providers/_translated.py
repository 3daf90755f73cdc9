"""An upstream stream in another family's SSE, relayed as OpenAI SSE bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from releve.errors import Untranslatable, UpstreamError

from ..translate import SSEParser, StreamError
from ._http import RawStream

__all__ = ["TranslatedStream", "encode_chunk"]

DONE = b"data: [DONE]\n\n"


def encode_chunk(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class TranslatedStream:
    """Parses the upstream's events and yields the translator's OpenAI chunks as SSE bytes.

    `translate(event, data)` returns OpenAI chunk dicts; `finished()` says whether
    the upstream signalled a normal end, after which `[DONE]` is sent. A stream
    that stops without that signal was cut: the caller gets an `UpstreamError`.
    """

    def __init__(self, raw: RawStream, translate: Callable[[str | None, Any], list[dict[str, Any]]],
                 finished: Callable[[], bool]) -> None:
        self._raw = raw
        self._translate = translate
        self._finished = finished

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parser = SSEParser()
        async for chunk in self._raw:
            out: list[bytes] = []
            for event in parser.feed(chunk):
                try:
                    data = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    raise UpstreamError("malformed stream (an event is not JSON)") from None
                try:
                    chunks = self._translate(event.event, data)
                except StreamError as exc:
                    raise UpstreamError(f"error event from the provider ({exc})") from None
                except Untranslatable as exc:  # e.g. a block type the client's format has no room for
                    raise UpstreamError(f"the provider's stream cannot be translated ({exc.reason})") from None
                out.extend(encode_chunk(item) for item in chunks)
            if out:
                yield b"".join(out)
        if not self._finished():
            raise UpstreamError("the stream ended before it was complete")
        yield DONE

    async def aclose(self) -> None:
        await self._raw.aclose()
