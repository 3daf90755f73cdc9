"""A simulator on its own thread and event loop, for synchronous tests and tools.

The socket is bound here, before the thread starts, so the port is known and
already accepting connections when `start()` returns: there is no window in
which a test could connect to a port nobody listens on yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import orjson

from ._app import build_simulator_app
from ._faults import Fault, parse_fault
from ._run import start_runner

__all__ = ["SimulatorThread"]

_START_TIMEOUT_S = 10.0
_ADMIN_TIMEOUT_S = 10.0


class SimulatorThread:
    """`with SimulatorThread("openai") as sim:` serves on `sim.base_url` until the block ends."""

    def __init__(
        self,
        name: str = "sim",
        *,
        api_key: str | None = None,
        faults: Sequence[Fault] = (),
        seed: int | None = None,
        port: int = 0,
    ) -> None:
        self.name = name
        self._app = build_simulator_app(name, api_key=api_key, faults=faults, seed=seed)
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """The root URL: what the Anthropic SDK takes as `base_url` and AzureOpenAI as `azure_endpoint`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL an OpenAI client takes as its `base_url`."""
        return f"{self.url}/v1"

    def start(self) -> SimulatorThread:
        """Bind, start serving, and return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("a SimulatorThread can be started only once")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._requested_port))
            sock.listen(1024)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"simulator {self.name!r} did not start within {_START_TIMEOUT_S} s")
        if self._error is not None:
            raise RuntimeError(f"simulator {self.name!r} failed to start") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(stopping.set)
        thread.join(_START_TIMEOUT_S)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # reported to start(), which is waiting on _ready
            self._error = exc
            sock.close()
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        self._stopping = asyncio.Event()
        runner = await start_runner(self._app, sock=sock)
        try:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # Admin API helpers: plain HTTP, so they work from any thread and test the real routes.

    def set_faults(self, *faults: Fault | Mapping[str, Any], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the active faults (mappings are validated here first); returns them as listed."""
        parsed = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]
        payload: dict[str, Any] = {"faults": [f.to_dict() for f in parsed]}
        if seed is not None:
            payload["seed"] = seed
        result: list[dict[str, Any]] = self._call("POST", "/_faults", payload)["faults"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/_faults")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_stats")
        return result

    def reset_stats(self) -> None:
        self._call("POST", "/_stats/reset")

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else orjson.dumps(payload)
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        # An empty ProxyHandler: an http_proxy in the environment must not capture loopback calls.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=_ADMIN_TIMEOUT_S) as response:
                return orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")
            raise ValueError(f"simulator {self.name!r} refused {method} {path}: {exc.code} {detail}") from None
