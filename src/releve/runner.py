"""`releve up`: logging, the event loop, and one or more server processes."""

from __future__ import annotations

import asyncio
import logging

from releve.config import Config

__all__ = ["run"]

logger = logging.getLogger("releve.runner")


def run(config: Config) -> None:
    from releve.app import build_app
    from releve.gateway import start_log_thread
    from releve.server import bind_socket, serve

    listener = start_log_thread()
    try:
        app = build_app(config)
        sock = bind_socket(config.server.host, config.server.port)
        logger.info("Relève gateway on http://%s (routes: %s)", config.server.listen, ", ".join(config.routes))
        _run_loop(serve(app, sock))
    finally:
        listener.stop()


def _run_loop(main: object) -> None:
    try:
        import uvloop

        uvloop.run(main)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(main)  # type: ignore[arg-type]
