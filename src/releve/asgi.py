"""The few ASGI moves Relève makes, written by hand for the hot path.

A framework would add routing and request objects we do not need per call;
measured on this hardware, raw ASGI on uvicorn was the fastest inbound stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from releve.errors import InvalidRequest

__all__ = ["JSON_HEADERS", "SSE_HEADERS", "ClientGone", "Receive", "Scope", "Send", "read_body", "send_bytes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = ((b"content-type", b"application/json"),)
SSE_HEADERS = ((b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"))


class ClientGone(Exception):
    """The client disconnected before its request was read."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise _too_large(limit)
            break
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise _too_large(limit)
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _too_large(limit: int) -> InvalidRequest:
    return InvalidRequest(f"Request body is larger than the limit of {limit} bytes (server.max_body_size).",
                          status=413, code="request_too_large")


async def send_bytes(send: Send, status: int, body: bytes,
                     headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]] = JSON_HEADERS) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
