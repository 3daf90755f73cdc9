"""Serving a simulator app on a socket, for the CLI (`run_simulator`) and for `SimulatorThread`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence

from aiohttp import web

from ._app import build_simulator_app
from ._faults import Fault

__all__ = ["run_simulator", "start_runner"]

# Requests still running at shutdown get this long; held ones (hang, blackhole)
# end at once anyway because shutdown sets the simulator's `closing` event.
SHUTDOWN_TIMEOUT_S = 2.0


async def start_runner(
    app: web.Application, *, sock: socket.socket | None = None, host: str = "127.0.0.1", port: int = 0
) -> web.AppRunner:
    """Start serving `app` on `sock` if given, else on `host:port`; the caller cleans the runner up.

    No access log (a benchmark upstream should not format a line per request),
    and handlers are cancelled when their client disconnects.
    """
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site: web.BaseSite = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


async def run_simulator(
    name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    api_key: str | None = None,
    faults: Sequence[Fault] = (),
    seed: int | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve a simulator until cancelled; `ready` gets the bound port (useful with port 0)."""
    app = build_simulator_app(name, api_key=api_key, faults=faults, seed=seed)
    runner = await start_runner(app, host=host, port=port)
    try:
        if ready is not None:
            ready(bound_port(runner))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
