"""Relaying a stream to the client, and carrying on elsewhere when it breaks mid-way.

The relay forwards only whole SSE events (a partial event at the moment of a
break never reaches the client) and applies the route's idle timeout to each
chunk. When the route may recover, it keeps the events it sent and reads
them only if the stream breaks: the happy path parses nothing it does not
have to. If the upstream fails after content was sent, the router is asked for the
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

# For a possible resume, the events sent are kept raw up to _FOLD_AT bytes, then folded into the
# text they carry (a small share of their size): memory per stream stays bounded, and a short
# stream is never parsed at all. Past _KEEP_AT_MOST characters of text, a stream is not resumed.
_FOLD_AT = 16 * 1024
_KEEP_AT_MOST = 1024 * 1024
_WATCH_AFTER = 0.05  # seconds into a stream before watching for the client leaving


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
        self._parse = parse
        self._keep = plan.can_recover
        self._sent: list[bytes] = []  # whole events sent and not yet folded into _text
        self._sent_size = 0
        self._text: list[str] = []
        self._text_size = 0
        self._in_tool_call = False
        self.recoveries = 0

    @property
    def target(self) -> Target:
        return self.served.target

    async def pieces(self) -> AsyncGenerator[Piece, None]:
        """Whole events, across recoveries; close with `contextlib.aclosing`.

        One generator on purpose: each async-generator layer costs about a
        microsecond per chunk, and a stream has hundreds of chunks.
        """
        parser = SSEParser() if self._parse else None
        wheel = self._router.wheel
        # One deadline for the whole stream, renewed per chunk and paused while the
        # client is being written to: only the wait for the provider counts as idle.
        idle = wheel.arm(self._plan.stream_idle_timeout)
        idle.pause()
        served = self.served
        try:
            while True:
                try:
                    pending = b""
                    done = False
                    chunk: bytes | None = served.first
                    while chunk is not None:
                        if not pending and chunk.endswith(b"\n\n"):  # the common case: whole events
                            whole = chunk
                        else:
                            data = pending + chunk
                            cut = max(data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n"))
                            if cut < 0:
                                pending, whole = data, b""
                            else:
                                end = cut + (4 if data.startswith(b"\r\n\r\n", cut) else 2)
                                whole, pending = data[:end], data[end:]
                        if whole:
                            chunks = _parse(parser, whole) if parser is not None else None
                            if self._keep:
                                self._remember(whole)
                            done = done or b"[DONE]" in whole
                            yield Piece(whole, chunks)
                        if done:
                            return
                        idle.renew()
                        try:
                            chunk = await anext(served.chunks)
                        except StopAsyncIteration:
                            chunk = None
                        except asyncio.CancelledError:
                            if idle.expired():
                                raise UpstreamError(f"no chunk for {self._plan.stream_idle_timeout:g}s") from None
                            raise
                        idle.pause()
                    raise UpstreamError("the stream ended before it was complete")
                except UpstreamError as exc:
                    idle.pause()
                    served.target.health.breaker.record_failure()
                    await served.stream.aclose()
                    served = self.served = await self._resume(served.target, exc.reason)
                    if parser is not None:
                        parser = SSEParser()  # the broken stream's partial event is gone
        finally:
            wheel.disarm(idle)
            await self.served.stream.aclose()

    def _remember(self, whole: bytes) -> None:
        self._sent.append(whole)
        self._sent_size += len(whole)
        if self._sent_size > _FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        text, in_tool_call = _partial_answer(self._sent)
        self._sent.clear()
        self._sent_size = 0
        self._text.append(text)
        self._text_size += len(text)
        self._in_tool_call = self._in_tool_call or in_tool_call
        if self._text_size > _KEEP_AT_MOST:
            self._keep = False  # too long to resume sensibly: fail like a route without fallback
            self._text.clear()

    async def _resume(self, failed: Target, reason: str) -> ServedStream:
        where = f"The answer from {failed.label} broke off mid-stream ({reason})"
        if not self._keep:
            raise StreamBroken(f"{where}.")
        self._fold()
        if not self._keep:
            raise StreamBroken(f"{where}.")
        text, in_tool_call = "".join(self._text), self._in_tool_call
        if in_tool_call:
            raise StreamBroken(f"{where} inside a tool call, which cannot be resumed.")
        try:
            served = await self._router.resume_stream(self._plan, self._body, text, failed)
        except GatewayError as exc:
            raise StreamBroken(f"{where}, and no other target could continue it ({exc.message})") from None
        self.recoveries += 1
        self._router.bus.publish(StreamRecovered(self._plan.name, failed.label, served.target.label,
                                          self._router.clock.now()))
        return served


async def relay_until_done(receive: Receive, send: Send, relayed: RelayedStream,
                           render: Callable[[Piece], bytes] | None) -> str | None:
    """Send every piece as rendered; None when the stream ended well, else why it broke.

    The relay runs in the caller's task. uvicorn's send() ignores a client that
    has gone, so a watcher task listens for the disconnect and cancels the relay,
    which closes the upstream stream. The watcher costs a task per stream (about
    15 µs), so it starts only once a stream has run for `_WATCH_AFTER`: a
    shorter stream is over before a vanished client could cost anything.
    """
    this_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    watch_from = loop.time() + _WATCH_AFTER
    watcher: asyncio.Future[None] | None = None
    client_left = False

    async def watch_client() -> None:
        nonlocal client_left
        while (await receive())["type"] != "http.disconnect":
            pass
        client_left = True
        if this_task is not None:
            this_task.cancel()

    try:
        async with contextlib.aclosing(relayed.pieces()) as pieces:
            async for piece in pieces:
                data = piece.raw if render is None else render(piece)
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                if watcher is None and loop.time() >= watch_from:
                    watcher = asyncio.ensure_future(watch_client())
    except StreamBroken as exc:
        return exc.message
    except asyncio.CancelledError:
        if client_left and this_task is not None and this_task.uncancel() == 0:
            return None
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
    return None


def _parse(parser: SSEParser, whole: bytes) -> list[dict[str, Any]]:
    """The OpenAI chunks in whole events (a provider's in-stream error fails the attempt)."""
    chunks = []
    for event in parser.feed(whole):
        if event.data == "[DONE]":
            continue
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError("malformed stream (an event is not JSON)") from None
        if isinstance(chunk, dict):
            if "error" in chunk:
                raise UpstreamError("error event from the provider")
            chunks.append(chunk)
    return chunks


def _partial_answer(sent: list[bytes]) -> tuple[str, bool]:
    """The text the client has received, and whether a tool call was under way."""
    text: list[str] = []
    in_tool_call = False
    for event in SSEParser().feed(b"".join(sent)):
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            continue  # [DONE] or garbage: neither carries text
        if not isinstance(chunk, dict):
            continue
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("tool_calls"):
                in_tool_call = True
            content = delta.get("content")
            if isinstance(content, str):
                text.append(content)
    return "".join(text), in_tool_call
