"""Helpers for notification tests: a real HTTP receiver, a wall clock tests move, a known jitter, an incident."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from releve.store import Component, ComponentKind, ComponentStatus, Impact, Incident, Store, Text

NAME = Text(fr="Support client", en="Customer support")
BODY = Text(fr="Nous enquêtons sur des erreurs.", en="We are investigating errors.")
COMPONENT = "process:customer-support"
SECRET = "s3cret-s3cret-s3cret"


class WallClock:
    """Aware UTC wall time that moves only when a test says so."""

    def __init__(self, start: datetime = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class MaxJitter(random.Random):
    """Full jitter that always draws its ceiling, so each backoff is known in advance."""

    def uniform(self, a: float, b: float) -> float:
        return b


def open_incident(store: Store, at: datetime, channels: Sequence[str], impact: Impact = Impact.MAJOR) -> Incident:
    """An outage of the support process (major by default), detected 45 s after it began."""
    store.sync_components([Component(id=COMPONENT, kind=ComponentKind.PROCESS, name=NAME,
                                     status=ComponentStatus.OPERATIONAL, updated_at=at)])
    return store.open_incident(name=NAME, body=BODY, impact=impact, components=[COMPONENT],
                               affected=[(COMPONENT, ComponentStatus.MAJOR_OUTAGE)], at=at, automatic=True,
                               started_at=at - timedelta(seconds=45), channels=channels)


def closed_port() -> int:
    """A port nothing listens on (bound then released), for "receiver down"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class Received:
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """Answers each POST with the next scripted status (200 once the script is spent)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.headers: dict[str, str] = {}   # added to every answer (Retry-After…)
        self.delay = 0.0                     # seconds before answering
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

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path_qs, dict(request.headers), await request.read()))
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        return web.Response(status=status, headers=self.headers, text="ok")
