"""A small gateway for the batch tests: the router in front of the simulators, the Batch API, a runner.

The lead wires `BatchApi` and `BatchRunner` into `app.py`; until then the tests compose their own ASGI
app the way `build_app` does (transports opened in the lifespan, inside the server's loop), and can
restart the runner in that loop, as a restarted gateway would, on the same store.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import openai
import orjson

from releve.asgi import Receive, Scope, Send, send_bytes
from releve.batches import BatchApi, BatchRunner
from releve.clock import MONOTONIC
from releve.config import config_from_mapping
from releve.gateway import ClientAuth, EventBus, Router, build_routes
from releve.gateway.providers import http_transports
from releve.store import Store
from support.gateway import CLIENT_KEY, gateway_config

_T = TypeVar("_T")


class BatchGateway:
    """The ASGI app; `config` is what `GatewayThread` reads its server settings from."""

    def __init__(self, primary_url: str, fallback_url: str, store_url: str, *, background: bool = True,
                 max_file_bytes: int = 10 * 1024 * 1024, **runner: Any) -> None:
        # A long attempt timeout: on a loaded machine a 500 ms one gives up on answers the provider still
        # executes, and the failover then executes the line a second time elsewhere (seen in CI: 203 for 200).
        raw = gateway_config(primary_url, fallback_url, attempt_timeout="5s", timeout="20s")
        # Short rests, so that a provider back up is used again within the test.
        raw["breaker"] = {"consecutive_failures": 3, "open_for": "300ms"}
        self.config = config_from_mapping(raw)
        self._transports = http_transports(self.config.providers)
        self.router = Router(build_routes(self.config, self._transports, MONOTONIC), MONOTONIC, EventBus(1000))
        self.store = Store(store_url)
        self.skipped = timedelta()   # how far the wall clock is moved ahead (expiry tests)
        self._runner_options = {"concurrency": 8, "poll_every": 0.05, "outage_pause": 0.1, "lease_seconds": 2.0,
                                **runner}
        self._background = background
        self.runner = self.new_runner()
        self.api = BatchApi(self.store, auth=ClientAuth(self.config.clients), wall=self.wall,
                            max_file_bytes=max_file_bytes, wake=lambda: self.runner.wake())
        self._loop: asyncio.AbstractEventLoop | None = None

    def wall(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def new_runner(self) -> BatchRunner:
        return BatchRunner(self.store, self.router, wall=self.wall, **self._runner_options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if self.api.handles(scope["path"]):
                await self.api(scope, receive, send)
            else:
                await send_bytes(send, 404, b'{"error": {"message": "not here"}}')

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                for transport in self._transports.values():
                    await transport.start()
                await asyncio.to_thread(self.store.open)
                if self._background:
                    await self.runner.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runner.close()
                self.router.close()
                for transport in self._transports.values():
                    await transport.close()
                await asyncio.to_thread(self.store.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        """Run a coroutine in the gateway's loop (where the transports live) and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def restart_runner(self) -> None:
        """Close the runner and start a new one on the same store: what a gateway restart does to batches."""
        async def restart() -> None:
            await self.runner.close()
            self.runner = self.new_runner()
            await self.runner.start()

        self.call(restart())


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def chat_line(custom_id: str, text: str, model: str = "assistant", **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": text}], **body}}


def submit(client: openai.OpenAI, lines: list[dict[str, Any]], endpoint: str = "/v1/chat/completions",
           **options: Any) -> str:
    """Upload the lines and create a batch; its id."""
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint=endpoint,  # type: ignore[arg-type]
                                 completion_window="24h", **options).id


def wait_for(client: openai.OpenAI, batch_id: str, done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Poll the batch (as a client would) until `done(batch)`; the batch then."""
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if done(batch):
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch.status} ({batch.request_counts}) after {timeout} s")
        time.sleep(0.02)


def finished(batch: Any) -> bool:
    return batch.status in ("completed", "cancelled", "expired", "failed")


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [orjson.loads(line) for line in client.files.content(file_id).content.splitlines()]


def sdk(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        yield client


def raw_request(method: str, url: str, body: bytes | None = None, *, key: str | None = CLIENT_KEY,
                content_type: str = "application/json") -> tuple[int, dict[str, str], Any]:
    """A request the SDK would never send: (status, headers, parsed JSON body)."""
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), orjson.loads(exc.read())
