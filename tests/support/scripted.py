"""A transport that plays a script per provider: the seam for router unit tests.

`ScriptedTransport("openai", [503, 503, 200])` answers the first two calls
with a retryable 503, then succeeds. Entries: an int status, "hang",
"malformed", or an `UpstreamError`. When the script runs out, the last
entry repeats. "slow" answers after 300 ms; an `asyncio.Event` answers once it is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import orjson

from releve.errors import Untranslatable, UpstreamError
from releve.gateway.providers import CLIENT_MISTAKES, UpstreamCall, UpstreamResponse

Step = int | str | UpstreamError | Untranslatable | asyncio.Event


class ScriptedStream:
    def __init__(self, chunks: Sequence[bytes]) -> None:
        self._chunks = list(chunks)
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            await asyncio.sleep(0)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class ScriptedTransport:
    def __init__(self, name: str, script: Sequence[Step], *, retry_after: float | None = None) -> None:
        self.name = name
        self.script = list(script)
        self.retry_after = retry_after
        self.calls: list[UpstreamCall] = []
        self.streams: list[ScriptedStream] = []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def _step(self, call: UpstreamCall) -> None:
        index = len(self.calls)
        self.calls.append(call)
        step = self.script[min(index, len(self.script) - 1)]
        if isinstance(step, UpstreamError | Untranslatable):
            raise step
        if isinstance(step, asyncio.Event):  # a gate: answer once the test opens it
            await step.wait()
            return
        if step == "slow":
            await asyncio.sleep(0.3)
        if step == "hang":
            await asyncio.Event().wait()
        if step == "malformed":
            raise UpstreamError("malformed answer (not JSON)", status=200)
        if isinstance(step, int) and step != 200:
            raise UpstreamError(str(step), status=step, retryable=step not in CLIENT_MISTAKES,
                                retry_after=self.retry_after if step == 429 else None,
                                body=b'{"error": {"message": "bad field", "type": "invalid_request_error"}}')

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        await self._step(call)
        return UpstreamResponse(200, orjson.dumps({"from": self.name, "model": call.model}))

    async def open_stream(self, call: UpstreamCall) -> ScriptedStream:
        await self._step(call)
        stream = ScriptedStream([f'data: {{"from": "{self.name}"}}\n\n'.encode(), b"data: [DONE]\n\n"])
        self.streams.append(stream)
        return stream

    async def list_models(self) -> UpstreamResponse:
        return UpstreamResponse(200, b'{"object": "list", "data": []}')
