"""Writing responses the way a failing network or provider would.

The happy path never comes here: handlers answer with one `web.Response` when
no fault applies. When one does, the body goes through `_Shaper`, which slices
it, throttles it, or cuts the connection after a number of bytes.

Dropping a connection without an answer returns a placeholder response that
aiohttp then fails to send; aiohttp treats that as a client disconnection and
logs nothing, whereas raising from the handler would log a spurious error.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping

from aiohttp import web

from ._family import SSE, Stream
from ._plan import Injection

__all__ = ["SSE_HEADERS", "drop", "hold", "send_plain", "send_stream"]

SSE_HEADERS: Mapping[str, str] = {"Content-Type": SSE, "Cache-Control": "no-cache"}
JSON = "application/json"
_POLL_S = 0.1
_BANDWIDTH_TICKS_PER_S = 20


def drop(request: web.BaseRequest, *, reset: bool = False) -> web.StreamResponse:
    """Close the connection now; with `reset`, send an RST (SO_LINGER 0) instead of a FIN."""
    transport = request.transport
    if transport is not None:
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return web.Response()


async def hold(request: web.BaseRequest, closing: asyncio.Event, seconds: float | None) -> None:
    """Wait until the client leaves, the simulator shuts down, or `seconds` pass.

    Polls the transport because aiohttp only cancels handlers on disconnection
    when the runner asks for it, and an app built here may run under any runner.
    """
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    while not closing.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        step = _POLL_S if deadline is None else min(_POLL_S, deadline - loop.time())
        if step <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(step):
                await closing.wait()


class _Shaper:
    """Writes body bytes through bandwidth, slicer and byte-limit faults."""

    __slots__ = ("_delay_s", "_limit", "_request", "_resp", "_rate", "_sent", "_step")

    def __init__(
        self, request: web.BaseRequest, resp: web.StreamResponse, injection: Injection, limit: int | None
    ) -> None:
        self._request = request
        self._resp = resp
        self._rate = injection.bytes_per_second
        self._delay_s = injection.slice_delay_s
        self._limit = limit
        self._sent = 0
        steps = [s for s in (injection.slice_size,) if s is not None]
        if self._rate is not None:
            steps.append(max(1, self._rate // _BANDWIDTH_TICKS_PER_S))
        self._step = min(steps) if steps else None

    async def write(self, data: bytes) -> bool:
        """Write `data`; False once the connection is gone (cut here, or by the client)."""
        cut = False
        if self._limit is not None and self._sent + len(data) > self._limit:
            data = data[: self._limit - self._sent]
            cut = True
        try:
            step = self._step or len(data) or 1
            for start in range(0, len(data), step):
                piece = data[start : start + step]
                await self._resp.write(piece)
                self._sent += len(piece)
                if self._rate is not None:
                    await asyncio.sleep(len(piece) / self._rate)
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
        except ConnectionError:
            return False
        if cut:
            drop(self._request)
            return False
        return True


async def send_plain(
    request: web.BaseRequest,
    status: int,
    body: bytes,
    injection: Injection,
    *,
    headers: Mapping[str, str] | None = None,
    cut: bool = False,
) -> web.StreamResponse:
    """A JSON body, possibly shaped; `cut` closes the connection halfway through the body."""
    limit = injection.limit_bytes
    if cut:
        limit = min(len(body) // 2, limit if limit is not None else len(body))
    if limit is None and not injection.shapes_wire:
        return web.Response(status=status, body=body, headers=headers, content_type=JSON)
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_type = JSON
    if injection.slow_close_s:
        # No Content-Length: the client must wait for the end of the chunked body,
        # which is sent only after the delay, so the slow close is observable.
        resp.force_close()
    else:
        resp.content_length = len(body)
    await resp.prepare(request)
    if not await _Shaper(request, resp, injection, limit).write(body):
        return resp
    return await _finish(resp, injection)


async def send_stream(
    request: web.BaseRequest, stream: Stream, injection: Injection | None, malformed_event: bytes
) -> web.StreamResponse:
    """Streamed events, one write per event, so each reaches the client as it is produced.

    A cut stream never sends its final event (OpenAI's `[DONE]`, Anthropic's
    `message_stop`, Gemini's chunk with `finishReason`), whatever N is: a client
    must see the stream as broken, not as complete. `malformed_event` follows
    the first event and looks like its family's events, but is not JSON.
    """
    headers = SSE_HEADERS if stream.content_type == SSE else {**SSE_HEADERS, "Content-Type": stream.content_type}
    resp = web.StreamResponse(status=200, headers=headers)
    if injection is None:
        await resp.prepare(request)
        try:
            for event in stream.events:
                await resp.write(event)
            await resp.write_eof()
        except ConnectionError:
            pass  # the client left; aiohttp's own cleanup handles the connection
        return resp
    if injection.slow_close_s:
        resp.force_close()
    await resp.prepare(request)
    shaper = _Shaper(request, resp, injection, injection.limit_bytes)
    cut_after = injection.cut_after
    events = iter(stream.events)
    following = next(events, None)
    written = 0
    while following is not None:
        event, following = following, next(events, None)
        if cut_after is not None and (written >= cut_after or following is None):
            drop(request)
            return resp
        if written and injection.chunk_delay_s:
            await asyncio.sleep(injection.chunk_delay_s)
        if not await shaper.write(event):
            return resp
        if written == 0 and injection.malformed and not await shaper.write(malformed_event):
            return resp
        written += 1
    return await _finish(resp, injection)


async def _finish(resp: web.StreamResponse, injection: Injection) -> web.StreamResponse:
    try:
        if injection.slow_close_s:
            await asyncio.sleep(injection.slow_close_s)
        await resp.write_eof()
    except ConnectionError:
        pass
    return resp
