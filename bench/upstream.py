"""A static OpenAI-compatible upstream that must never be the bottleneck.

The benchmark measures what a proxy *adds* to a request, so the upstream has to
be cheaper than anything placed in front of it: a raw asyncio Protocol on uvloop
with httptools' C parser, every answer's bytes built once at start-up, no
framework and no JSON parsing per request (`"stream": true` is found by a byte
search in the body).

It answers:

- `POST /v1/chat/completions`: a fixed chat.completion, or with `stream: true`
  a fixed SSE stream of 10 chunks and `data: [DONE]`, each chunk its own
  HTTP chunk and its own write (so a proxy really relays a stream);
- `GET /healthz`, `GET /v1/models`: for readiness checks;
- `GET /__stats`: how many chat requests it served (the bench compares that
  with what the client sent, so a proxy that answers without forwarding is
  caught);
- `POST /__mode` `{"status": 503, "chunk_delay_ms": 100, "chunks": 100}`: switch
  at run time to a broken primary (every chat request answers that status) or
  to slow streams (`chunks` SSE events, the content event repeated, one every
  `chunk_delay_ms`, then `data: [DONE]`: a stream lasts chunks x delay),
  without restarting anything. A stream already running keeps its mode.

Run: `python -m bench.upstream --port 9001 [--status 503] [--chunk-delay-ms 100] [--chunks 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import deque
from typing import cast

import httptools
import orjson

__all__ = ["CHAT_BODY", "DEFAULT_CHUNKS", "STREAM_EVENTS", "UpstreamState", "main", "serve", "stream_events"]

_CREATED = 1_700_000_000

CHAT_BODY: bytes = orjson.dumps(
    {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion",
        "created": _CREATED,
        "model": "m",
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Bonjour ! Le relais est pris, tout va bien."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23},
    }
)

_WORDS = ["Bonjour", " !", " Le", " relais", " est", " pris", ",", " tout", " va bien."]


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    obj = {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": "m",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DEFAULT_CHUNKS = 10


def stream_events(chunks: int = DEFAULT_CHUNKS) -> list[bytes]:
    """`chunks` SSE events (role, content pieces cycling through the words, finish) then the terminator."""
    chunks = max(2, chunks)
    content = [_chunk({"content": _WORDS[i % len(_WORDS)]}, None) for i in range(chunks - 2)]
    return [_chunk({"role": "assistant", "content": ""}, None), *content, _chunk({}, "stop"), b"data: [DONE]\n\n"]


# 10 chunks (role, 8 content pieces, finish) then the terminator.
STREAM_EVENTS: list[bytes] = stream_events()

_ERROR_BODY = orjson.dumps(
    {"error": {"message": "bench upstream: unavailable on purpose", "type": "server_error", "code": "unavailable"}}
)
_MODELS_BODY = orjson.dumps({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "bench"}]})
_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 429: b"Too Many Requests"}


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    reason = _REASONS.get(status, b"Error" if status >= 400 else b"OK")
    if status in (500, 502, 503, 504):
        reason = {
            500: b"Internal Server Error",
            502: b"Bad Gateway",
            503: b"Service Unavailable",
            504: b"Gateway Timeout",
        }[status]
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, reason, content_type, len(body))
        + body
    )


_CHAT_RESPONSE = _response(200, CHAT_BODY)
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def _stream_writes(events: list[bytes]) -> list[bytes]:
    """One write per event (HTTP chunked), the head with the first, the last chunk with the terminator."""
    writes = [_http_chunk(e) for e in events]
    writes[-1] += b"0\r\n\r\n"
    writes[0] = _STREAM_HEAD + writes[0]
    return writes


_STREAM_CHUNKS = _stream_writes(STREAM_EVENTS)
_HEALTH_RESPONSE = _response(200, b'{"status":"ok"}')
_MODELS_RESPONSE = _response(200, _MODELS_BODY)
_NOT_FOUND = _response(404, b'{"error":{"message":"not found","type":"invalid_request_error","code":null}}')
_BAD_REQUEST = _response(400, b'{"error":{"message":"bad request","type":"invalid_request_error","code":null}}')


class UpstreamState:
    """Counters and the current mode, shared by every connection of the process."""

    __slots__ = ("chat_hits", "chunk_delay", "chunks", "error_response", "status", "stream_hits", "stream_writes")

    def __init__(self, status: int = 200, chunk_delay_ms: float = 0.0, chunks: int = DEFAULT_CHUNKS) -> None:
        self.chat_hits = 0
        self.stream_hits = 0
        self.status = 200
        self.error_response = b""
        self.chunk_delay = 0.0
        self.chunks = DEFAULT_CHUNKS
        self.stream_writes = _STREAM_CHUNKS
        self.set_mode(status, chunk_delay_ms, chunks)

    def set_mode(self, status: int, chunk_delay_ms: float, chunks: int = DEFAULT_CHUNKS) -> None:
        if not 2 <= chunks <= 100_000:
            raise ValueError("chunks must be between 2 and 100000")
        self.status = status
        self.error_response = _response(status, _ERROR_BODY) if status != 200 else b""
        self.chunk_delay = max(0.0, chunk_delay_ms) / 1000.0
        if chunks != self.chunks:
            self.chunks = chunks
            self.stream_writes = _STREAM_CHUNKS if chunks == DEFAULT_CHUNKS else _stream_writes(stream_events(chunks))

    def stats(self) -> bytes:
        return orjson.dumps(
            {
                "chat_hits": self.chat_hits,
                "stream_hits": self.stream_hits,
                "status": self.status,
                "chunk_delay_ms": self.chunk_delay * 1000.0,
                "chunks": self.chunks,
            }
        )


class UpstreamProtocol(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection. Requests are answered in order.

    A client may send its next request while a slow stream is still being
    written (pipelining); such requests wait in `_pending` until it ends.
    """

    __slots__ = (
        "_body",
        "_busy",
        "_closed",
        "_keep_alive",
        "_loop",
        "_method",
        "_parser",
        "_pending",
        "_state",
        "_timer",
        "_transport",
        "_url",
    )

    def __init__(self, state: UpstreamState) -> None:
        self._state = state
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._url = b""
        self._body: list[bytes] = []
        self._method = b""
        self._keep_alive = True
        self._busy = False
        self._closed = False
        self._pending: deque[tuple[bytes, bytes, bytes, bool]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only duck-typed ones.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(_BAD_REQUEST)
                self._transport.close()

    # -- httptools callbacks ----------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = (self._parser.get_method(), self._url, b"".join(self._body), self._parser.should_keep_alive())
        if self._busy:
            self._pending.append(request)
        else:
            self._handle(*request)

    # -- answers -------------------------------------------------------------
    def _handle(self, method: bytes, url: bytes, body: bytes, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        self._keep_alive = keep_alive
        state = self._state
        if url == b"/v1/chat/completions" and method == b"POST":
            state.chat_hits += 1
            if state.status != 200:
                self._finish(state.error_response)
            elif b'"stream":true' in body or b'"stream": true' in body:
                state.stream_hits += 1
                self._stream()
            else:
                self._finish(_CHAT_RESPONSE)
        elif url.startswith(b"/__"):
            self._admin(method, url, body)
        elif url in (b"/healthz", b"/health", b"/"):
            self._finish(_HEALTH_RESPONSE)
        elif url.startswith(b"/v1/models"):
            self._finish(_MODELS_RESPONSE)
        else:
            self._finish(_NOT_FOUND)

    def _admin(self, method: bytes, url: bytes, body: bytes) -> None:
        state = self._state
        if url == b"/__stats":
            self._finish(_response(200, state.stats()))
        elif url == b"/__mode" and method == b"POST":
            try:
                mode = orjson.loads(body or b"{}")
                state.set_mode(
                    int(mode.get("status", 200)),
                    float(mode.get("chunk_delay_ms", 0.0)),
                    int(mode.get("chunks", DEFAULT_CHUNKS)),
                )
            except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
                self._finish(_BAD_REQUEST)
                return
            self._finish(_response(200, state.stats()))
        else:
            self._finish(_NOT_FOUND)

    def _finish(self, data: bytes) -> None:
        """Write a whole answer, then close or serve the next pipelined request."""
        transport = self._transport
        if transport is None or self._closed:
            return
        transport.write(data)
        self._next()

    def _next(self) -> None:
        self._busy = False
        if not self._keep_alive:
            if self._transport is not None:
                self._transport.close()
            return
        if self._pending:
            self._handle(*self._pending.popleft())

    def _stream(self) -> None:
        transport = self._transport
        assert transport is not None
        delay = self._state.chunk_delay
        writes = self._state.stream_writes
        if delay <= 0.0:
            # One write per event: the proxy sees a real sequence of chunks.
            for chunk in writes:
                transport.write(chunk)
            self._next()
            return
        # The first event at once, then the next ones and [DONE] one every `delay`: chunks x delay in all.
        self._busy = True
        transport.write(writes[0])
        start = self._loop.time()  # due times are absolute, so late callbacks do not add up
        self._timer = self._loop.call_at(start + delay, self._stream_step, writes, 1, start, delay)

    def _stream_step(self, writes: list[bytes], index: int, start: float, delay: float) -> None:
        self._timer = None
        if self._closed or self._transport is None:
            return
        self._transport.write(writes[index])
        if index + 1 < len(writes):
            due = start + (index + 1) * delay
            self._timer = self._loop.call_at(due, self._stream_step, writes, index + 1, start, delay)
        else:
            self._next()


async def serve(host: str, port: int, state: UpstreamState) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(state), host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", type=int, default=200, help="answer every chat request with this status")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between stream chunks")
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS, help="SSE events per stream before [DONE]")
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the bench upstream only listens on loopback")
    state = UpstreamState(args.status, args.chunk_delay_ms, args.chunks)
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port, state))
    except ImportError:  # pragma: no cover - uvloop is a project dependency
        asyncio.run(serve(args.host, args.port, state))


if __name__ == "__main__":
    main()
