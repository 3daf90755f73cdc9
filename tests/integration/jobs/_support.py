"""Helpers for the jobs tests: a wall clock tests move, a callback receiver, an ASGI caller, a chat body."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from releve.asgi import Receive, Scope, Send
from releve.notify import verify_signature
from releve.store import Store

CALLBACK_SECRET = "callback-secret-for-tests-0123456789"
CLIENT_KEY = "jobs-client-key"
OTHER_KEY = "other-client-key"
CHAT = "/v1/chat/completions"


def open_store(url: str) -> Store:
    store = Store(url)
    store.open()
    return store


def chat(route: str = "solo", text: str = "Bonjour") -> dict[str, Any]:
    return {"model": route, "messages": [{"role": "user", "content": text}]}


class WallClock:
    """Aware UTC wall time that moves only when a test says so."""

    def __init__(self, start: datetime = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Callback:
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def signed(self, now: datetime) -> bool:
        return verify_signature(CALLBACK_SECRET, self.headers.get("X-Releve-Signature", ""), self.body, now=now)


class CallbackReceiver:
    """An HTTP server on 127.0.0.1 in the test's loop; answers each POST with the next scripted status (then 204)."""

    def __init__(self) -> None:
        self.received: list[Callback] = []
        self.script: list[int] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jobs-done"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Callback(dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=self.script.pop(0) if self.script else 204)


@dataclass(frozen=True)
class AsgiAnswer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def asgi_get(app: Any, path: str, *, key: str | None = CLIENT_KEY, method: str = "GET") -> AsgiAnswer:
    """Call an ASGI handler directly, as uvicorn would, and collect its answer."""
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    scope: Scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    handler_receive: Receive = receive
    handler_send: Send = send
    await app(scope, handler_receive, handler_send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return AsgiAnswer(start["status"], dict(start["headers"]), body)


def upstream_calls(stats: Mapping[str, Any], path: str = CHAT) -> int:
    count: int = stats["by_path"].get(path, 0)
    return count
