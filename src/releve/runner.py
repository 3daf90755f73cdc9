"""`releve up`: logging, the event loop, and one or several server processes.

With `server.workers: N > 1`, N processes each bind the same port with
SO_REUSEPORT and the kernel spreads connections between them. Each process
has its own breakers and metrics; with `shared_state.url` (Redis) what one
learns about a provider reaches the others within milliseconds, without it
each learns from its own traffic. Every process competes for the store's lead
lease: one of them (on one machine or across replicas) runs the monitor,
notifications and schedules.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Coroutine
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from releve.config import Config

__all__ = ["run"]

logger = logging.getLogger("releve.runner")
_RESTART_PAUSE = 1.0


def run(config: Config) -> None:
    _migrate(config)
    if config.server.workers > 1:
        _supervise(config)
    else:
        _serve_one(config, reuse_port=False)


def _serve_one(config: Config, *, reuse_port: bool) -> None:
    from releve.app import build_app
    from releve.gateway import start_log_thread
    from releve.server import bind_socket, serve

    listener = start_log_thread()
    try:
        from releve.protect import audit_key
        from releve.store import ContentKeys

        app = build_app(config, audit_key=audit_key(os.environ),
                        data_keys=ContentKeys.from_environ(os.environ), environ=os.environ)
        app.freeze_gc = True
        sock = bind_socket(config.server.host, config.server.port, reuse_port=reuse_port)
        logger.info("Relève gateway on http://%s, pid %d (routes: %s)", config.server.listen, os.getpid(),
                    ", ".join(config.routes))
        # uvicorn drains in-flight requests on SIGTERM/SIGINT, then re-raises the signal to the handler
        # it found: make that one a no-op so a clean drain ends with exit status 0, not a traceback.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _drained)
        _run_loop(serve(app, sock))
        logger.info("stopped after draining in-flight requests")
    finally:
        listener.stop()


def _migrate(config: Config) -> None:
    """Bring the store's schema up to date once, before any worker opens it (workers would race)."""
    from releve.store import Store

    store = Store(config.storage.url)
    store.open()
    store.close()


def _drained(signum: int, frame: FrameType | None) -> None:
    return None


def _worker(config: Config) -> None:
    # Out of the terminal's process group: a Ctrl-C reaches the supervisor only, which passes it on
    # once. (Twice would make uvicorn skip the drain and exit at once.)
    os.setpgrp()
    _serve_one(config, reuse_port=True)


def _supervise(config: Config) -> None:
    """Start the workers, restart one that dies, and pass SIGTERM/SIGINT on to all."""
    from releve.gateway import start_log_thread

    if config.server.port == 0:
        raise SystemExit("server.workers > 1 needs a fixed port in server.listen")
    listener = start_log_thread()
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start_worker(index: int) -> BaseProcess:
        process = context.Process(target=_worker, args=(config,), name=f"releve-worker-{index}",
                                  daemon=False)
        process.start()
        return process

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    workers = [start_worker(index) for index in range(config.server.workers)]
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    logger.info("supervising %d workers on %s", len(workers), config.server.listen)
    try:
        while not stopping:
            for index, process in enumerate(workers):
                if not process.is_alive() and not stopping:
                    logger.error("worker pid %s exited with %s; starting another", process.pid, process.exitcode)
                    time.sleep(_RESTART_PAUSE)
                    workers[index] = start_worker(index)
            time.sleep(0.2)
        deadline = time.monotonic() + config.server.shutdown_grace + 5
        for process in workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.stop()


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        import asyncio

        asyncio.run(main)
    else:
        uvloop.run(main)
