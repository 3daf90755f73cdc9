"""The reference proxy: the ceiling a Python gateway can reach on this machine.

A raw ASGI application on uvicorn (uvloop + httptools) that forwards the bytes
of `POST /v1/chat/completions` to the upstream through one shared, pooled,
keep-alive `aiohttp.ClientSession`, and relays streams chunk by chunk. It has
no features at all (no routing, no auth, no failover, no logging), so the gap
between it and Relève is the price of Relève's features, and the gap between it
and the direct upstream is the price of any Python proxy.

Run: `python -m bench.refproxy --port 9100 --upstream http://127.0.0.1:9001/v1`.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import uvicorn

__all__ = ["build_app", "main"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error","code":null}}'
_BAD_GATEWAY = b'{"error":{"message":"upstream unreachable","type":"server_error","code":"bad_gateway"}}'


def build_app(upstream_base: str, max_connections: int = 0) -> ASGIApp:
    """An ASGI app forwarding chat completions to `upstream_base` (ending in /v1).

    `max_connections=0` lets the pool grow with the load (aiohttp's default cap
    of 100 would queue requests past 100 concurrent ones, which is a setting,
    not a cost of proxying).
    """
    url = upstream_base.rstrip("/") + "/chat/completions"
    session: aiohttp.ClientSession | None = None
    forward_headers = {"Content-Type": "application/json"}

    async def lifespan(receive: Receive, send: Send) -> None:
        nonlocal session
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=60),
                    timeout=aiohttp.ClientTimeout(total=60),
                    auto_decompress=False,
                    skip_auto_headers=("User-Agent",),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if session is not None:
                    await session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def read_body(receive: Receive) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] == "POST" and path == "/v1/chat/completions":
            body = await read_body(receive)
            assert session is not None
            try:
                async with session.post(url, data=body, headers=forward_headers) as upstream:
                    content_type = upstream.headers.get("Content-Type", "")
                    if content_type.startswith("text/event-stream"):
                        await send({"type": "http.response.start", "status": upstream.status, "headers": _SSE})
                        async for chunk in upstream.content.iter_any():
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        await send({"type": "http.response.body", "body": b""})
                    else:
                        data = await upstream.read()
                        await send({"type": "http.response.start", "status": upstream.status, "headers": _JSON})
                        await send({"type": "http.response.body", "body": data})
            except (aiohttp.ClientError, TimeoutError):
                await send({"type": "http.response.start", "status": 502, "headers": _JSON})
                await send({"type": "http.response.body", "body": _BAD_GATEWAY})
            return
        if path == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
            return
        await send({"type": "http.response.start", "status": 404, "headers": _JSON})
        await send({"type": "http.response.body", "body": _NOT_FOUND})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="upstream base URL, e.g. http://127.0.0.1:9001/v1")
    args = parser.parse_args(argv)
    uvicorn.run(
        build_app(args.upstream),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=4096,
        proxy_headers=False,  # no X-Forwarded-* rewriting: a feature, not part of the floor cost
    )


if __name__ == "__main__":
    main()
