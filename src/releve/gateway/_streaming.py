"""Relaying a stream to the client, and carrying on elsewhere when it breaks mid-way.

The relay forwards only whole SSE events (a partial event at the moment of a
break never reaches the client), applies the route's idle timeout to each
chunk, and, when the route may recover, reads the events' text as it goes.
If the upstream fails after content was sent, the router is asked for the
same conversation with the partial answer as an assistant prefix from
another target, and only what follows is relayed: the client sees one
answer in one stream. A stream that broke inside a tool call is not resumed
(the arguments already sent cannot be taken back): it ends with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from releve.asgi import Receive, Send
from releve.errors import GatewayError, UpstreamError

from ._events import StreamRecovered
from ._plan import RoutePlan, Target
from ._router import Router, ServedStream
from .translate import SSEParser

__all__ = ["Piece", "RelayedStream", "StreamBroken", "relay_until_done"]


class StreamBroken(Exception):
    """The stream failed after its start and could not be continued; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Piece:
    raw: bytes                               # whole SSE events, OpenAI format
    chunks: list[dict[str, Any]] | None      # the same events parsed, when parsing is on


class RelayedStream:
    def __init__(self, router: Router, plan: RoutePlan, body: dict[str, Any], served: ServedStream, *,
                 parse: bool) -> None:
        self._router = router
        self._plan = plan
        self._body = body
        self.served = served
        self._parse = parse or plan.can_recover
        self._text: list[str] = []
        self._in_tool_call = False
        self.recoveries = 0

    @property
    def target(self) -> Target:
        return self.served.target

    async def pieces(self) -> AsyncGenerator[Piece, None]:
        """Whole events, across recoveries; close with `contextlib.aclosing`."""
        try:
            while True:
                try:
                    async for piece in self._relay(self.served):
                        yield piece
                    return
                except UpstreamError as exc:
                    failed = self.served
                    failed.target.health.breaker.record_failure()
                    await failed.stream.aclose()
                    self.served = await self._resume(failed.target, exc.reason)
        finally:
            await self.served.stream.aclose()

    async def _relay(self, served: ServedStream) -> AsyncGenerator[Piece, None]:
        parser = SSEParser() if self._parse else None
        pending = b""
        done = False
        wheel = self._router.wheel
        idle = self._plan.stream_idle_timeout
        chunk: bytes | None = served.first
        while chunk is not None:
            data = pending + chunk if pending else chunk
            cut = max(data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n"))
            if cut < 0:
                pending = data
            else:
                end = cut + (4 if data.startswith(b"\r\n\r\n", cut) else 2)
                whole, pending = data[:end], data[end:]
                chunks = self._read(parser, whole) if parser is not None else None
                done = done or b"[DONE]" in whole
                yield Piece(whole, chunks)
            if done:
                return
            armed = wheel.arm(idle)
            try:
                chunk = await anext(served.chunks)
            except StopAsyncIteration:
                chunk = None
            except asyncio.CancelledError:
                if armed.expired():
                    raise UpstreamError(f"no chunk for {idle:g}s") from None
                raise
            finally:
                wheel.disarm(armed)
        raise UpstreamError("the stream ended before it was complete")

    def _read(self, parser: SSEParser, whole: bytes) -> list[dict[str, Any]]:
        chunks = []
        for event in parser.feed(whole):
            if event.data == "[DONE]":
                continue
            try:
                chunk = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                raise UpstreamError("malformed stream (an event is not JSON)") from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise UpstreamError("error event from the provider")
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("tool_calls"):
                    self._in_tool_call = True
                content = delta.get("content")
                if isinstance(content, str):
                    self._text.append(content)
            chunks.append(chunk)
        return chunks

    async def _resume(self, failed: Target, reason: str) -> ServedStream:
        where = f"The answer from {failed.label} broke off mid-stream ({reason})"
        if not self._plan.can_recover:
            raise StreamBroken(f"{where}.")
        if self._in_tool_call:
            raise StreamBroken(f"{where} inside a tool call, which cannot be resumed.")
        try:
            served = await self._router.resume_stream(self._plan, self._body, "".join(self._text), failed)
        except GatewayError as exc:
            raise StreamBroken(f"{where}, and no other target could continue it ({exc.message})") from None
        self.recoveries += 1
        self._router.bus.publish(StreamRecovered(self._plan.name, failed.label, served.target.label,
                                          self._router.clock.now()))
        return served


async def relay_until_done(receive: Receive, send: Send, relayed: RelayedStream,
                           render: Callable[[Piece], bytes]) -> str | None:
    """Send every piece as rendered; None when the stream ended well, else why it broke.

    The relay runs in the caller's task; a watcher cancels it if the client
    leaves (uvicorn's send() ignores a gone client silently), and closing the
    pieces closes the upstream stream.
    """
    this_task = asyncio.current_task()
    client_left = False

    async def watch_client() -> None:
        nonlocal client_left
        while (await receive())["type"] != "http.disconnect":
            pass
        client_left = True
        if this_task is not None:
            this_task.cancel()

    watcher = asyncio.ensure_future(watch_client())
    try:
        async with contextlib.aclosing(relayed.pieces()) as pieces:
            async for piece in pieces:
                data = render(piece)
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
    except StreamBroken as exc:
        return exc.message
    except asyncio.CancelledError:
        if client_left and this_task is not None and this_task.uncancel() == 0:
            return None
        raise
    finally:
        watcher.cancel()
    return None
