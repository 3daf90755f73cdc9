"""Serving an `App` with uvicorn (uvloop, httptools), in the foreground or in a thread.

The thread form binds its socket before starting, so a test or the demo
knows the port with no race; `releve up` uses the foreground form.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from releve.app import App

__all__ = ["GatewayThread", "bind_socket", "serve"]

logger = logging.getLogger("releve.server")


def bind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_config(app: App) -> uvicorn.Config:
    server = app.config.server
    return uvicorn.Config(
        app, host=server.host, port=server.port, loop="uvloop", http="httptools", lifespan="on",
        access_log=False, log_config=None, server_header=False, date_header=False,
        timeout_graceful_shutdown=int(server.shutdown_grace) or None, backlog=2048,
    )


async def serve(app: App, sock: socket.socket | None = None) -> None:
    server = uvicorn.Server(_uvicorn_config(app))
    await server.serve(sockets=[sock] if sock is not None else None)


class GatewayThread:
    """The gateway in a background thread with its own loop (tests, the demo)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._sock = bind_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(_uvicorn_config(app))
        self._thread = threading.Thread(target=self._run, name="releve-gateway", daemon=True)

    def _run(self) -> None:
        import uvloop

        with contextlib.suppress(Exception):
            uvloop.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout: float = 10.0) -> GatewayThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("the gateway did not start (see the log above)")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> GatewayThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
